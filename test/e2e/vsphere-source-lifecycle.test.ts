import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { DescribeImagesCommand } from "@aws-sdk/client-ec2";
import { qemuCompare, tempDir } from "../helpers/disks";
import { EngineProcess } from "../helpers/engine-process";
import { GuestDisk, makeGuestDisk } from "../helpers/guest-disk";
import { Moto, MOTO_KEYS, MOTO_REGION, startMoto } from "../helpers/moto";
import { REPO_ROOT } from "../helpers/paths";
import { PulumiProject } from "../helpers/pulumi-project";
import { startVcsim, Vcsim } from "../helpers/vcsim";

const PROGRAM = path.join(REPO_ROOT, "test/e2e/programs/vsphere");
const VM = "DC0_H0_VM0";
const MIB = 1024 * 1024;

/**
 * A program that picks a master VM on vCenter with getVirtualMachines, exports its disk and
 * migrates it to an AMI, with the real CLI and engine against the vcsim fake and moto.
 */
describe("a master VM on vCenter through the whole Pulumi lifecycle", function () {
  this.timeout(900_000);
  let moto: Moto;
  let vcsim: Vcsim;
  let engine: EngineProcess;
  let project: PulumiProject;
  let images: { dir: string; remove(): Promise<void> };
  let guest: GuestDisk;

  before(async () => {
    images = await tempDir("vsphere-e2e-");
    for (const sub of ["exports", "staging"]) fs.mkdirSync(path.join(images.dir, sub));
    moto = await startMoto();
    vcsim = await startVcsim({ users: { golden: { password: "vc-e2e-pass", privileges: ["*"] } } });
    guest = await makeGuestDisk(images.dir, { sizeBytes: 48 * MIB, seed: 7, files: 12 });
    await vcsim.seedDisk(VM, guest.path, "raw");
    await vcsim.enableChangeTracking(VM);
    engine = await EngineProcess.start(undefined, { IMAGEPORT_AWS_ENDPOINT_URL: moto.url });
    project = new PulumiProject(PROGRAM);
    await project.init({
      ...engine.providerConfig(),
      "vsphere:imageDir": { value: images.dir },
      "vsphere:host": { value: vcsim.host },
      "vsphere:port": { value: String(vcsim.port) },
      "vsphere:fingerprint": { value: vcsim.sha256Fingerprint },
      "vsphere:user": { value: "golden" },
      "vsphere:password": { value: "vc-e2e-pass", secret: true },
      "vsphere:vmName": { value: VM },
      "vsphere:datastore": { value: "LocalDS_0" },
      "vsphere:region": { value: MOTO_REGION },
      "vsphere:accessKeyId": { value: MOTO_KEYS.accessKeyId },
      "vsphere:secretAccessKey": { value: MOTO_KEYS.secretAccessKey, secret: true },
    });
  });
  after(async () => {
    project?.dispose();
    await engine?.stop();
    await vcsim?.stop();
    await moto?.stop();
    await images?.remove();
  });

  it("up finds the VM by name, exports its disk and migrates it to an AMI, leaving no snapshot on the VM", async () => {
    await project.ok(["up", "--yes"]);
    const outputs = await project.outputs();
    assert.match(String(outputs.vmId), /^vm-\d+$/);
    assert.equal(outputs.changeTracking, true);
    assert.deepEqual((outputs.vmDisks as Array<{ capacityBytes: number }>).map((d) => d.capacityBytes), [48 * MIB]);
    assert.ok(await qemuCompare(guest.path, "raw", path.join(images.dir, "exports/master.vhdx"), "vhdx"), "the export holds the VM's disk");
    assert.match(String(outputs.exportDigest), /^[0-9a-f]{64}$/);
    assert.ok(Number(outputs.sourceBytesRead) < 48 * MIB / 2, "only the allocated areas were read");
    assert.match(String(outputs.imageId), /^ami-/);
    assert.match(String(outputs.masterImagePath), /^XDHyp:\\HostingUnits\\unit-1\\golden-mcs \(ami-[0-9a-f]+\)\.ami$/);
    assert.equal((await vcsim.stats()).snapshots[VM], 0, "every job removed its snapshot");
    assert.match(String(outputs.vsphereVmId), /^vm-\d+$/);
    assert.equal(outputs.vsphereMasterImagePath, "XDHyp:\\HostingUnits\\vsphere-unit\\golden-master.vm\\mcs-base.snapshot");
    assert.equal((await vcsim.stats()).snapshots["golden-master"], 1, "the new master VM has its snapshot");
    assert.ok(fs.existsSync(path.join(vcsim.datastoreDir, "golden-master")), "its disk is in the datastore");
    const state = JSON.stringify(await project.resources());
    assert.ok(!state.includes("vc-e2e-pass"), "the vCenter password is not in the state in plain text");
  });

  /** Jobs that move or make disks (not the listing and inspect jobs refresh and invokes run). */
  async function workJobs(): Promise<number> {
    let n = 0;
    for await (const job of engine.client().jobs.listAll()) if (["export", "prepare", "upload", "createImage"].includes(job.type)) n++;
    return n;
  }

  it("previews and refreshes without changes", async () => {
    await project.ok(["preview", "--expect-no-changes"]);
    await project.ok(["refresh", "--yes", "--expect-no-changes"]);
  });

  it("a new way to trust vCenter (the SHA-1 pin for the SHA-256 one) updates in place, and refresh keeps it", async () => {
    await project.setConfig({ "vsphere:fingerprint": { value: vcsim.sha1Fingerprint } });
    const preview = await project.ok(["preview", "--diff"]);
    assert.doesNotMatch(preview.output, /to replace/, "no export is made again for a TLS setting");
    assert.match(preview.output, /to update/);
    const before = await workJobs();
    await project.ok(["up", "--yes"]);
    await project.ok(["refresh", "--yes", "--expect-no-changes"]);
    await project.ok(["preview", "--expect-no-changes"]);
    assert.equal(await workJobs(), before, "no export, prepare, upload or image job ran again");
  });

  it("destroy removes the exports, the AMI and its snapshot, the master VM made on vSphere, and leaves the source VM as it was", async () => {
    const logins = (await vcsim.stats()).logins;
    await project.ok(["destroy", "--yes"]);
    assert.deepEqual(fs.readdirSync(path.join(images.dir, "exports")), []);
    assert.deepEqual(fs.readdirSync(path.join(images.dir, "staging")), []);
    const amis = await moto.ec2.send(new DescribeImagesCommand({ Owners: ["self"] }));
    assert.deepEqual(amis.Images ?? [], []);
    const stats = await vcsim.stats();
    assert.equal(stats.snapshots[VM], 0);
    assert.equal(stats.snapshots["golden-master"], undefined, "the master VM made by the Image is destroyed");
    assert.ok(!fs.existsSync(path.join(vcsim.datastoreDir, "golden-master")), "with its disk");
    assert.ok(stats.logins >= logins, "destroy may list the VMs again, but changes nothing on vCenter");
  });
});
