import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { inspect } from "node:util";
import { EngineError } from "../../engine/errors";
import { openStorage, Storage } from "../../engine/platforms";
import { smbFailure } from "../../engine/platforms/smb/failures";
import { runSmbclient } from "../../engine/platforms/smb/smbclient";
import { writerFailure } from "../../engine/platforms/smb/sparse-put";
import { Samba, startSamba, unixUserName } from "../helpers/samba";

const never = () => new AbortController().signal;
const PASSWORD = "right-Pw-5b1d";
const WRONG = "wrong-Pw-e3c9a7";

/** Everything an error carries: message, stack and the whole cause chain. */
function everything(err: unknown): string {
  let text = inspect(err, { depth: 20, showHidden: true });
  for (let e = err as { cause?: unknown; stack?: string } | undefined; e; e = e.cause as typeof e) text += `\n${e.stack ?? ""}`;
  return text;
}

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

describe("storage (smb): failures come back as coded errors that say what to fix", function () {
  let samba: Samba;
  let shareDir: string;
  let readOnlyDir: string;
  let workDir: string;
  const credential = (password: string) => ({
    id: "pvs-writer",
    type: "UsernamePassword",
    fields: { username: unixUserName(), password },
  });
  const open = (uri: string, password = PASSWORD): Storage => openStorage(uri, credential(password));

  before(async () => {
    shareDir = fs.mkdtempSync(path.join(os.tmpdir(), "smb-share-"));
    readOnlyDir = fs.mkdtempSync(path.join(os.tmpdir(), "smb-ro-"));
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), "smb-work-"));
    samba = await startSamba({
      shares: { pvs: shareDir, archive: { path: readOnlyDir, readOnly: true } },
      users: [{ username: unixUserName(), password: PASSWORD }],
    });
  });

  after(async () => {
    await samba?.stop();
    for (const dir of [shareDir, readOnlyDir, workDir]) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("wrong password -> SHARE_ACCESS_DENIED naming the credential, with the password nowhere in the error", async () => {
    for (const attempt of [
      (s: Storage) => s.probe(never()),
      (s: Storage) => s.stage("x.vhdx", { jobId: "j", workDir, signal: never() }),
      (s: Storage) => s.fetch("x.vhdx", workDir, { signal: never() }),
    ]) {
      await assert.rejects(attempt(open(samba.location("pvs"), WRONG)), (err: EngineError) => {
        assert.equal(err.code, "SHARE_ACCESS_DENIED");
        assert.match(err.message, /credential 'pvs-writer'/);
        assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${samba.port}`));
        assert.equal(everything(err).includes(WRONG), false, "the password leaked into the error");
        return true;
      });
    }
  });

  it("a closed port -> SHARE_UNREACHABLE naming host:port, within a few seconds", async () => {
    const port = await closedPort();
    const started = Date.now();
    await assert.rejects(open(`smb://127.0.0.1:${port}/pvs/`).probe(never()), (err: EngineError) => {
      assert.equal(err.code, "SHARE_UNREACHABLE");
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
      return true;
    });
    assert.ok(Date.now() - started < 3_000, `took ${Date.now() - started} ms`);
  });

  it("smbclient's own report of a refused connection also maps to SHARE_UNREACHABLE", async () => {
    const port = await closedPort();
    const target = { host: "127.0.0.1", port, share: "pvs", dir: [] };
    const cred = { id: "pvs-writer", username: unixUserName(), password: PASSWORD };
    const result = await runSmbclient(target, cred, "ls", { operationTimeoutSec: 5, smbclient: "smbclient" }, { signal: never() });
    assert.equal(result.failure?.phase, "connect", result.output);
    const err = smbFailure(result.failure!, { uri: `smb://127.0.0.1:${port}/pvs/`, target, credential: cred }, {
      doing: "listing",
      notFound: "SHARE_PATH_NOT_FOUND",
      fallback: "SHARE_UNREACHABLE",
    });
    assert.equal(err.code, "SHARE_UNREACHABLE");
    assert.match(err.message, /NT_STATUS_CONNECTION_REFUSED/);
  });

  it("a missing share -> SHARE_PATH_NOT_FOUND naming the share", async () => {
    await assert.rejects(open(samba.location("nosuchshare")).probe(never()), (err: EngineError) => {
      assert.equal(err.code, "SHARE_PATH_NOT_FOUND");
      assert.match(err.message, /share 'nosuchshare' does not exist/);
      return true;
    });
  });

  it("a missing directory in the share -> SHARE_PATH_NOT_FOUND naming the directory", async () => {
    await assert.rejects(open(samba.location("pvs", "no/such/dir")).stage("a.vhdx", { jobId: "j", workDir, signal: never() }), (err: EngineError) => {
      assert.equal(err.code, "SHARE_PATH_NOT_FOUND");
      assert.match(err.message, /directory 'no\/such\/dir' does not exist in the share 'pvs'/);
      return true;
    });
  });

  it("a missing source file -> SOURCE_DISK_NOT_FOUND", async () => {
    await assert.rejects(open(samba.location("pvs")).fetch("nothere.vhdx", workDir, { signal: never() }), (err: EngineError) => err.code === "SOURCE_DISK_NOT_FOUND");
  });

  it("writing to a read-only share -> SHARE_ACCESS_DENIED, and nothing is left behind", async () => {
    const storage = open(samba.location("archive"));
    await storage.probe(never()); // listing is allowed
    const staged = await storage.stage("ro.vhdx", { jobId: "j-ro", workDir, signal: never() });
    fs.writeFileSync(staged.path, "data");
    await assert.rejects(staged.commit({ signal: never() }), (err: EngineError) => {
      assert.equal(err.code, "SHARE_ACCESS_DENIED");
      assert.match(err.message, /credential 'pvs-writer'/);
      return true;
    });
    await staged.discard();
    assert.deepEqual(fs.readdirSync(readOnlyDir), []);
    assert.deepEqual(fs.readdirSync(workDir), []);
  });

  it("the writer's errno reports map to the same codes as smbclient's NT_STATUS", () => {
    const target = { host: "127.0.0.1", port: 4445, share: "pvs", dir: ["store"] };
    const ctx = { uri: "smb://127.0.0.1:4445/pvs/store/", target, credential: { id: "pvs-writer", username: unixUserName(), password: PASSWORD } };
    const op = { doing: "uploading 'a.vhdx' to", name: "a.vhdx", notFound: "SHARE_PATH_NOT_FOUND" as const, fallback: "SHARE_WRITE_FAILED" as const };
    const codeOf = (stderr: string, exit: number | null = 1) => smbFailure(writerFailure(stderr, exit), ctx, op);
    for (const [line, code] of [
      ["error open ECONNREFUSED opening the remote file: Connection refused", "SHARE_UNREACHABLE"],
      ["error write ETIMEDOUT writing 4096 bytes at 0: Connection timed out", "SHARE_UNREACHABLE"],
      ["error open EACCES opening the remote file: Permission denied", "SHARE_ACCESS_DENIED"],
      ["error open EPERM opening the remote file: Operation not permitted", "SHARE_ACCESS_DENIED"],
      ["error open ENOENT opening the remote file: No such file or directory", "SHARE_PATH_NOT_FOUND"],
      ["error write ENOSPC writing 4096 bytes at 0: No space left on device", "SHARE_WRITE_FAILED"],
      ["error open EBUSY opening the remote file: Device or resource busy", "SHARE_WRITE_FAILED"],
      ["error local ENOENT cannot read the local file: No such file or directory", "SHARE_WRITE_FAILED"],
    ] as const) {
      const err = codeOf(`libsmbclient noise\n${line}\n`);
      assert.equal(err.code, code, line);
      assert.match(err.message, /smb:\/\/127\.0\.0\.1:4445\/pvs\/store\//);
    }
    assert.match(codeOf("error open EACCES x: Permission denied").message, /credential 'pvs-writer'/);
    const missing = codeOf("setpriv: failed to execute /x/smb-sparse-put: No such file or directory", 127);
    assert.equal(missing.code, "SHARE_WRITE_FAILED");
    assert.match(missing.message, /scripts\/setup/);
  });

  it("a writer that was never built fails the upload at once with SHARE_WRITE_FAILED saying to run scripts/setup", async () => {
    const storage = openStorage(samba.location("pvs"), credential(PASSWORD), { smb: { sparsePut: "/nonexistent/smb-sparse-put" } });
    for (const attempt of [
      () => storage.stage("x.vhdx", { jobId: "j-nw", workDir, signal: never() }),
      () => storage.writeSmallFile("x.pvp", "data", "j-nw", never()),
    ]) {
      await assert.rejects(attempt(), (err: EngineError) => {
        assert.equal(err.code, "SHARE_WRITE_FAILED");
        assert.match(err.message, /Run scripts\/setup .*gcc and libsmbclient-dev/);
        return true;
      });
    }
    assert.deepEqual(fs.readdirSync(shareDir), []);
  });
});
