import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { EngineError } from "../../engine/errors";
import { wrappedArgv } from "../../engine/process/run-child";
import { authFileContent, withAuthFile } from "../../engine/platforms/smb/auth-file";
import { toSmbCredential } from "../../engine/platforms/smb/credential";
import { quoteSmbName } from "../../engine/platforms/smb/quote";
import { smbclientArgs } from "../../engine/platforms/smb/smbclient";
import { sparsePutArgs } from "../../engine/platforms/smb/sparse-put";

const PASSWORD = "Pa ss;w\"ord-7f3a";
const credential = { id: "pvs-cred", username: "svc", password: PASSWORD, domain: "CORP" };
const target = { host: "files.example.com", port: 4445, share: "pvs", dir: ["store", "My Disks"] };
const settings = { operationTimeoutSec: 30, smbclient: "smbclient" };

describe("storage: smbclient and the SMB writer get the password from a private file, never from their argv", () => {
  it("builds an argv with -A <file>, the port, SMB3, a timeout and the directory, but no secret", () => {
    const args = smbclientArgs(target, "/tmp/imageport-smb-x/auth", 'put "a" "b"', settings);
    assert.deepEqual(args, [
      "//files.example.com/pvs",
      "-p", "4445",
      "-m", "SMB3",
      "-A", "/tmp/imageport-smb-x/auth",
      "-t", "30",
      "-D", "store/My Disks",
      "-c", 'put "a" "b"',
    ]);
    const [file, argv] = wrappedArgv("smbclient", args);
    assert.equal(file, "setpriv");
    assert.deepEqual(argv.slice(0, 4), ["--pdeathsig", "SIGKILL", "--", "smbclient"]);
    assert.ok(![file, ...argv].some((a) => a.includes(PASSWORD) || a.includes("svc")));
  });

  it("builds the writer's argv with -A <file>, the port, a timeout, the local file and the encoded URL, but no secret", () => {
    const args = sparsePutArgs(target, "/tmp/imageport-smb-x/auth", "/work/.out 1.vhdx.j.partial", ".out 1.vhdx.j.partial", { operationTimeoutSec: 30, sparsePut: "/x/smb-sparse-put" });
    assert.deepEqual(args, [
      "-A", "/tmp/imageport-smb-x/auth",
      "-p", "4445",
      "-t", "30",
      "/work/.out 1.vhdx.j.partial",
      "smb://files.example.com/pvs/store/My%20Disks/.out%201.vhdx.j.partial",
    ]);
    const [file, argv] = wrappedArgv("/x/smb-sparse-put", args);
    assert.ok(![file, ...argv].some((a) => a.includes(PASSWORD) || a.includes("svc")));
  });

  it("writes the credential to a 0600 file in a 0700 directory and deletes both afterwards", async () => {
    assert.equal(authFileContent(credential), `username=svc\npassword=${PASSWORD}\ndomain=CORP\n`);
    let seen = "";
    await withAuthFile(credential, async (file) => {
      seen = file;
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
      assert.equal(fs.readFileSync(file, "utf8"), authFileContent(credential));
    });
    assert.equal(fs.existsSync(path.dirname(seen)), false);
    await assert.rejects(
      withAuthFile(credential, async (file) => {
        seen = file;
        throw new Error("boom");
      }),
      /boom/,
    );
    assert.equal(fs.existsSync(path.dirname(seen)), false, "removed even when the command fails");
  });

  it("refuses names smbclient cannot quote instead of risking another command", () => {
    assert.equal(quoteSmbName("My Disk (1).vhdx", "smb://h/s/"), '"My Disk (1).vhdx"');
    for (const name of ['a"; del *', "a;b", "*.vhdx", "a?b", "a\\b", "a/b", "a\nb", ""]) {
      assert.throws(() => quoteSmbName(name, "smb://h/s/"), (e: EngineError) => e.code === "SHARE_WRITE_FAILED", name);
    }
  });

  it("accepts only UsernamePassword credentials smbclient's auth file can carry, never echoing the password", () => {
    const uri = "smb://h/s/";
    const expectDenied = (make: () => unknown, why: RegExp) =>
      assert.throws(make, (e: EngineError) => {
        assert.equal(e.code, "SHARE_ACCESS_DENIED");
        assert.match(e.message, why);
        assert.ok(!e.message.includes(" secret"), "no password in the message");
        return true;
      });
    expectDenied(() => toSmbCredential(undefined, uri), /needs a credential/);
    expectDenied(() => toSmbCredential({ id: "k", type: "Aws", fields: {} }, uri), /type Aws.*needs a UsernamePassword/);
    expectDenied(() => toSmbCredential({ id: "k", type: "UsernamePassword", fields: { username: "u", password: " secret" } }, uri), /starts with a space/);
    expectDenied(() => toSmbCredential({ id: "k", type: "UsernamePassword", fields: { username: "u", password: "a\n secret" } }, uri), /line break/);
    expectDenied(() => toSmbCredential({ id: "k", type: "UsernamePassword", fields: { username: "", password: "x" } }, uri), /username/);
    assert.deepEqual(toSmbCredential({ id: "k", type: "UsernamePassword", fields: { username: "u", password: "p", domain: "" } }, uri), {
      id: "k",
      username: "u",
      password: "p",
      domain: undefined,
    });
  });
});
