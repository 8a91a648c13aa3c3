import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { makeSparseDisk } from "../helpers/disks";
import { fingerprint, JobWorld, SMB_USER, startJobWorld } from "../helpers/job-world";

const MIB = 1024 * 1024;

describe("bad job input gets a clear error and loses nothing", function () {
  this.timeout(120_000);
  let world: JobWorld;
  let sourcePrint: ReturnType<typeof fingerprint>;
  let base: Record<string, unknown>;

  before(async () => {
    world = await startJobWorld();
    const source = join(world.inputDir, "src.vmdk");
    await makeSparseDisk({ path: source, format: "vmdk", virtualSize: 16 * MIB, dataBytes: 4 * MIB, seed: 2 });
    sourcePrint = fingerprint(source);
    base = {
      inputStorageLocation: { location: world.fileLocation(world.inputDir) },
      inputImageFilename: "src.vmdk",
      outputStorageLocation: { location: world.fileLocation(world.outputDir) },
      outputImageFilename: "out.vhdx",
    };
  });
  afterEach(() => {
    assert.deepEqual(fingerprint(join(world.inputDir, "src.vmdk")), sourcePrint, "the source disk is untouched");
    assert.deepEqual(readdirSync(world.outputDir), [], "nothing is written under the output directory");
  });
  after(async () => world?.close());

  /** Submits, expects a 400 and returns {code, fields}. */
  async function refused(type: string, body: object) {
    const before = (await world.engine.api("GET", "/ips/jobs")).json.items.length;
    const res = await world.submit(type, body);
    assert.equal(res.status, 400, JSON.stringify(res.json));
    const after = (await world.engine.api("GET", "/ips/jobs")).json.items.length;
    assert.equal(after, before, "a refused request creates no job");
    return { code: res.json.error.code as string, message: res.json.error.message as string, fields: res.json.error.fields as { field: string; message: string }[] };
  }

  it("refuses an unknown credential id at submission, naming the field", async () => {
    const e = await refused("export", { ...base, outputStorageLocation: { location: world.smbLocation(), credentialId: "nope" } });
    assert.equal(e.code, "VALIDATION_FAILED");
    assert.deepEqual(e.fields.map((f) => f.field), ["outputStorageLocation.credentialId"]);
    assert.match(e.fields[0]!.message, /'nope'.*does not exist/);
  });

  it("refuses a missing local source disk at submission", async () => {
    const e = await refused("export", { ...base, inputImageFilename: "missing.vmdk" });
    assert.deepEqual(e.fields.map((f) => f.field), ["inputImageFilename"]);
    assert.match(e.fields[0]!.message, /missing\.vmdk.*does not exist/);
  });

  it("refuses unsupported formats, listing the allowed ones", async () => {
    const bad = await refused("export", { ...base, outputImageFormat: "vmdk" });
    assert.equal(bad.fields[0]!.field, "outputImageFormat");
    assert.match(bad.fields[0]!.message, /vhd, vhdx/);
    const unknownInput = await refused("export", { ...base, inputImageFilename: "src.vdi" });
    assert.equal(unknownInput.fields[0]!.field, "inputImageFormat");
    assert.match(unknownInput.fields[0]!.message, /raw, qcow2, vmdk, vhd, vhdx/);
  });

  it("refuses a share path with '..' and a file name with a slash", async () => {
    const dots = await refused("export", { ...base, outputStorageLocation: { location: world.smbLocation("a/../b/"), credentialId: "smb" } });
    assert.equal(dots.fields[0]!.field, "outputStorageLocation.location");
    assert.match(dots.fields[0]!.message, /\.\./);
    const slash = await refused("export", { ...base, outputImageFilename: "sub/out.vhdx" });
    assert.equal(slash.fields[0]!.field, "outputImageFilename");
  });

  it("refuses the preparation options that need a VM, saying imageport prepares without one", async () => {
    const e = await refused("prepare", { ...base, provisioningType: "Mcs", ceVmSku: "Standard_D4s_v5", networkIsolation: true, networkTags: ["ips"], prefix: "ce" });
    assert.equal(e.code, "UNSUPPORTED_OPTION");
    assert.deepEqual(e.fields.map((f) => f.field).sort(), ["ceVmSku", "networkIsolation", "networkTags", "prefix"]);
    assert.match(e.message, /without any VM/);
  });

  it("refuses preparation options that are malformed or do not fit the provisioning type, naming each field", async () => {
    const e = await refused("prepare", {
      ...base,
      provisioningType: "Mcs",
      xdReconfigure: [
        { ParameterName: "controllers", ParameterValue: "ddc1.example.com; rm -rf /" },
        { ParameterName: "portnumber", ParameterValue: "70000" },
        { ParameterName: "listOfSids", ParameterValue: "S-1-5" },
      ],
      installPvs: "2203",
      pvsInstaller: "PVS_Device_x64.msi",
      misaInstaller: "misa.msi",
    });
    assert.equal(e.code, "VALIDATION_FAILED");
    assert.deepEqual(e.fields.map((f) => f.field).sort(), [
      "installPvs",
      "installerStorageLocation",
      "misaInstaller",
      "xdReconfigure[0].ParameterValue",
      "xdReconfigure[1].ParameterValue",
      "xdReconfigure[2].ParameterName",
    ]);
    const skip = await refused("prepare", { ...base, provisioningType: "Pvs", skipGuestPreparation: true, domainUnjoin: true });
    assert.deepEqual(skip.fields.map((f) => f.field), ["domainUnjoin"]);
  });

  it("validates a dry run without creating a job", async () => {
    const res = await world.submit("export", base, "?dryRun=true");
    assert.equal(res.status, 200);
    assert.equal(res.json.valid, true);
    assert.equal((await world.engine.api("GET", "/ips/jobs")).json.items.length, 0, "no job was created");
  });

  it("fails the job with SHARE_UNREACHABLE when the SMB host does not answer", async () => {
    const job = await world.run("export", { ...base, outputStorageLocation: { location: "smb://127.0.0.1:1/images/", credentialId: "smb" } });
    assert.equal(job.status, "failed");
    assert.equal(job.error?.code, "SHARE_UNREACHABLE");
    assert.match(job.error!.message, /127\.0\.0\.1:1/);
    const cancel = await world.engine.api("DELETE", `/ips/jobs/${job.id}`);
    assert.equal(cancel.status, 409, "a finished job cannot be cancelled");
    assert.equal(cancel.json.error.code, "JOB_NOT_CANCELLABLE");
  });

  it("fails the job with SHARE_ACCESS_DENIED on a wrong SMB password, without echoing it", async () => {
    const put = await world.engine.api("POST", "/ips/credentials", { id: "smb-wrong", type: "UsernamePassword", username: SMB_USER.username, password: "Wrong-canary-55e1" });
    assert.equal(put.status, 201);
    const job = await world.run("export", { ...base, outputStorageLocation: { location: world.smbLocation(), credentialId: "smb-wrong" } });
    assert.equal(job.status, "failed");
    assert.equal(job.error?.code, "SHARE_ACCESS_DENIED");
    assert.match(job.error!.message, /smb-wrong/);
    assert.ok(!JSON.stringify(job).includes("Wrong-canary-55e1"));
  });

  it("fails the job with SOURCE_DISK_NOT_FOUND when the input is missing on a share", async () => {
    const job = await world.run("export", { ...base, inputStorageLocation: { location: world.smbLocation(), credentialId: "smb" }, inputImageFilename: "absent.vhdx" });
    assert.equal(job.status, "failed");
    assert.equal(job.error?.code, "SOURCE_DISK_NOT_FOUND");
    assert.match(job.error!.message, /absent\.vhdx/);
  });

});
