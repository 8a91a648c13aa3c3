// The vSphere tests are only as good as their simulator: stock vcsim accepts any login, grants
// every privilege, serves datastore files to anyone and has no QueryChangedDiskAreas. These
// tests prove test/fakes/vcsim refuses what vSphere refuses, over raw SOAP (no engine code).

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import { request } from "node:https";
import { promisify } from "node:util";
import { XMLParser } from "fast-xml-parser";
import { tempDir } from "../helpers/disks";
import { makeGuestDisk } from "../helpers/guest-disk";
import { SeededDisk, startVcsim, Vcsim } from "../helpers/vcsim";

const run = promisify(execFile);
const MiB = 1024 * 1024;
const BLOCK = 64 * 1024;
const MAX_AREAS = 3;

interface Ref {
  type: string;
  value: string;
}

interface Answer {
  status: number;
  /** The <Method>Response's returnval (undefined for a fault). */
  returnval?: any;
  /** The fault's type (NoPermission, InvalidLogin, ...) and its detail. */
  fault?: { type: string; detail: any; message: string };
  cookie?: string;
}

const users = {
  backup: { password: "backup-pw", privileges: ["*"] },
  viewer: { password: "viewer-pw", privileges: ["Datastore.Browse"] },
  nobody: { password: "nobody-pw", privileges: [] },
};

// vSphere's xsi:type prefix is not literally "xsi" (vcsim writes XMLSchema-instance:type), and a
// ManagedObjectReference also has a plain "type": keep the two apart by whether a prefix is there.
const xml = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@",
  parseTagValue: false,
  transformTagName: (name) => name.replace(/^.*:/, ""),
  transformAttributeName: (name) => (name.endsWith(":type") ? "xsiType" : name),
  isArray: (name) => ["changedArea", "privAvailability", "VirtualDevice", "objects", "propSet"].includes(name),
});

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
const ref = (x: any): Ref => ({ type: x["@type"], value: x["#text"] });
const refXml = (tag: string, r: Ref) => `<${tag} type="${r.type}">${esc(r.value)}</${tag}>`;

describe("vcsim fake: as strict as vSphere where stock vcsim is lenient", function () {
  this.timeout(120_000);
  let tmp: { dir: string; remove(): Promise<void> };
  let vcsim: Vcsim;
  let content: Record<string, Ref>;
  let vm0: Ref;
  let guest: { path: string };
  let seeded: SeededDisk;

  const https = (method: string, path: string, headers: Record<string, string> = {}, body?: string) =>
    new Promise<{ status: number; headers: Record<string, any>; body: Buffer }>((resolve, reject) => {
      const req = request({ host: vcsim.host, port: vcsim.port, method, path, headers, ca: vcsim.certificatePem }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      });
      req.once("error", reject);
      req.end(body);
    });

  const soap = async (method: string, self: Ref, args = "", session?: string): Promise<Answer> => {
    const envelope =
      `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">` +
      `<soapenv:Body><${method} xmlns="urn:vim25">${refXml("_this", self)}${args}</${method}></soapenv:Body></soapenv:Envelope>`;
    const headers: Record<string, string> = { "content-type": "text/xml; charset=utf-8", soapaction: "urn:vim25/8.0.1.0" };
    if (session) headers.cookie = `vmware_soap_session=${session}`;
    const res = await https("POST", "/sdk", headers, envelope);
    const body = xml.parse(res.body.toString()).Envelope.Body;
    const cookie = /vmware_soap_session=([^;]+)/.exec(String(res.headers["set-cookie"] ?? ""))?.[1];
    if (body.Fault) {
      const [name, detail] = Object.entries(body.Fault.detail as Record<string, any>)[0];
      return { status: res.status, fault: { type: detail.xsiType ?? name.replace(/Fault$/, ""), detail, message: body.Fault.faultstring ?? "" } };
    }
    return { status: res.status, returnval: body[`${method}Response`]?.returnval, cookie };
  };

  const login = async (user: string, password: string) => soap("Login", content.sessionManager, `<userName>${esc(user)}</userName><password>${esc(password)}</password>`);
  const session = async (user: keyof typeof users) => (await login(user, users[user].password)).cookie!;

  const property = async (obj: Ref, path: string, s: string) => {
    const args = `<specSet><propSet><type>${obj.type}</type><pathSet>${path}</pathSet></propSet><objectSet>${refXml("obj", obj)}</objectSet></specSet><options/>`;
    const answer = await soap("RetrievePropertiesEx", content.propertyCollector, args, s);
    assert.equal(answer.fault, undefined, answer.fault?.message);
    return answer.returnval.objects[0].propSet[0].val;
  };

  const waitForTask = async (task: Ref, s: string) => {
    for (;;) {
      const info = await property(task, "info", s);
      if (info.state === "success") return info.result;
      if (info.state === "error") throw new Error(`task ${task.value} failed: ${JSON.stringify(info.error)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const snapshot = async (vm: Ref, s: string): Promise<Ref> => {
    const answer = await soap("CreateSnapshot_Task", vm, "<name>backup</name><memory>false</memory><quiesce>false</quiesce>", s);
    assert.equal(answer.fault, undefined, answer.fault?.message);
    return ref(await waitForTask(ref(answer.returnval), s));
  };

  const queryChangedDiskAreas = (vm: Ref, snap: Ref | undefined, deviceKey: number, startOffset: number, changeId: string, s: string) =>
    soap(
      "QueryChangedDiskAreas",
      vm,
      `${snap ? refXml("snapshot", snap) : ""}<deviceKey>${deviceKey}</deviceKey><startOffset>${startOffset}</startOffset><changeId>${esc(changeId)}</changeId>`,
      s,
    );

  const findVM = async (name: string, s: string) => ref((await soap("FindByInventoryPath", content.searchIndex, `<inventoryPath>DC0/vm/${name}</inventoryPath>`, s)).returnval);

  /** The 64 KiB blocks that hold any byte of the given [start, start+length) ranges. */
  const blocksOf = (ranges: Array<{ start: number; length: number }>) => {
    const blocks = new Set<number>();
    for (const r of ranges) for (let b = Math.floor(r.start / BLOCK); b * BLOCK < r.start + r.length; b++) blocks.add(b);
    return [...blocks].sort((a, b) => a - b);
  };

  before(async () => {
    tmp = await tempDir("vcsim-strict");
    vcsim = await startVcsim({ users, cbtMaxAreas: MAX_AREAS });
    const serviceContent = (await soap("RetrieveServiceContent", { type: "ServiceInstance", value: "ServiceInstance" })).returnval;
    content = Object.fromEntries(["sessionManager", "searchIndex", "authorizationManager", "propertyCollector"].map((k) => [k, ref(serviceContent[k])]));
    guest = await makeGuestDisk(tmp.dir, { sizeBytes: 256 * MiB, seed: 7, files: 24 });
    seeded = await vcsim.seedDisk("DC0_H0_VM0", guest.path, "raw");
    vm0 = await findVM("DC0_H0_VM0", await session("backup"));
  });

  after(async () => {
    await vcsim?.stop();
    await tmp?.remove();
  });

  it("a wrong password is InvalidLogin, and counted as a failed login", async () => {
    const before = await vcsim.stats();
    const answer = await login("backup", "not-the-password");
    assert.equal(answer.status, 500);
    assert.equal(answer.fault?.type, "InvalidLogin");
    assert.equal(answer.cookie, undefined);
    const after = await vcsim.stats();
    assert.equal(after.failedLogins, before.failedLogins + 1);
    assert.equal(after.logins, before.logins);
    assert.equal((await login("stranger", "anything")).fault?.type, "InvalidLogin", "a user not in -users");
  });

  it("a user without VirtualMachine.State.CreateSnapshot gets NoPermission naming the privilege and the VM, and no snapshot is made", async () => {
    const before = await vcsim.stats();
    const answer = await soap("CreateSnapshot_Task", vm0, "<name>x</name><memory>false</memory><quiesce>false</quiesce>", await session("viewer"));
    assert.equal(answer.fault?.type, "NoPermission");
    assert.equal(answer.fault?.detail.privilegeId, "VirtualMachine.State.CreateSnapshot");
    assert.deepEqual(ref(answer.fault?.detail.object), vm0);
    const after = await vcsim.stats();
    assert.equal(after.snapshots.DC0_H0_VM0, before.snapshots.DC0_H0_VM0);
    assert.equal(after.soapCalls.CreateSnapshot_Task, (before.soapCalls.CreateSnapshot_Task ?? 0) + 1, "the refused call is counted");
  });

  it("HasPrivilegeOnEntities answers from the session's user: false for a privilege it lacks", async () => {
    const viewer = await session("viewer");
    const ask = async (sessionId: string) => {
      const args = `${refXml("entity", vm0)}<sessionId>${sessionId}</sessionId><privId>Datastore.Browse</privId><privId>VirtualMachine.State.CreateSnapshot</privId>`;
      const answer = await soap("HasPrivilegeOnEntities", content.authorizationManager, args, viewer);
      const [entity] = [answer.returnval].flat();
      return Object.fromEntries(entity.privAvailability.map((p: any) => [p.privId, p.isGranted === "true"]));
    };
    assert.deepEqual(await ask(viewer), { "Datastore.Browse": true, "VirtualMachine.State.CreateSnapshot": false });
    assert.deepEqual(await ask(await session("backup")), { "Datastore.Browse": true, "VirtualMachine.State.CreateSnapshot": true });
  });

  it("/folder needs a session cookie (401) and Datastore.Browse (403); with both, a Range GET answers 206", async () => {
    const path = "/folder/DC0_H0_VM0/disk1-flat.vmdk?dcPath=DC0&dsName=LocalDS_0";
    const before = await vcsim.stats();
    assert.equal((await https("GET", path)).status, 401);
    assert.equal((await https("GET", path, { cookie: "vmware_soap_session=made-up" })).status, 401);
    assert.equal((await https("GET", path, { cookie: `vmware_soap_session=${await session("nobody")}` })).status, 403);
    const viewer = await session("viewer");
    assert.equal((await https("PUT", path, { cookie: `vmware_soap_session=${viewer}` }, "x")).status, 403, "PUT needs Datastore.FileManagement");
    const ranged = await https("GET", path, { cookie: `vmware_soap_session=${viewer}`, range: "bytes=0-511" });
    assert.equal(ranged.status, 206);
    const mbr = Buffer.alloc(512);
    const flat = await fs.open(seeded.flatPath, "r");
    await flat.read(mbr, 0, 512, 0).finally(() => flat.close());
    assert.deepEqual(ranged.body, mbr);
    assert.equal(mbr.readUInt16LE(510), 0xaa55, "the guest disk's protective MBR");
    const after = await vcsim.stats();
    assert.equal(after.folderGets, before.folderGets + 4, "refused GETs count too");
    assert.equal(after.folderBytesSent, before.folderBytesSent + 512);
  });

  it('QueryChangedDiskAreas "*" reports exactly the 64 KiB blocks the seeded disk holds data in, paged by -cbt-max-areas', async () => {
    const backup = await session("backup");
    const reconfig = await soap("ReconfigVM_Task", vm0, "<spec><changeTrackingEnabled>true</changeTrackingEnabled></spec>", backup);
    await waitForTask(ref(reconfig.returnval), backup);
    const snap = await snapshot(vm0, backup);
    const devices = await property(snap, "config.hardware.device", backup);
    const disk = devices.VirtualDevice.find((d: any) => Number(d.key) === seeded.deviceKey);
    assert.match(disk.backing.changeId, /^52( [0-9a-f]{2}){7}-[0-9a-f]{2}( [0-9a-f]{2}){7}\/\d+$/);

    const areas: Array<{ start: number; length: number }> = [];
    let calls = 0;
    for (let offset = 0; offset < seeded.capacityBytes; calls++) {
      const answer = await queryChangedDiskAreas(vm0, snap, seeded.deviceKey, offset, "*", backup);
      assert.equal(answer.fault, undefined, answer.fault?.message);
      const info = answer.returnval;
      const page = (info.changedArea ?? []).map((a: any) => ({ start: Number(a.start), length: Number(a.length) }));
      assert.equal(Number(info.startOffset), offset);
      assert.ok(page.length <= MAX_AREAS, `${page.length} areas in one answer`);
      for (const a of page) assert.ok(a.start >= offset && a.start + a.length <= offset + Number(info.length), "areas lie in the span answered");
      areas.push(...page);
      offset += Number(info.length);
    }
    assert.ok(calls > 1, `the answers were paged (${areas.length} areas in ${calls} calls)`);

    const { stdout } = await run("qemu-img", ["map", "-f", "raw", "--output=json", seeded.flatPath]);
    const data = (JSON.parse(stdout) as Array<{ start: number; length: number; data: boolean }>).filter((e) => e.data);
    assert.deepEqual(blocksOf(areas), blocksOf(data));
    await soap("RemoveSnapshot_Task", snap, "<removeChildren>false</removeChildren>", backup);
  });

  it("QueryChangedDiskAreas with an earlier snapshot's changeId reports only the 64 KiB blocks written since", async () => {
    const backup = await session("backup");
    await vcsim.enableChangeTracking("DC0_H0_VM0");
    const changeIdOf = async (snap: Ref) =>
      (await property(snap, "config.hardware.device", backup)).VirtualDevice.find((d: any) => Number(d.key) === seeded.deviceKey).backing.changeId as string;
    const first = await snapshot(vm0, backup);
    // The guest writes 10 bytes at 40 MiB + 100 (a hole until now) and 1 byte at 1 MiB (ext4's superblock).
    const flat = await fs.open(seeded.flatPath, "r+");
    await flat.write(Buffer.from("0123456789"), 0, 10, 40 * MiB + 100);
    await flat.write(Buffer.from([0xff]), 0, 1, 1 * MiB);
    await flat.close();
    const second = await snapshot(vm0, backup);
    const answer = await queryChangedDiskAreas(vm0, second, seeded.deviceKey, 0, await changeIdOf(first), backup);
    assert.equal(answer.fault, undefined, answer.fault?.message);
    const areas = (answer.returnval.changedArea ?? []).map((a: any) => ({ start: Number(a.start), length: Number(a.length) }));
    assert.deepEqual(areas, [
      { start: 1 * MiB, length: BLOCK },
      { start: 40 * MiB, length: BLOCK },
    ]);
    assert.notEqual(await changeIdOf(second), await changeIdOf(first));
  });

  it("QueryChangedDiskAreas without change tracking on the VM is a FileFault", async () => {
    const backup = await session("backup");
    const vm1 = await findVM("DC0_H0_VM1", backup);
    const disk = await vcsim.seedDisk("DC0_H0_VM1", guest.path, "raw");
    const snap = await snapshot(vm1, backup);
    const answer = await queryChangedDiskAreas(vm1, snap, disk.deviceKey, 0, "*", backup);
    assert.equal(answer.fault?.type, "FileFault");
    assert.match(answer.fault!.message, /change tracking is not enabled/);
  });

  it("QueryChangedDiskAreas without a snapshot on a running VM is a FileFault", async () => {
    const backup = await session("backup");
    await vcsim.enableChangeTracking("DC0_H0_VM0");
    const answer = await queryChangedDiskAreas(vm0, undefined, seeded.deviceKey, 0, "*", backup);
    assert.equal(answer.fault?.type, "FileFault");
    assert.equal(answer.fault?.detail.file, seeded.fileName);
  });

  it("QueryChangedDiskAreas refuses a changeId it never issued (InvalidArgument) and a deviceKey that is no disk (NotFound)", async () => {
    const backup = await session("backup");
    await vcsim.enableChangeTracking("DC0_H0_VM0");
    const snap = await snapshot(vm0, backup);
    const made = await queryChangedDiskAreas(vm0, snap, seeded.deviceKey, 0, "52 00 00 00 00 00 00 00-00 00 00 00 00 00 00 00/1", backup);
    assert.equal(made.fault?.type, "InvalidArgument");
    assert.equal(made.fault?.detail.invalidProperty, "changeId");
    const noDisk = await queryChangedDiskAreas(vm0, snap, 4000, 0, "*", backup);
    assert.equal(noDisk.fault?.type, "NotFound");
  });
});
