import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

// `imageport serve` through the committed bin script, as a user runs it.
const BIN = resolve(__dirname, "../../../bin/imageport");

describe("engine: imageport serve", function () {
  this.timeout(15_000);
  let dataDir: string;
  beforeEach(() => (dataDir = mkdtempSync(join(tmpdir(), "imageport-cli-"))));
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`prints its URL, serves requests and stops cleanly on ${signal}`, async () => {
      const child = spawn(BIN, ["serve", "--data", dataDir, "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
      const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
      try {
        let stdout = "";
        const line = await new Promise<string>((done, fail) => {
          const timer = setTimeout(() => fail(new Error(`no listening line; stdout: ${stdout}`)), 10_000);
          child.stdout.on("data", (chunk: Buffer) => {
            stdout += chunk.toString();
            if (stdout.includes("\n")) {
              clearTimeout(timer);
              done(stdout.split("\n")[0]!);
            }
          });
          child.on("exit", (code) => fail(new Error(`exited early with ${code}`)));
        });
        const match = /^imageportd listening on (http:\/\/127\.0\.0\.1:\d+) \(data: (.+)\)$/.exec(line);
        assert.ok(match, line);
        assert.equal(match[2], dataDir);
        const res = await fetch(`${match[1]}/healthz`);
        assert.equal(res.status, 200);
      } finally {
        child.kill(signal);
      }
      assert.equal(await exited, 0);
    });
  }

  it("refuses an invalid port with a message and exit code 1", async () => {
    const child = spawn(BIN, ["serve", "--data", dataDir, "--port", "http"], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((done) => child.on("exit", done));
    assert.equal(code, 1);
    assert.match(stderr, /port/);
  });
});
