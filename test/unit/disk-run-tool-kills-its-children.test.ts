import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { KILL_GRACE_MS, runTool, ToolError } from "../../engine/disk";

/** Running, and not merely a zombie waiting for a reaper. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

async function waitUntil(condition: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (condition()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return condition();
}

describe("disk: runTool runs tools that stop when told and die with the engine", () => {
  const never = new AbortController().signal;

  it("returns stdout and stderr of a successful run, or streams stdout when asked", async () => {
    const r = await runTool("sh", ["-c", "echo out; echo err >&2"], { signal: never });
    assert.equal(r.stdout, "out\n");
    assert.equal(r.stderr, "err\n");
    let streamed = "";
    const s = await runTool("sh", ["-c", "echo a; echo b"], { signal: never, onStdout: (c) => (streamed += c) });
    assert.equal(streamed, "a\nb\n");
    assert.equal(s.stdout, "");
  });

  it("rejects a non-zero exit with a ToolError that carries stderr and the exit code", async () => {
    await assert.rejects(runTool("sh", ["-c", "echo 'first line' >&2; echo second >&2; exit 3"], { signal: never }), (e: unknown) => {
      assert.ok(e instanceof ToolError);
      assert.equal(e.exitCode, 3);
      assert.equal(e.reason, "first line");
      assert.match(e.stderr, /second/);
      assert.equal(e.toolMissing, false);
      return true;
    });
  });

  it("reports a tool that is not installed", async () => {
    await assert.rejects(runTool("no-such-tool-imageport", [], { signal: never }), (e: unknown) => e instanceof ToolError && e.toolMissing);
  });

  it("runs the tool itself under setpriv (same pid) and rejects with the abort reason once it is gone", async () => {
    const ac = new AbortController();
    let pid = 0;
    const started = Date.now();
    const run = runTool("sleep", ["30"], { signal: ac.signal, onSpawn: (p) => (pid = p) });
    assert.ok(await waitUntil(() => pid > 0 && readFileSync(`/proc/${pid}/cmdline`, "utf8").startsWith("sleep"), 2000));
    const reason = new Error("stop now");
    ac.abort(reason);
    await assert.rejects(run, (e) => e === reason);
    assert.ok(Date.now() - started < 2000);
    assert.equal(alive(pid), false);
  });

  it("SIGKILLs a tool that ignores SIGTERM after the grace period", async () => {
    const ac = new AbortController();
    let pid = 0;
    const run = runTool("sh", ["-c", "trap '' TERM; echo ready; exec sleep 30"], {
      signal: ac.signal,
      onSpawn: (p) => (pid = p),
      onStdout: () => ac.abort(new Error("cancelled")),
    });
    const started = Date.now();
    await assert.rejects(run, /cancelled/);
    const took = Date.now() - started;
    assert.ok(took >= KILL_GRACE_MS - 100 && took < 3000, `took ${took} ms`);
    assert.equal(alive(pid), false);
  });

  it("rejects at once when the signal is already aborted", async () => {
    const ac = new AbortController();
    ac.abort(new Error("too late"));
    await assert.rejects(runTool("sleep", ["5"], { signal: ac.signal }), /too late/);
  });

  it("kills the tool when the engine process is SIGKILLed", async function () {
    const spawnModule = path.resolve(__dirname, "../../engine/disk/spawn.js");
    const script =
      `const { runTool } = require(${JSON.stringify(spawnModule)});` +
      `runTool("sleep", ["30"], { signal: new AbortController().signal, onSpawn: (pid) => console.log(pid) }).catch(() => {});`;
    const engine = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    const pid = await new Promise<number>((resolve, reject) => {
      engine.stdout.once("data", (d: Buffer) => resolve(Number(d.toString().trim())));
      engine.once("exit", () => reject(new Error("engine stand-in exited early")));
    });
    assert.ok(alive(pid));
    engine.kill("SIGKILL");
    assert.ok(await waitUntil(() => !alive(pid), 3000), "the tool outlived the engine");
  });
});
