import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { extractVolume, GuestImage, LINUX_FACTS, makeLinuxImage, makeWindowsImage, WINDOWS_FACTS } from "../helpers/guest-images";
import { makeSparseDisk } from "../helpers/disks";
import { JobWorld, startJobWorld } from "../helpers/job-world";

// Independent tools read the prepared disks back: ntfscat / ntfsls / ntfsfix (ntfs-3g), hivexget
// and hivexregedit (hivex), debugfs and e2fsck (e2fsprogs). The engine's own tools are not used
// to check their own work.

const sbin = (name: string) => (existsSync(`/usr/sbin/${name}`) ? `/usr/sbin/${name}` : existsSync(`/sbin/${name}`) ? `/sbin/${name}` : name);
const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { maxBuffer: 256 * 1024 * 1024, stdio: ["ignore", "pipe", "pipe"] });
const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

describe("prepare edits the guest offline (Windows on NTFS, Linux on ext4) and reports its facts", function () {
  this.timeout(300_000);
  let world: JobWorld;
  const images: Record<string, GuestImage> = {};
  let installers: string;

  before(async () => {
    world = await startJobWorld();
    const build = join(world.root, "build");
    mkdirSync(build);
    images.winGpt = await makeWindowsImage(build, "win-gpt", { scheme: "gpt", vdaVersion: "2203.0.0.1000" });
    images.winMbr = await makeWindowsImage(build, "win-mbr", { scheme: "mbr", systemReserved: true });
    images.linux = await makeLinuxImage(build, "linux", { scheme: "gpt", vdaVersion: "2311.0.0.13" });
    images.bitlocker = await makeWindowsImage(build, "bitlocker", { scheme: "gpt", bitlocker: true });
    images.corrupt = await makeWindowsImage(build, "corrupt", { scheme: "mbr", corruptHive: true });
    images.dirty = await makeWindowsImage(build, "dirty", { scheme: "mbr", dirty: true });
    for (const [name, image] of Object.entries(images)) sh("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", image.path, join(world.inputDir, `${name}.qcow2`)]);
    await makeSparseDisk({ path: join(world.inputDir, "blank.qcow2"), format: "qcow2", virtualSize: 64 << 20, dataBytes: 4 << 20, seed: 9 });
    installers = join(world.root, "installers");
    mkdirSync(installers);
    writeFileSync(join(installers, "PVS_Device_x64.msi"), Buffer.alloc(64 * 1024, 1));
    writeFileSync(join(installers, "misa.msi"), Buffer.alloc(32 * 1024, 2));
    writeFileSync(join(installers, "pvs-target.deb"), Buffer.alloc(16 * 1024, 3));
  });
  after(async () => world?.close());

  const body = (source: string, output: string, extra: object) => ({
    inputStorageLocation: { location: world.fileLocation(world.inputDir) },
    inputImageFilename: `${source}.qcow2`,
    outputStorageLocation: { location: world.fileLocation(world.outputDir) },
    outputImageFilename: output,
    outputImageFormat: "raw",
    ...extra,
  });

  /** The OS volume of a prepared raw output, copied out for the independent tools. */
  const volumeOf = async (output: string, like: GuestImage) => extractVolume({ ...like, path: join(world.outputDir, output) }, join(world.root, `${output}.volume`));
  const ntfsFile = (volume: string, path: string) => sh("ntfscat", ["-f", volume, path]);
  const hiveValue = (volume: string, hive: string, key: string, name: string) => {
    const file = join(world.root, `hive-${hive}-${Math.random().toString(36).slice(2)}`);
    writeFileSync(file, ntfsFile(volume, `/Windows/System32/config/${hive}`));
    return sh("hivexget", [file, key, name]).toString("utf8").trim();
  };
  const hiveExport = (volume: string, hive: string) => {
    const file = join(world.root, `export-${hive}-${Math.random().toString(36).slice(2)}`);
    writeFileSync(file, ntfsFile(volume, `/Windows/System32/config/${hive}`));
    return sh("hivexregedit", ["--export", "--unsafe-printable-strings", file, "\\"]).toString("utf8");
  };

  it("prepares Windows for MCS: controllers where the VDA reads them, one first-boot script, the facts, and nothing else changed", async () => {
    const sourceHash = sha256(readFileSync(join(world.inputDir, "winGpt.qcow2")));
    const job = await world.run(
      "prepare",
      body("winGpt", "win-mcs.raw", {
        provisioningType: "Mcs",
        xdReconfigure: [
          { ParameterName: "controllers", ParameterValue: "ddc1.corp.example.com ddc2.corp.example.com" },
          { ParameterName: "portnumber", ParameterValue: "8080" },
        ],
        domainUnjoin: true,
        installMisa: true,
        misaInstaller: "misa.msi",
        installerStorageLocation: { location: world.fileLocation(installers) },
      }),
      120_000,
    );
    assert.equal(job.status, "complete", JSON.stringify(job.error));
    assert.deepEqual(job.steps.map((s) => s.name), ["validate", "fetch", "prepare", "convert", "commit"]);
    const artifacts = job.additionalInfo.artifacts as Record<string, any>;
    assert.deepEqual(
      { ...artifacts.guest },
      {
        osFamily: "Windows",
        productName: WINDOWS_FACTS.productName,
        version: WINDOWS_FACTS.version,
        build: WINDOWS_FACTS.build,
        edition: WINDOWS_FACTS.edition,
        architecture: WINDOWS_FACTS.architecture,
        hostname: "GOLDEN-01",
        domain: WINDOWS_FACTS.domain,
        vdaVersion: "2203.0.0.1000",
        bootType: "UEFI",
        systemPartition: 2,
        fileSystem: "NTFS",
      },
    );
    assert.equal(sha256(readFileSync(join(world.inputDir, "winGpt.qcow2"))), sourceHash, "the source is unchanged");

    const before = await extractVolume(images.winGpt, join(world.root, "win-gpt-before.volume"));
    const after = await volumeOf("win-mcs.raw", images.winGpt);
    sh(sbin("ntfsfix"), ["-n", after]); // exits non-zero on an inconsistent volume
    assert.equal(hiveValue(after, "SOFTWARE", "\\Citrix\\VirtualDesktopAgent", "ListOfDDCs"), "ddc1.corp.example.com ddc2.corp.example.com");
    assert.equal(hiveValue(after, "SOFTWARE", "\\Citrix\\ImagePortability", "ProvisioningType"), "Mcs");
    assert.equal(hiveValue(after, "SYSTEM", "\\Setup", "SetupType"), "2");
    assert.match(hiveValue(after, "SYSTEM", "\\Setup", "CmdLine"), /imageport\\firstboot\.cmd/);
    const script = ntfsFile(after, "/Windows/imageport/firstboot.cmd").toString("utf8");
    const steps = [...script.matchAll(/step (\d+) ([a-z-]+): starting/g)].map((m) => m[2]);
    assert.deepEqual(steps, ["install-misa", "vda-reconfigure", "domain-unjoin"], "the installers first, then the VDA, then leaving the domain");
    assert.match(script, /\/portnumber 8080/);
    assert.match(script, /UnjoinDomainOrWorkgroup/);
    assert.match(script, /del "%~f0"/, "the script removes itself");
    assert.deepEqual(ntfsFile(after, "/Windows/imageport/installers/misa.msi"), readFileSync(join(installers, "misa.msi")));

    // Every other file is as it was, and every other registry value.
    for (const file of ["/Windows/System32/ntoskrnl.exe", "/Windows/System32/drivers/disk.sys", "/Users/Public/desktop.ini", "/bootmgr"]) {
      assert.equal(sha256(ntfsFile(after, file)), sha256(ntfsFile(before, file)), file);
    }
    const changed = (text: string) =>
      text
        .split(/\r?\n\r?\n/)
        .filter((block) => !/\\(Setup|Citrix\\VirtualDesktopAgent|Citrix\\ImagePortability|Citrix)\]/.test(block))
        .join("\n\n");
    assert.equal(changed(hiveExport(after, "SYSTEM")), changed(hiveExport(before, "SYSTEM")));
    assert.equal(changed(hiveExport(after, "SOFTWARE")), changed(hiveExport(before, "SOFTWARE")));

    // The record in the guest is the job's, less its own entry.
    const record = JSON.parse(ntfsFile(after, "/Windows/imageport/changes.json").toString("utf8"));
    assert.deepEqual(record.changes, artifacts.changeRecord.slice(0, -1));
    assert.deepEqual(artifacts.changeRecord.at(-1), { kind: "file", path: "/Windows/imageport/changes.json", action: "created", after: { size: ntfsFile(after, "/Windows/imageport/changes.json").length, sha256: sha256(ntfsFile(after, "/Windows/imageport/changes.json")) } });
    const ddcs = artifacts.changeRecord.find((c: any) => c.kind === "registry" && c.name === "ListOfDDCs");
    assert.deepEqual(ddcs.before, { type: "REG_SZ", data: WINDOWS_FACTS.oldControllers });
    assert.deepEqual(ddcs.after, { type: "REG_SZ", data: "ddc1.corp.example.com ddc2.corp.example.com" });
  });

  it("prepares the same Windows for PVS: the PVS target device staged instead, the rest exactly as for MCS", async () => {
    const common = { xdReconfigure: [{ ParameterName: "controllers", ParameterValue: "ddc1.corp.example.com" }], installerStorageLocation: { location: world.fileLocation(installers) } };
    const mcs = await world.run("prepare", body("winMbr", "win-mbr-mcs.raw", { provisioningType: "Mcs", installMisa: true, misaInstaller: "misa.msi", ...common }), 120_000);
    const pvs = await world.run("prepare", body("winMbr", "win-mbr-pvs.raw", { provisioningType: "Pvs", installPvs: "2203", pvsInstaller: "PVS_Device_x64.msi", ...common }), 120_000);
    assert.equal(mcs.status, "complete", JSON.stringify(mcs.error));
    assert.equal(pvs.status, "complete", JSON.stringify(pvs.error));
    const record = (job: typeof mcs) => ((job.additionalInfo.artifacts as any).changeRecord as any[]).filter((c) => !c.path?.endsWith("changes.json"));
    const describe = (c: any) => (c.kind === "registry" ? `${c.hive}\\${c.key}\\${c.name}=${JSON.stringify(c.after?.data)}` : `${c.action} ${c.path}`);
    const onlyMcs = record(mcs).map(describe).filter((d) => !record(pvs).map(describe).includes(d));
    const onlyPvs = record(pvs).map(describe).filter((d) => !record(mcs).map(describe).includes(d));
    assert.deepEqual(onlyMcs, ["created /Windows/imageport/installers/misa.msi", 'SOFTWARE\\Citrix\\ImagePortability\\ProvisioningType="Mcs"']);
    assert.deepEqual(onlyPvs, ["created /Windows/imageport/installers/PVS_Device_x64.msi", 'SOFTWARE\\Citrix\\ImagePortability\\ProvisioningType="Pvs"']);
    const pvsVolume = await volumeOf("win-mbr-pvs.raw", images.winMbr);
    const script = ntfsFile(pvsVolume, "/Windows/imageport/firstboot.cmd").toString("utf8");
    assert.match(script, /msiexec\.exe \/i "%SystemRoot%\\imageport\\installers\\PVS_Device_x64\.msi" \/qn \/norestart/);
    assert.equal((pvs.additionalInfo.artifacts as any).guest.bootType, "BIOS");
    assert.equal((pvs.additionalInfo.artifacts as any).guest.systemPartition, 2, "the System Reserved partition comes first");
    // ntfs-3g marks a volume in use while it is open: the System Reserved partition, opened and
    // found not to be Windows, is copied byte for byte as it was.
    const reserved = (file: string) => readFileSync(file).subarray(1 << 20, 9 << 20);
    assert.ok(reserved(join(world.outputDir, "win-mbr-pvs.raw")).equals(reserved(images.winMbr.path)), "System Reserved is untouched");
    assert.ok(pvs.warnings?.some((w: any) => w.code === "GUEST_VDA_NOT_FOUND"), "no VDA in this image: a warning, not a silent success");
  });

  it("prepares Linux on ext4 for MCS (machine-id and hostname reset, a self-removing systemd unit) and keeps them for PVS", async () => {
    const job = await world.run(
      "prepare",
      body("linux", "linux-mcs.raw", { provisioningType: "Mcs", xdReconfigure: [{ ParameterName: "controllers", ParameterValue: "ddc1.corp.example.com" }] }),
      120_000,
    );
    assert.equal(job.status, "complete", JSON.stringify(job.error));
    const guest = (job.additionalInfo.artifacts as any).guest;
    assert.deepEqual(
      { productName: guest.productName, version: guest.version, architecture: guest.architecture, hostname: guest.hostname, domain: guest.domain, vdaVersion: guest.vdaVersion, bootType: guest.bootType },
      { productName: LINUX_FACTS.productName, version: LINUX_FACTS.version, architecture: "x86_64", hostname: "golden-linux", domain: LINUX_FACTS.realm, vdaVersion: "2311.0.0.13", bootType: "UEFI" },
    );
    const volume = await volumeOf("linux-mcs.raw", images.linux);
    sh(sbin("e2fsck"), ["-fn", volume]);
    const cat = (path: string) => sh(sbin("debugfs"), ["-R", `cat ${path}`, volume]).toString("utf8");
    assert.equal(cat("/etc/machine-id"), "");
    assert.equal(cat("/etc/hostname"), "");
    assert.match(cat("/etc/systemd/system/imageport-firstboot.service"), /ExecStart=\/bin\/sh \/var\/lib\/imageport\/firstboot\.sh/);
    assert.match(sh(sbin("debugfs"), ["-R", "stat /etc/systemd/system/multi-user.target.wants/imageport-firstboot.service", volume]).toString(), /Type: symlink/);
    const script = cat("/var/lib/imageport/firstboot.sh");
    assert.match(script, /ctxreg create -k 'HKLM\\Software\\Citrix\\VirtualDesktopAgent' -t REG_SZ -v ListOfDDCs -d 'ddc1\.corp\.example\.com'/);
    assert.match(script, /rm -f \/etc\/systemd\/system\/multi-user\.target\.wants\/imageport-firstboot\.service/);
    assert.equal(cat("/home/user/data.bin").length > 0, true);

    const pvs = await world.run("prepare", body("linux", "linux-pvs.raw", { provisioningType: "Pvs", installPvs: "2311", pvsInstaller: "pvs-target.deb", installerStorageLocation: { location: world.fileLocation(installers) } }), 120_000);
    assert.equal(pvs.status, "complete", JSON.stringify(pvs.error));
    const pvsVolume = await volumeOf("linux-pvs.raw", images.linux);
    assert.equal(sh(sbin("debugfs"), ["-R", "cat /etc/machine-id", pvsVolume]).toString("utf8"), `${LINUX_FACTS.machineId}\n`, "PVS keeps the machine identity");
    assert.match(sh(sbin("debugfs"), ["-R", "cat /var/lib/imageport/firstboot.sh", pvsVolume]).toString(), /apt-get install -y "\$D\/installers\/pvs-target\.deb"/);
  });

  it("answers a dry run with the same change record the real run makes, and writes nothing", async () => {
    const request = body("linux", "linux-dry.raw", { provisioningType: "Mcs", domainUnjoin: true });
    const dry = await world.submit("prepare", request, "?dryRun=true");
    assert.equal(dry.status, 200, JSON.stringify(dry.json));
    assert.ok(!existsSync(join(world.outputDir, "linux-dry.raw")));
    const real = await world.run("prepare", request, 120_000);
    assert.equal(real.status, "complete", JSON.stringify(real.error));
    assert.deepEqual(dry.json.preview.changeRecord, (real.additionalInfo.artifacts as any).changeRecord);
    assert.deepEqual(dry.json.preview.guest, (real.additionalInfo.artifacts as any).guest);
  });

  for (const [source, code] of [
    ["bitlocker", "GUEST_ENCRYPTED"],
    ["corrupt", "GUEST_REGISTRY_CORRUPT"],
    ["dirty", "GUEST_VOLUME_UNCLEAN"],
    ["blank", "GUEST_NOT_FOUND"],
  ] as const) {
    it(`fails with ${code} on the ${source} disk and leaves nothing under the output name`, async () => {
      const job = await world.run("prepare", body(source, `${source}-out.raw`, { provisioningType: "Mcs" }), 120_000);
      assert.equal(job.status, "failed");
      assert.equal(job.error?.code, code, job.error?.message);
      assert.ok(!readdirSync(world.outputDir).some((f) => f.startsWith(`${source}-out`)), "no output, not even a partial one");
    });
  }
});
