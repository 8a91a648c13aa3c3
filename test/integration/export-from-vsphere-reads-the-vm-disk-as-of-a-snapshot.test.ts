// $export with a vSphere input, against the vSphere simulator (test/fakes/vcsim): a VM whose
// disk holds a real GPT + ext4 guest disk is exported to VHDX on the Samba share and to a
// directory; the output is identical to the guest disk, only the allocated areas are read when
// changed-block tracking is on, and the job's snapshot is gone afterwards whatever happened.
// TLS is judged before any login; bad input fails with codes and leaves vCenter as it was.

import * as assert from "node:assert/strict";
import { recomputeBlockDigest } from "../helpers/block-digest-oracle";
import { createHash } from "node:crypto";
import { readFileSync, renameSync, openSync, readSync, closeSync, statSync, truncateSync, existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Job } from "../../client/jobs";
import { makeGuestDisk, GuestDisk } from "../helpers/guest-disk";
import { execFileSync } from "node:child_process";
import { qemuCompare } from "../helpers/disks";
import { JobWorld, startJobWorld } from "../helpers/job-world";
import { startVcsim, Vcsim, SeededDisk } from "../helpers/vcsim";

const MIB = 1024 * 1024;
const VM = "DC0_H0_VM0";
const OTHER_VM = "DC0_H0_VM1";
const PASSWORD = "vc-pass-canary-41d2";
/** The AWS SMS connector's vCenter privileges (its user guide), nothing more. */
const SMS_PRIVILEGES = ["Datastore.Browse", "Datastore.FileManagement", "VirtualMachine.State.CreateSnapshot", "VirtualMachine.State.RemoveSnapshot", "VApp.Export"];

describe("$export from vSphere reads the VM's disk as of a snapshot", function () {
  this.timeout(180_000);
  let world: JobWorld;
  let vcsim: Vcsim;
  let guest: GuestDisk;
  let seeded: SeededDisk;
  let untracked: SeededDisk;
  /** The VM's flat extent file: bytes it holds data for, and those rounded out to CBT's 64 KiB blocks. */
  let allocated: { exact: number; cbtBlocks: number };
  let n = 0;

  before(async () => {
    world = await startJobWorld();
    vcsim = await startVcsim({
      users: {
        admin: { password: PASSWORD, privileges: ["*"] },
        sms: { password: PASSWORD, privileges: SMS_PRIVILEGES },
        nosnapshot: { password: PASSWORD, privileges: ["Datastore.Browse", "VirtualMachine.State.RemoveSnapshot"] },
      },
      cbtMaxAreas: 8,
    });
    guest = await makeGuestDisk(world.root, { sizeBytes: 64 * MIB, seed: 11, files: 24 });
    seeded = await vcsim.seedDisk(VM, guest.path, "raw");
    untracked = await vcsim.seedDisk(OTHER_VM, guest.path, "raw");
    allocated = await dataBytes(seeded.flatPath);
    await vcsim.enableChangeTracking(VM);
    for (const user of ["admin", "sms", "nosnapshot"]) {
      const made = await world.engine.api("POST", "/ips/credentials", { id: `vc-${user}`, type: "UsernamePassword", username: user, password: PASSWORD });
      assert.equal(made.status, 201, made.text);
    }
    const wrong = await world.engine.api("POST", "/ips/credentials", { id: "vc-wrong", type: "UsernamePassword", username: "admin", password: "not-the-password" });
    assert.equal(wrong.status, 201, wrong.text);
  });
  after(async () => {
    await vcsim?.stop();
    await world?.close();
  });

  /** An export of the seeded VM's disk to a new VHDX in the output directory. */
  function exportBody(extra: Record<string, unknown> = {}): Record<string, unknown> {
    n += 1;
    return {
      vsphereHost: vcsim.host,
      vspherePort: vcsim.port,
      vsphereCredentialId: "vc-admin",
      vsphereSslCaCertificate: vcsim.certificatePem,
      sourceVmName: VM,
      outputStorageLocation: { location: world.fileLocation(world.outputDir) },
      outputImageFilename: `vm-${n}.vhdx`,
      ...extra,
    };
  }

  async function snapshotsOf(vm: string): Promise<number> {
    return (await vcsim.stats()).snapshots[vm] ?? 0;
  }

  it("writes a VHDX on the Samba share identical to the VM's disk, reads only its allocated areas, and removes its snapshot", async () => {
    const job = await world.run("export", exportBody({ outputStorageLocation: { location: world.smbLocation(), credentialId: "smb" }, outputImageFilename: "golden.vhdx" }));
    assert.equal(job.status, "complete", JSON.stringify(job.error));
    const output = join(world.shareDir, "golden.vhdx");
    assert.ok(await qemuCompare(guest.path, "raw", output, "vhdx"), "the VHDX holds exactly the VM's disk");
    const artifacts = job.additionalInfo.artifacts as Record<string, any>;
    assert.equal(artifacts.virtualSizeBytes, 64 * MIB);
    assert.equal(artifacts.sourceDisk, `${seeded.fileName} on ${vcsim.host}:${vcsim.port}`);
    assert.equal(artifacts.blockDigest, recomputeBlockDigest(guest.path, 64 * MIB), "the block digest is the documented one, recomputed from the raw bytes");
    assert.equal(artifacts.sha256, undefined, "no full-content hash unless hashDisk asks for it");
    // vCenter reports changed areas in whole tracking blocks (64 KiB here): what it names is what is read.
    assert.equal(artifacts.sourceBytesRead, allocated.cbtBlocks, `read ${artifacts.sourceBytesRead} bytes; allocated ${allocated.exact}, in 64 KiB blocks ${allocated.cbtBlocks}`);
    assert.ok(allocated.cbtBlocks >= allocated.exact);
    assert.ok(artifacts.sourceBytesRead < 64 * MIB / 2, "not the whole disk");
    assert.equal(await snapshotsOf(VM), 0, "the job's snapshot is removed");
    assert.deepEqual(job.warnings, []);
  });

  it("reads the whole disk and skips its zeros when changed-block tracking is off", async () => {
    const job = await world.run("export", exportBody({ sourceVmName: OTHER_VM, outputImageFormat: "vhd", outputDiskType: "fixed", outputImageFilename: "untracked.vhd" }));
    assert.equal(job.status, "complete", JSON.stringify(job.error));
    const artifacts = job.additionalInfo.artifacts as Record<string, any>;
    assert.ok(await qemuCompare(guest.path, "raw", join(world.outputDir, "untracked.vhd"), "vhd"), "the fixed VHD holds exactly the VM's disk");
    assert.equal(artifacts.sourceBytesRead, 64 * MIB, "without tracking the whole disk is read");
    assert.deepEqual(job.warnings, [], "a VM without tracking is no reason to warn");
    assert.equal(await snapshotsOf(OTHER_VM), 0);
  });

  it("lets an account with only the SMS guide's privileges export, reading the whole disk and saying why", async () => {
    const job = await world.run("export", exportBody({ vsphereCredentialId: "vc-sms", hashDisk: true }));
    assert.equal(job.status, "complete", JSON.stringify(job.error));
    const artifacts = job.additionalInfo.artifacts as Record<string, any>;
    assert.ok(await qemuCompare(guest.path, "raw", join(world.outputDir, `vm-${n}.vhdx`), "vhdx"));
    assert.deepEqual(job.warnings.map((w) => w.code), ["CHANGE_TRACKING_UNUSED"], "no DiskRandomRead: the areas cannot be asked for");
    assert.equal(artifacts.sourceBytesRead, 64 * MIB, "the whole disk was read");
    assert.equal(artifacts.sha256, sha256File(guest.path), "hashDisk: the full-content sha256");
    assert.equal(await snapshotsOf(VM), 0);
  });

  describe("dryRun checks vCenter access and privileges without changing anything", () => {
    async function dryRun(body: Record<string, unknown>) {
      const snapshotCalls = (await vcsim.stats()).soapCalls["CreateSnapshot_Task"] ?? 0;
      const res = await world.submit("export", body, "?dryRun=true");
      assert.equal((await vcsim.stats()).soapCalls["CreateSnapshot_Task"] ?? 0, snapshotCalls, "no snapshot taken by a dry run");
      return res;
    }

    it("passes for an account with only the SMS guide's privileges, saying it checked vCenter", async () => {
      const res = await dryRun(exportBody({ vsphereCredentialId: "vc-sms" }));
      assert.equal(res.status, 200, JSON.stringify(res.json));
      assert.equal(res.json.platformChecked, true);
    });

    it("names every missing privilege under vsphereCredentialId", async () => {
      const res = await dryRun(exportBody({ vsphereCredentialId: "vc-nosnapshot" }));
      assert.equal(res.status, 400);
      assert.deepEqual(res.json.error.fields.map((f: { field: string }) => f.field), ["vsphereCredentialId"]);
      assert.match(res.json.error.message, /lacks VirtualMachine\.State\.CreateSnapshot on VM/, "only what is missing is listed as lacking");
    });

    it("names the VM selector for an unknown VM and vsphereHost for an untrusted certificate", async () => {
      const unknown = await dryRun(exportBody({ sourceVmName: "no-such-vm" }));
      assert.equal(unknown.status, 400);
      assert.deepEqual(unknown.json.error.fields.map((f: { field: string }) => f.field), ["sourceVmName"]);
      const untrusted = await dryRun(exportBody({ vsphereSslCaCertificate: undefined }));
      assert.equal(untrusted.status, 400);
      assert.deepEqual(untrusted.json.error.fields.map((f: { field: string }) => f.field), ["vsphereHost"]);
      assert.match(untrusted.json.error.message, /PLATFORM_CERTIFICATE_UNTRUSTED/);
    });
  });

  describe("TLS is judged before any credential is sent", () => {
    async function loginsDuring(body: Record<string, unknown>): Promise<{ job: Job; logins: number }> {
      const before = (await vcsim.stats()).logins;
      const job = await world.run("export", body);
      return { job, logins: (await vcsim.stats()).logins - before };
    }

    it("refuses a certificate that does not match the pinned fingerprint, without logging in", async () => {
      const body = exportBody({ vsphereSslCaCertificate: undefined, vsphereSslFingerprint: "AB".repeat(32) });
      const { job, logins } = await loginsDuring(body);
      assert.equal(job.status, "failed");
      assert.equal(job.error?.code, "PLATFORM_CERTIFICATE_UNTRUSTED");
      assert.match(job.error!.message, /vsphereSslFingerprint/);
      assert.match(job.error!.message, new RegExp(vcsim.sha256Fingerprint));
      assert.equal(logins, 0, "the simulator saw no login");
    });

    it("refuses a certificate from an unknown CA by default, naming the settings that trust it", async () => {
      const { job, logins } = await loginsDuring(exportBody({ vsphereSslCaCertificate: undefined }));
      assert.equal(job.error?.code, "PLATFORM_CERTIFICATE_UNTRUSTED");
      for (const setting of ["vsphereSslCaCertificate", "vsphereSslFingerprint", "vsphereSslNoCheckHostname"]) assert.match(job.error!.message, new RegExp(setting));
      assert.equal(logins, 0);
    });

    for (const kind of ["SHA-1", "SHA-256"] as const) {
      it(`works with the certificate pinned by its ${kind} fingerprint`, async () => {
        const fingerprint = kind === "SHA-1" ? vcsim.sha1Fingerprint : vcsim.sha256Fingerprint.replace(/:/g, "").toLowerCase();
        const { job, logins } = await loginsDuring(exportBody({ vsphereSslCaCertificate: undefined, vsphereSslFingerprint: fingerprint }));
        assert.equal(job.status, "complete", JSON.stringify(job.error));
        assert.equal(logins, 1);
      });
    }
  });

  describe("bad input fails clearly and leaves vCenter as it was", () => {
    async function failsWith(body: Record<string, unknown>, code: string, message: RegExp): Promise<void> {
      const calls = (await vcsim.stats()).soapCalls["CreateSnapshot_Task"] ?? 0;
      const job = await world.run("export", body);
      assert.equal(job.status, "failed");
      assert.equal(job.error?.code, code, job.error?.message);
      assert.match(job.error!.message, message);
      assert.equal(await snapshotsOf(VM), 0, "no snapshot left");
      assert.equal((await vcsim.stats()).soapCalls["CreateSnapshot_Task"] ?? 0, calls, "no snapshot was even attempted");
      assert.ok(!readdirSync(world.outputDir).includes(String(body.outputImageFilename)), "no output");
    }

    it("a wrong password is PLATFORM_ACCESS_DENIED naming the credential field, and never echoed", async () => {
      await failsWith(exportBody({ vsphereCredentialId: "vc-wrong" }), "PLATFORM_ACCESS_DENIED", /InvalidLogin.*vsphereCredentialId/);
      const job = (await world.engine.api("GET", "/ips/jobs?pageSize=1")).text;
      assert.ok(!job.includes("not-the-password") && !job.includes(PASSWORD), "no password in the job");
      const log = readFileSync(join(world.engine.dataDir, "logs", "imageportd.log"), "utf8");
      assert.ok(log.length > 0 && !log.includes("not-the-password") && !log.includes(PASSWORD), "no password in the engine's log");
    });

    it("an unknown VM is SOURCE_DISK_NOT_FOUND naming the field", async () => {
      await failsWith(exportBody({ sourceVmName: "no-such-vm" }), "SOURCE_DISK_NOT_FOUND", /no-such-vm.*sourceVmName/);
      await failsWith(exportBody({ sourceVmName: undefined, sourceVmId: "vm-999999" }), "SOURCE_DISK_NOT_FOUND", /vm-999999.*sourceVmId/);
      await failsWith(exportBody({ sourceVmName: undefined, sourceVmPath: "DC0/vm/nowhere" }), "SOURCE_DISK_NOT_FOUND", /sourceVmPath/);
    });

    it("an unknown disk is SOURCE_DISK_NOT_FOUND listing the VM's disks", async () => {
      await failsWith(exportBody({ sourceDiskName: "Hard disk 9" }), "SOURCE_DISK_NOT_FOUND", /Hard disk 9.*LocalDS_0.*sourceDiskName/);
    });

    it("an account without the snapshot privilege is refused before anything changes, naming the privilege", async () => {
      await failsWith(exportBody({ vsphereCredentialId: "vc-nosnapshot" }), "PLATFORM_ACCESS_DENIED", /VirtualMachine\.State\.CreateSnapshot/);
    });

    it("what the API can judge is a 400 naming each field", async () => {
      const res = await world.submit(
        "export",
        exportBody({ sourceVmId: "vm-1", vsphereSslFingerprint: "12:34", inputImageFilename: "x.raw", vsphereCredentialId: "nobody" }),
      );
      assert.equal(res.status, 400, JSON.stringify(res.json));
      const fields = (res.json.error.fields as Array<{ field: string }>).map((f) => f.field).sort();
      assert.deepEqual(fields, ["inputImageFilename", "sourceVmName", "vsphereCredentialId", "vsphereSslFingerprint", "vsphereSslFingerprint"].sort());
      const none = await world.submit("export", { outputStorageLocation: { location: world.fileLocation(world.outputDir) }, outputImageFilename: "x.vhdx" });
      assert.equal(none.status, 400);
      assert.match(JSON.stringify(none.json), /inputStorageLocation.*vsphereHost/);
    });
  });

  it("a disk whose file is missing from the datastore fails with SOURCE_DISK_NOT_FOUND naming it, and removes its snapshot", async () => {
    renameSync(untracked.descriptorPath, `${untracked.descriptorPath}.away`);
    try {
      const job = await world.run("export", exportBody({ sourceVmName: OTHER_VM }));
      assert.equal(job.error?.code, "SOURCE_DISK_NOT_FOUND", job.error?.message);
      assert.match(job.error!.message, /\[LocalDS_0\] DC0_H0_VM1\/disk1\.vmdk/);
      assert.equal(await snapshotsOf(OTHER_VM), 0);
    } finally {
      renameSync(`${untracked.descriptorPath}.away`, untracked.descriptorPath);
    }
  });

  it("a disk shorter than its descriptor fails mid-read with SOURCE_DISK_UNREADABLE, removes its snapshot and writes nothing", async () => {
    const full = statSync(untracked.flatPath).size;
    truncateSync(untracked.flatPath, 40 * MIB);
    try {
      const body = exportBody({ sourceVmName: OTHER_VM });
      const job = await world.run("export", body);
      assert.equal(job.status, "failed");
      assert.equal(job.error?.code, "SOURCE_DISK_UNREADABLE", job.error?.message);
      assert.equal(await snapshotsOf(OTHER_VM), 0, "the snapshot is removed after the failure");
      assert.ok(!existsSync(join(world.outputDir, String(body.outputImageFilename))));
      assert.deepEqual(readdirSync(world.outputDir).filter((f) => f.includes(".partial")), [], "no partial output");
    } finally {
      truncateSync(untracked.flatPath, full);
    }
  });
});

/** Bytes of data extents in a raw file as `qemu-img map` reports them (SEEK_DATA, as the fake's CBT), exact and in 64 KiB blocks. */
async function dataBytes(path: string): Promise<{ exact: number; cbtBlocks: number }> {
  const map = JSON.parse(execFileSync("qemu-img", ["map", "-f", "raw", "--output=json", path]).toString()) as Array<{ start: number; length: number; data: boolean }>;
  const data = map.filter((e) => e.data);
  const blocks = new Set<number>();
  for (const e of data) for (let b = Math.floor(e.start / 65536); b * 65536 < e.start + e.length; b++) blocks.add(b);
  return { exact: data.reduce((n, e) => n + e.length, 0), cbtBlocks: blocks.size * 65536 };
}

function sha256File(path: string): string {
  const hash = createHash("sha256");
  const fd = openSync(path, "r");
  const buf = Buffer.alloc(4 * MIB);
  try {
    for (let at = 0; ; ) {
      const read = readSync(fd, buf, 0, buf.length, at);
      if (read === 0) break;
      hash.update(buf.subarray(0, read));
      at += read;
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest("hex");
}

