// $createImage on vSphere, against the vSphere simulator (test/fakes/vcsim, whose NFC import
// leases keep what is uploaded, as ESXi does): a real GPT + ext4 guest disk on file:// becomes
// the one disk of a new VM in the folder and resource pool asked for, with a snapshot named as
// asked; read back from the datastore it is identical to the input, and only its data crossed
// the wire. $inspect / $delete {jobId} see and destroy the VM and its files. Bad input fails with
// a code naming the field and leaves vCenter as it was; a cancelled job leaves no VM; after the
// engine is killed mid-upload, the job's retry replaces the VM its first attempt left.

import * as assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { pathToFileURL } from "node:url";
import { Job } from "../../client/jobs";
import { waitForJob } from "../../client/waiter";
import { VsphereClient } from "../../engine/platforms/vsphere/client";
import { asArray, MoRef, text, toMoRef, XmlNode } from "../../engine/platforms/vsphere/soap";
import { qemuCompare } from "../helpers/disks";
import { EngineProcess } from "../helpers/engine-process";
import { GuestDisk, makeGuestDisk } from "../helpers/guest-disk";
import { JobWorld, startJobWorld } from "../helpers/job-world";
import { eventually } from "../helpers/processes";
import { startVcsim, Vcsim } from "../helpers/vcsim";

const MIB = 1024 * 1024;
const SIZE = 64 * MIB;
const PASSWORD = "vc-pass-canary-5e1b";
/** What docs/engine.md says making the image VM needs, nothing more. */
const IMAGE_PRIVILEGES = ["VApp.Import", "Resource.AssignVMToPool", "Datastore.AllocateSpace", "VirtualMachine.Inventory.Delete", "VirtualMachine.State.CreateSnapshot"];
const EXISTING_VM = "DC0_H0_VM0";

interface VmFacts {
  ref: MoRef;
  name: string;
  parent: string;
  resourcePool: string;
  guestId: string;
  numCpus: number;
  memoryMB: number;
  annotation: string;
  disks: string[];
  snapshots: string[];
}

describe("$createImage on vSphere makes a VM with a snapshot from a disk", function () {
  this.timeout(180_000);
  let world: JobWorld;
  let vcsim: Vcsim;
  let guest: GuestDisk;
  let admin: VsphereClient;
  let golden: MoRef;
  let n = 0;
  const signal = () => AbortSignal.timeout(30_000);

  before(async () => {
    world = await startJobWorld();
    vcsim = await startVcsim({
      users: {
        admin: { password: PASSWORD, privileges: ["*"] },
        mcs: { password: PASSWORD, privileges: IMAGE_PRIVILEGES },
        importonly: { password: PASSWORD, privileges: ["VApp.Import", "Datastore.AllocateSpace"] },
      },
    });
    guest = await makeGuestDisk(world.inputDir, { sizeBytes: SIZE, seed: 31, files: 24 });
    for (const user of ["admin", "mcs", "importonly"]) {
      const made = await world.engine.api("POST", "/ips/credentials", { id: `vc-${user}`, type: "UsernamePassword", username: user, password: PASSWORD });
      assert.equal(made.status, 201, made.text);
    }
    admin = new VsphereClient({ host: vcsim.host, port: vcsim.port, username: "admin", password: PASSWORD, tls: { caCertificate: vcsim.certificatePem } });
    await admin.login(signal());
    const vmFolder = (await admin.findByInventoryPath("DC0/vm", signal()))!;
    const made = await admin.transport.call("CreateFolder", vmFolder, { name: "golden" }, signal());
    golden = toMoRef(asArray(made["returnval"] as XmlNode[])[0]);
  });
  after(async () => {
    await admin?.logout();
    await vcsim?.stop();
    await world?.close();
  });

  function imageBody(extra: Record<string, unknown> = {}): Record<string, unknown> {
    n += 1;
    return {
      platform: "vsphere",
      imageName: `golden-${n}`,
      inputStorageLocation: { location: world.fileLocation(world.inputDir) },
      inputImageFilename: basename(guest.path),
      vsphereHost: vcsim.host,
      vspherePort: vcsim.port,
      vsphereCredentialId: "vc-mcs",
      vsphereSslCaCertificate: vcsim.certificatePem,
      vsphereDatastore: "LocalDS_0",
      ...extra,
    };
  }

  /** The VMs of that name, as vCenter lists them. */
  async function vmsNamed(name: string): Promise<MoRef[]> {
    return (await admin.listVms(["name"], signal())).filter((v) => text(v.props["name"]) === name).map((v) => v.obj);
  }

  async function facts(ref: MoRef): Promise<VmFacts> {
    const p = await admin.properties(ref, ["name", "parent", "resourcePool", "config.guestId", "config.hardware.numCPU", "config.hardware.memoryMB", "config.annotation"], signal());
    const summary = await admin.vmSummary(ref, signal());
    return {
      ref,
      name: text(p["name"])!,
      parent: toMoRef(p["parent"]).value,
      resourcePool: toMoRef(p["resourcePool"]).value,
      guestId: text(p["config.guestId"])!,
      numCpus: Number(text(p["config.hardware.numCPU"])),
      memoryMB: Number(text(p["config.hardware.memoryMB"])),
      annotation: text(p["config.annotation"]) ?? "",
      disks: summary.disks.map((d) => d.fileName),
      snapshots: (await admin.snapshots(ref, signal())).map((s) => s.name),
    };
  }

  async function calls(method: string): Promise<number> {
    return (await vcsim.stats()).soapCalls[method] ?? 0;
  }

  it("makes the VM where asked, with one disk that reads back identical to the input and a snapshot named as asked, sending only the data", async () => {
    const before = await vcsim.stats();
    const body = imageBody({ snapshotName: "gold 1", vsphereFolder: "golden", vsphereResourcePool: "DC0_C0", numCpus: 4, memoryMB: 8192, tags: { team: "vdi" } });
    const job = await world.run("createImage", body, 120_000);
    assert.equal(job.status, "complete", JSON.stringify(job.error));
    assert.deepEqual(job.warnings, []);
    const a = job.additionalInfo.artifacts as Record<string, any>;
    const name = String(body.imageName);
    const [vm, ...others] = await vmsNamed(name);
    assert.ok(vm && others.length === 0, "exactly one VM of that name");
    assert.equal(a.platform, "vsphere");
    assert.equal(a.imageId, vm.value);
    assert.equal(a.vmId, vm.value);
    assert.equal(a.imageName, name);
    assert.match(a.snapshotId, /^snapshot-/);
    assert.equal(a.snapshotName, "gold 1");
    assert.equal(a.datastorePath, `[LocalDS_0] ${name}/${name}.vmdk`);
    assert.equal(a.sourceId, world.fileLocation(world.inputDir) + basename(guest.path));
    assert.equal(a.virtualSizeBytes, SIZE);
    assert.equal(a.folder, "DC0/vm/golden");
    assert.equal(a.resourcePool, "DC0/host/DC0_C0/Resources");
    assert.match(a.blockDigest, /^[0-9a-f]{64}$/);
    assert.deepEqual(a.cloudResources, [{ kind: "vm", id: vm.value, name, instanceUuid: a.instanceUuid }]);

    const f = await facts(vm);
    assert.equal(f.parent, golden.value, "in the folder asked for");
    assert.equal(f.resourcePool, toMoRef((await admin.properties((await admin.findByInventoryPath("DC0/host/DC0_C0", signal()))!, ["resourcePool"], signal()))["resourcePool"]).value);
    assert.equal(f.guestId, "windows9_64Guest", "the default guest id");
    assert.equal(f.numCpus, 4);
    assert.equal(f.memoryMB, 8192);
    assert.deepEqual(f.disks, [a.datastorePath], "one disk");
    assert.deepEqual(f.snapshots, ["gold 1"]);
    assert.deepEqual(f.annotation.split("\n"), [`imageport job ${job.id}`, `Made by imageport from ${a.sourceId}.`, "team: vdi"]);

    // Whatever ESXi made of the upload, as qemu-img reads it from the datastore directory.
    const onDisk = join(vcsim.datastoreDir, name, `${name}.vmdk`);
    assert.ok(await qemuCompare(guest.path, "raw", onDisk, "vmdk"), "the datastore disk holds exactly the input");

    const after = await vcsim.stats();
    const sent = after.nfcBytesReceived - before.nfcBytesReceived;
    assert.equal(after.nfcUploads - before.nfcUploads, 1);
    assert.equal(sent, a.bytesUploaded, "what the fake received is what the job says it sent");
    assert.ok(sent < guest.allocatedBytes + MIB, `only the data (deflated) went over the wire: ${sent} bytes for ${guest.allocatedBytes} allocated`);
    assert.ok(sent < SIZE / 8, `far less than the ${SIZE}-byte disk: ${sent}`);
    assert.equal((after.soapCalls["HttpNfcLeaseComplete"] ?? 0) - (before.soapCalls["HttpNfcLeaseComplete"] ?? 0), 1);
    assert.equal((after.soapCalls["HttpNfcLeaseAbort"] ?? 0) - (before.soapCalls["HttpNfcLeaseAbort"] ?? 0), 0);
  });

  it("keeps its import lease alive through an upload that outlasts the lease's timeout", async () => {
    const before = await vcsim.stats();
    // The fake fails an upload that goes on for longer than the lease's timeout without HttpNfcLeaseProgress.
    await vcsim.setNfcLeaseTimeout(2);
    await vcsim.setNfcDelay(20);
    let job: Job;
    const started = Date.now();
    try {
      job = await world.run("createImage", imageBody(), 120_000);
    } finally {
      await vcsim.setNfcDelay(0);
      await vcsim.setNfcLeaseTimeout(0);
    }
    const took = Date.now() - started;
    assert.equal(job.status, "complete", JSON.stringify(job.error));
    const a = job.additionalInfo.artifacts as Record<string, any>;
    assert.ok(took > 4000, `the job outlasted the 2 s lease timeout twice over (${took} ms)`);
    const keepAlives = ((await vcsim.stats()).soapCalls["HttpNfcLeaseProgress"] ?? 0) - (before.soapCalls["HttpNfcLeaseProgress"] ?? 0);
    assert.ok(keepAlives >= 4, `HttpNfcLeaseProgress about every half second: ${keepAlives} calls in ${took} ms`);
    assert.ok(await qemuCompare(guest.path, "raw", join(vcsim.datastoreDir, a.imageName, `${a.imageName}.vmdk`), "vmdk"));
  });

  it("$inspect {jobId} sees the VM; $delete {jobId} destroys it and its files; then both find it gone", async () => {
    const job = await world.run("createImage", imageBody(), 120_000);
    assert.equal(job.status, "complete", JSON.stringify(job.error));
    const a = job.additionalInfo.artifacts as Record<string, any>;
    const dir = join(vcsim.datastoreDir, a.imageName);
    assert.ok(existsSync(dir));

    const inspected = await world.run("inspect", { jobId: job.id });
    assert.equal(inspected.status, "complete", JSON.stringify(inspected.error));
    assert.deepEqual((inspected.additionalInfo.artifacts as any).cloudResources, [{ kind: "vm", id: a.vmId, exists: true, state: "poweredOff" }]);

    const removal = await world.run("delete", { jobId: job.id });
    assert.equal(removal.status, "complete", JSON.stringify(removal.error));
    assert.deepEqual((removal.additionalInfo.artifacts as any).cloudResources, [{ kind: "vm", id: a.vmId, removed: true }]);
    assert.deepEqual(await vmsNamed(a.imageName), [], "the VM is gone");
    assert.ok(!existsSync(dir), `its datastore folder is gone: ${existsSync(dir) ? readdirSync(dir).join(", ") : ""}`);
    assert.equal((await vcsim.stats()).snapshots[a.imageName], undefined, "and its snapshot with it");

    const again = await world.run("inspect", { jobId: job.id });
    assert.deepEqual((again.additionalInfo.artifacts as any).cloudResources, [{ kind: "vm", id: a.vmId, exists: false }]);
    // The delete released the createImage job's token; a second delete names a job that is still complete.
    const twice = await world.run("delete", { jobId: job.id });
    assert.equal(twice.status, "complete", JSON.stringify(twice.error));
    assert.deepEqual((twice.additionalInfo.artifacts as any).cloudResources, [{ kind: "vm", id: a.vmId, removed: false }]);
    assert.deepEqual(twice.warnings.map((w) => w.code), ["RESOURCE_ALREADY_GONE"]);
  });

  describe("bad input fails clearly and leaves vCenter as it was", () => {
    async function failsWith(body: Record<string, unknown>, code: string, message: RegExp): Promise<Job> {
      const before = await vcsim.stats();
      const job = await world.run("createImage", body);
      assert.equal(job.status, "failed");
      assert.equal(job.error?.code, code, job.error?.message);
      assert.match(job.error!.message, message);
      const after = await vcsim.stats();
      assert.equal(after.soapCalls["ImportVApp"] ?? 0, before.soapCalls["ImportVApp"] ?? 0, "no import was even attempted");
      assert.equal(after.soapCalls["Destroy_Task"] ?? 0, before.soapCalls["Destroy_Task"] ?? 0, "nothing was destroyed");
      assert.equal(after.soapCalls["CreateSnapshot_Task"] ?? 0, before.soapCalls["CreateSnapshot_Task"] ?? 0);
      if (body.imageName !== EXISTING_VM) assert.deepEqual(await vmsNamed(String(body.imageName)), [], "no VM of that name");
      return job;
    }

    it("a name another VM has is OUTPUT_EXISTS, and that VM is left alone", async () => {
      const [existing] = await vmsNamed(EXISTING_VM);
      const was = await facts(existing!);
      await failsWith(imageBody({ imageName: EXISTING_VM }), "OUTPUT_EXISTS", new RegExp(`'${EXISTING_VM}' already exists.*${existing!.value}.*imageName`));
      assert.deepEqual(await facts(existing!), was, "the existing VM is as it was");
    });

    it("an unknown datastore, folder or resource pool fails naming its field and listing what exists", async () => {
      await failsWith(imageBody({ vsphereDatastore: "NoSuchDS" }), "PLATFORM_NOT_FOUND", /'NoSuchDS'.*vsphereDatastore.*LocalDS_0/);
      await failsWith(imageBody({ vsphereFolder: "DC0/vm/nowhere" }), "PLATFORM_NOT_FOUND", /'DC0\/vm\/nowhere'.*vsphereFolder/);
      await failsWith(imageBody({ vsphereResourcePool: "DC0/host/nowhere/Resources" }), "PLATFORM_NOT_FOUND", /nowhere.*vsphereResourcePool/);
      await failsWith(imageBody({ vsphereDatacenter: "DC9" }), "PLATFORM_NOT_FOUND", /'DC9'.*vsphereDatacenter.*DC0/);
      await failsWith(imageBody({ vsphereFolder: "DC0/host" }), "PLATFORM_CHOICE_INVALID", /vsphereFolder.*not for VMs/);
    });

    it("an account without the privileges is PLATFORM_ACCESS_DENIED naming each one, before anything is made", async () => {
      const job = await failsWith(imageBody({ vsphereCredentialId: "vc-importonly" }), "PLATFORM_ACCESS_DENIED", /vsphereCredentialId/);
      for (const missing of ["Resource.AssignVMToPool", "VirtualMachine.Inventory.Delete", "VirtualMachine.State.CreateSnapshot"]) assert.match(job.error!.message, new RegExp(missing.replace(/\./g, "\\.")));
      for (const held of ["VApp.Import on", "Datastore.AllocateSpace on"]) assert.ok(!job.error!.message.includes(`lacks ${held}`) && !job.error!.message.includes(`, ${held}`), `${held} is held`);
    });

    it("?dryRun=true makes the same checks live on vCenter, naming the field to fix, and makes nothing", async () => {
      const before = await vcsim.stats();
      const ok = await world.submit("createImage", imageBody(), "?dryRun=true");
      assert.equal(ok.status, 200, JSON.stringify(ok.json));
      assert.equal(ok.json.platformChecked, true);
      const field = async (extra: Record<string, unknown>) => {
        const res = await world.submit("createImage", imageBody(extra), "?dryRun=true");
        assert.equal(res.status, 400, JSON.stringify(res.json));
        return (res.json.error.fields as Array<{ field: string; message: string }>)[0]!;
      };
      assert.match((await field({ vsphereCredentialId: "vc-importonly" })).message, /PLATFORM_ACCESS_DENIED.*Resource\.AssignVMToPool/);
      assert.equal((await field({ vsphereCredentialId: "vc-importonly" })).field, "vsphereCredentialId");
      assert.equal((await field({ imageName: EXISTING_VM })).field, "imageName");
      assert.equal((await field({ vsphereDatastore: "NoSuchDS" })).field, "vsphereDatastore");
      assert.equal((await field({ vsphereResourcePool: "nowhere" })).field, "vsphereResourcePool");
      const after = await vcsim.stats();
      for (const method of ["ImportVApp", "Destroy_Task", "CreateSnapshot_Task"]) assert.equal(after.soapCalls[method] ?? 0, before.soapCalls[method] ?? 0, `no ${method}`);
    });

    it("what the API can judge is a 400 naming each field", async () => {
      const res = await world.submit(
        "createImage",
        imageBody({ imageName: "bad/name", vsphereDatastore: undefined, platformCredentialId: "vc-mcs", region: "us-east-1", memoryMB: 1022, vsphereSslFingerprint: "12:34" }),
      );
      assert.equal(res.status, 400, JSON.stringify(res.json));
      const fields = (res.json.error.fields as Array<{ field: string }>).map((f) => f.field).sort();
      assert.deepEqual(fields, ["imageName", "memoryMB", "platformCredentialId", "region", "vsphereDatastore", "vsphereSslFingerprint", "vsphereSslFingerprint"].sort());
      const aws = await world.submit("createImage", { platform: "aws", platformCredentialId: "vc-mcs", imageName: "golden", region: "us-east-1", snapshotId: "snap-0123456789abcdef0", vsphereDatastore: "LocalDS_0" });
      assert.equal(aws.status, 400);
      assert.match(JSON.stringify(aws.json), /vsphereDatastore.*applies to platform vsphere only/);
    });
  });

  it("cancelled mid-upload, the job aborts the lease and leaves no VM", async () => {
    const body = imageBody();
    const before = await vcsim.stats();
    await vcsim.setNfcDelay(100);
    try {
      const res = await world.submit("createImage", body);
      assert.equal(res.status, 202, JSON.stringify(res.json));
      await eventually("the upload to be under way", 60_000, async () => ((await vcsim.stats()).nfcBytesReceived > before.nfcBytesReceived ? true : undefined));
      assert.equal((await vmsNamed(String(body.imageName))).length, 1, "the import made the VM");
      await world.client.jobs.cancel(res.json.id);
      const job = await world.wait(res.json.id);
      assert.equal(job.status, "cancelled");
    } finally {
      await vcsim.setNfcDelay(0);
    }
    assert.deepEqual(await vmsNamed(String(body.imageName)), [], "no VM is left");
    assert.ok(!existsSync(join(vcsim.datastoreDir, String(body.imageName))), "nor its files");
    assert.equal(await calls("HttpNfcLeaseAbort"), (before.soapCalls["HttpNfcLeaseAbort"] ?? 0) + 1, "the lease was aborted");
  });

  it("after the engine is killed mid-upload, the retry replaces the VM its first attempt left", async () => {
    const root = mkdtempSync(join(tmpdir(), "imageport-vsphere-image-crash-"));
    const dataDir = join(root, "data");
    mkdirSync(dataDir);
    let engine: EngineProcess | undefined;
    const name = "golden-crash";
    try {
      engine = await EngineProcess.start(dataDir);
      await engine.client().credentials.create("vc", { type: "UsernamePassword", username: "mcs", password: PASSWORD });
      const before = await vcsim.stats();
      await vcsim.setNfcDelay(100);
      const job = (await engine.client().jobs.start("createImage", {
        platform: "vsphere",
        imageName: name,
        inputStorageLocation: { location: pathToFileURL(world.inputDir).href + "/" },
        inputImageFilename: basename(guest.path),
        vsphereHost: vcsim.host,
        vspherePort: vcsim.port,
        vsphereCredentialId: "vc",
        vsphereSslFingerprint: vcsim.sha256Fingerprint,
        vsphereDatastore: "LocalDS_0",
      })) as Job;
      await eventually("the upload to be under way", 60_000, async () => ((await vcsim.stats()).nfcBytesReceived > before.nfcBytesReceived ? true : undefined));
      await engine.crash();
      const [left] = await vmsNamed(name);
      assert.ok(left, "the killed attempt left its VM");
      assert.match((await facts(left)).annotation, new RegExp(`^imageport job ${job.id}$`, "m"));

      await vcsim.setNfcDelay(0);
      engine = await EngineProcess.start(dataDir);
      const done = (await waitForJob(engine.client().jobs, job.id, { maxWaitMs: 120_000, minDelayMs: 200, maxDelayMs: 1000 })).last!;
      assert.equal(done.status, "complete", JSON.stringify(done.error));
      assert.equal(done.attempt, 2);
      const vms = await vmsNamed(name);
      assert.equal(vms.length, 1, "one VM of that name");
      assert.notEqual(vms[0]!.value, left.value, "the first attempt's VM was replaced");
      assert.equal((done.additionalInfo.artifacts as Record<string, unknown>).vmId, vms[0]!.value);
      assert.ok(await qemuCompare(guest.path, "raw", join(vcsim.datastoreDir, name, `${name}.vmdk`), "vmdk"));
    } finally {
      await vcsim.setNfcDelay(0);
      await engine?.stop();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
