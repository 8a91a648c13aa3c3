import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { EngineError, ERROR_STATUS, EngineErrorCode, jobFailure } from "../../engine/errors";
import { REPO_ROOT } from "../helpers/paths";

/** Every .ts file under engine/, with its text. */
function engineSources(): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".ts")) out.push({ path, text: readFileSync(path, "utf8") });
    }
  };
  walk(join(REPO_ROOT, "engine"));
  return out;
}

describe("engine error codes: one HTTP status each, and one meaning", () => {
  const codes = Object.keys(ERROR_STATUS) as EngineErrorCode[];
  const sources = engineSources();
  const others = sources.filter((s) => !s.path.endsWith(join("engine", "errors.ts")));

  it("gives every code one status, whichever way the error is made", () => {
    for (const code of codes) {
      assert.ok([400, 401, 403, 404, 409, 413, 415, 422, 429, 500].includes(ERROR_STATUS[code]), code);
      assert.equal(new EngineError(code, "m").status, ERROR_STATUS[code], code);
      assert.equal(jobFailure(code, "m").status, ERROR_STATUS[code], code);
    }
  });

  it("uses every code somewhere (no code the engine never raises)", () => {
    const unused = codes.filter((code) => !others.some((s) => s.text.includes(`"${code}"`)) && !sources.find((s) => s.path.endsWith("errors.ts"))!.text.match(new RegExp(`super\\(\\s*"${code}"|EngineError\\(\\s*"${code}"`)));
    assert.deepEqual(unused, []);
  });

  it("fails jobs only with job codes (422) or the engine's own (500): never a request code such as VALIDATION_FAILED", () => {
    const wrong: string[] = [];
    for (const s of others) {
      for (const m of s.text.matchAll(/jobFailure\(\s*"([A-Z_]+)"/g)) {
        if (![422, 500].includes(ERROR_STATUS[m[1] as EngineErrorCode])) wrong.push(`${s.path.slice(REPO_ROOT.length + 1)}: ${m[1]}`);
      }
    }
    assert.deepEqual(wrong, []);
  });
});
