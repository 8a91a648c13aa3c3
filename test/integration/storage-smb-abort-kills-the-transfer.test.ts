import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { openStorage, Storage } from "../../engine/platforms";
import { withAuthFile } from "../../engine/platforms/smb/auth-file";
import { smbReadArgs } from "../../engine/platforms/smb/remote-file";
import { DEFAULT_SMB_READ, DEFAULT_SPARSE_PUT } from "../../engine/platforms/smb/smb-storage";
import { sparsePutArgs } from "../../engine/platforms/smb/sparse-put";
import { Samba, startSamba, unixUserName } from "../helpers/samba";

const PASSWORD = "abort-test-Pw-91c2e";
const SIZE = 64 * 1024 * 1024;

/** pid, NUL-joined argv and environment of the smbclient, smb-sparse-put and smb-read processes talking to this Samba's port. */
function smbProcesses(port: number): { pid: number; argv: string; environ: string }[] {
  const found = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${entry}/cmdline`, "latin1");
      if (!/smbclient|smb-sparse-put|smb-read/.test(argv) || !argv.includes(`\0-p\0${port}\0`)) continue;
      found.push({ pid: Number(entry), argv, environ: fs.readFileSync(`/proc/${entry}/environ`, "latin1") });
    } catch {
      // exited while we looked
    }
  }
  return found;
}

function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "latin1");
    return !/^\d+ \(.*\) Z/.test(stat); // a zombie is dead, just not reaped yet
  } catch {
    return false;
  }
}

function authDirs(): string[] {
  return fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith("imageport-smb-"));
}

describe("storage (smb): an abort kills the upload; the password never reaches an argv", function () {
  let samba: Samba;
  let shareDir: string;
  let workDir: string;
  let storage: Storage;

  before(async () => {
    shareDir = fs.mkdtempSync(path.join(os.tmpdir(), "smb-share-"));
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), "smb-work-"));
    samba = await startSamba({ shares: { pvs: shareDir }, users: [{ username: unixUserName(), password: PASSWORD }] });
    storage = openStorage(samba.location("pvs"), {
      id: "pvs-writer",
      type: "UsernamePassword",
      fields: { username: unixUserName(), password: PASSWORD },
    });
  });

  after(async () => {
    await samba?.stop();
    fs.rmSync(shareDir, { recursive: true, force: true });
    fs.rmSync(workDir, { recursive: true, force: true });
  });

  it("abort during a 64 MiB upload kills the writer, rejects with the reason and leaves nothing behind", async () => {
    const staged = await storage.stage("big.vhdx", { jobId: "job-abort", workDir, signal: new AbortController().signal });
    fs.writeFileSync(staged.path, randomBytes(SIZE));
    const controller = new AbortController();
    const reason = new Error("cancelled by the test");
    const partial = ".big.vhdx.job-abort.partial";
    let killedPid: number | undefined;
    let remoteBytesAtAbort = -1;
    // Abort the moment the remote partial appears: the writer is then mid-upload.
    const watcher = fs.watch(shareDir, (_event, file) => {
      if (file !== partial || controller.signal.aborted) return;
      killedPid = smbProcesses(samba.port)[0]?.pid;
      remoteBytesAtAbort = fs.statSync(path.join(shareDir, partial), { throwIfNoEntry: false })?.size ?? 0;
      controller.abort(reason);
    });
    try {
      await assert.rejects(staged.commit({ signal: controller.signal }), (err) => err === reason);
    } finally {
      watcher.close();
    }
    assert.ok(killedPid, "the writer was running when the abort came");
    assert.ok(remoteBytesAtAbort < SIZE, `the upload was still in progress (${remoteBytesAtAbort} of ${SIZE} bytes)`);
    assert.equal(alive(killedPid), false, "the writer was killed");
    assert.deepEqual(fs.readdirSync(shareDir), [], "neither the output nor its remote .partial is left");
    await staged.discard();
    assert.deepEqual(fs.readdirSync(workDir), [], "discard removed the local staged file");
  });

  it("an already aborted signal rejects at once with its reason and starts nothing", async () => {
    const staged = await storage.stage("x.vhdx", { jobId: "job-pre", workDir, signal: new AbortController().signal });
    fs.writeFileSync(staged.path, "data");
    const reason = new Error("already cancelled");
    await assert.rejects(staged.commit({ signal: AbortSignal.abort(reason) }), (err) => err === reason);
    await assert.rejects(storage.probe(AbortSignal.abort(reason)), (err) => err === reason);
    await staged.discard();
    assert.deepEqual(fs.readdirSync(shareDir), []);
    assert.deepEqual(fs.readdirSync(workDir), []);
  });

  it("no smbclient or writer argv or environment holds the password, and the auth file is gone afterwards", async () => {
    const dirsBefore = authDirs();
    const staged = await storage.stage("seen.vhdx", { jobId: "job-argv", workDir, signal: new AbortController().signal });
    fs.writeFileSync(staged.path, randomBytes(32 * 1024 * 1024));
    const seen: { pid: number; argv: string; environ: string }[] = [];
    const watcher = fs.watch(shareDir, () => seen.push(...smbProcesses(samba.port)));
    try {
      await staged.commit({ signal: new AbortController().signal, onProgress: () => seen.push(...smbProcesses(samba.port)) });
    } finally {
      watcher.close();
    }
    assert.ok(seen.some((p) => p.argv.includes("smb-sparse-put\0")), "the writer was observed while running");
    for (const p of seen) {
      assert.ok(p.argv.includes("\0-A\0"), "credentials come from an authentication file");
      assert.match(p.argv, /^(setpriv|smbclient|\S*\/smb-sparse-put|\S*\/smb-read)\0/);
      assert.equal(p.argv.includes(PASSWORD), false, "password in argv");
      assert.equal(p.environ.includes(PASSWORD), false, "password in the environment");
    }
    assert.deepEqual(authDirs(), dirsBefore, "the authentication files were deleted");
    assert.equal(fs.statSync(path.join(shareDir, "seen.vhdx")).size, 32 * 1024 * 1024);
  });

  it("the writer prints neither the password nor a wrong one, whether the logon works or is refused", async () => {
    const local = path.join(workDir, "small.bin");
    fs.writeFileSync(local, "data");
    const target = { host: "127.0.0.1", port: samba.port, share: "pvs", dir: [] };
    const settings = { operationTimeoutSec: 10, sparsePut: DEFAULT_SPARSE_PUT };
    for (const [password, status] of [[PASSWORD, 0], ["wrong-Pw-0c4d1", 1]] as const) {
      const result = await withAuthFile({ id: "c", username: unixUserName(), password }, async (authFile) =>
        spawnSync(DEFAULT_SPARSE_PUT, sparsePutArgs(target, authFile, local, "small.bin", settings), { encoding: "utf8" }),
      );
      assert.equal(result.status, status, result.stderr);
      assert.equal(`${result.stdout}${result.stderr}`.includes(password), false, "password in the writer's output");
    }
    assert.equal(fs.readFileSync(path.join(shareDir, "small.bin"), "utf8"), "data");
    fs.rmSync(path.join(shareDir, "small.bin"));
    fs.rmSync(local);
  });

  it("the reader (an input read in place) has no password in its argv or environment, nor in its output, whether the logon works or not", async () => {
    const dirsBefore = authDirs();
    fs.writeFileSync(path.join(shareDir, "in.raw"), randomBytes(1024 * 1024));
    const source = await storage.openInput("in.raw", "raw", workDir, { signal: new AbortController().signal });
    let seen: { pid: number; argv: string; environ: string }[];
    try {
      seen = smbProcesses(samba.port).filter((p) => p.argv.includes("smb-read\0"));
      assert.equal((await source.read(0, 4096, new AbortController().signal)).length, 4096);
    } finally {
      await source.close();
    }
    assert.equal(seen.length, 1, "the reader was observed while the input was open");
    for (const p of seen) {
      assert.ok(p.argv.includes("\0-A\0"), "credentials come from an authentication file");
      assert.equal(p.argv.includes(PASSWORD), false, "password in argv");
      assert.equal(p.environ.includes(PASSWORD), false, "password in the environment");
    }
    assert.deepEqual(authDirs(), dirsBefore, "the authentication file was deleted");

    const ctx = { uri: samba.location("pvs"), target: { host: "127.0.0.1", port: samba.port, share: "pvs", dir: [] }, credential: { id: "c", username: unixUserName(), password: "" } };
    const settings = { operationTimeoutSec: 10, smbRead: DEFAULT_SMB_READ };
    for (const [password, status] of [[PASSWORD, 0], ["wrong-Pw-7a2b9", 1]] as const) {
      const result = await withAuthFile({ id: "c", username: unixUserName(), password }, async (authFile) =>
        spawnSync(DEFAULT_SMB_READ, smbReadArgs(ctx, authFile, "in.raw", settings), { input: "0 16\n" }),
      );
      assert.equal(result.status, status, result.stderr.toString());
      assert.equal(`${result.stdout.toString("latin1")}${result.stderr}`.includes(password), false, "password in the reader's output");
      if (status === 0) assert.match(result.stdout.toString("latin1"), /^size 1048576\ndata 16\n/);
    }
    fs.rmSync(path.join(shareDir, "in.raw"));
  });
});
