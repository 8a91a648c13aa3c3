// native/ext4-edit against e2fsprogs itself: an ext4 file system made by mkfs.ext4 from a small
// Linux-like tree is edited through openGuestVolume over a window of an image file (at offset 0
// and as a partition at 1 MiB), and debugfs and e2fsck, reading the image afterwards, must see
// exactly the files, modes, directories and symlinks asked for, every untouched file as it was,
// and a clean file system; also on ext2, with inline_data, and on a volume written until it is
// full. Volumes the tool must not edit are refused with their code, unchanged.

import * as assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createCipheriv, createHash } from "node:crypto";
import { existsSync, promises as fs } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { EngineError } from "../../engine/errors";
import { fileWindowDevice } from "../../engine/prepare/block-device";
import { GuestVolume, openGuestVolume, VolumeCommandError } from "../../engine/prepare/volume-tool";

const run = promisify(execFile);
const MiB = 1024 * 1024;
const VOLUME = 64 * MiB;
const PARTITION = 1 * MiB;
const OLD = new Date("2001-02-03T04:05:06Z");

/** e2fsprogs install to /usr/sbin (or /sbin), often not on a user's PATH. */
function tool(name: string): string {
  return ["/usr/sbin", "/sbin"].map((d) => join(d, name)).find((p) => existsSync(p)) ?? name;
}

/** Deterministic bytes for file contents. */
function bytes(seed: string, length: number): Buffer {
  const key = createHash("sha256").update(seed).digest().subarray(0, 16);
  return createCipheriv("aes-128-ctr", key, Buffer.alloc(16)).update(Buffer.alloc(length));
}

/** The tree mkfs.ext4 -d copies in: path -> content (directories end with '/'). */
const TREE: Record<string, Buffer | string> = {
  "etc/hostname": "builder-vm-0042.example.internal\n",
  "etc/machine-id": "0123456789abcdef0123456789abcdef\n",
  "etc/systemd/system/": "",
  "etc/systemd/system/multi-user.target.wants/": "",
  "etc/fstab": "UUID=1234 / ext4 defaults 0 1\n",
  "etc/motd": "", // dated OLD
  "usr/lib/os-release": 'NAME="Debian GNU/Linux"\nID=debian\n',
  "var/lib/blob.bin": bytes("blob", 3 * MiB + 1234),
  "var/empty/": "",
  "home/user/notes.txt": "remember the milk\n",
  "usr/bin/python3.11": "#!/bin/false\n", // and its hard link usr/bin/python3
};

describe("prepare: ext4-edit writes what e2fsprogs reads back", function () {
  this.timeout(60_000);
  const signal = new AbortController().signal;
  let dir: string;
  let ext4: string; // the mkfs.ext4 image, never edited itself

  before(async () => {
    dir = await fs.mkdtemp(join(tmpdir(), "imageport-ext4-edit-"));
    ext4 = await makeImage("ext4");
  });
  after(() => fs.rm(dir, { recursive: true, force: true }));

  async function makeImage(type: "ext4" | "ext2", name: string = type, options: string[] = []): Promise<string> {
    const tree = join(dir, `tree-${name}`);
    for (const [path, content] of Object.entries(TREE)) {
      if (path.endsWith("/")) await fs.mkdir(join(tree, path), { recursive: true });
      else {
        await fs.mkdir(join(tree, path, ".."), { recursive: true });
        await fs.writeFile(join(tree, path), content);
      }
    }
    await fs.symlink("../usr/lib/os-release", join(tree, "etc/os-release"));
    await fs.utimes(join(tree, "etc/motd"), OLD, OLD);
    await fs.link(join(tree, "usr/bin/python3.11"), join(tree, "usr/bin/python3"));
    const image = join(dir, `${name}.img`);
    await run(tool(`mkfs.${type}`), ["-q", "-F", ...options, "-L", "root", "-d", tree, image, "64M"]);
    await fs.rm(tree, { recursive: true });
    return image;
  }

  /** A copy of image at `offset` inside a file with marked bytes around it (a partition). */
  async function placed(image: string, name: string, offset: number): Promise<string> {
    const path = join(dir, name);
    const volume = await fs.readFile(image);
    const file = Buffer.alloc(offset + volume.length + MiB, 0xa5);
    volume.copy(file, offset);
    await fs.writeFile(path, file);
    return path;
  }

  async function open(path: string, offset: number, size = VOLUME): Promise<GuestVolume> {
    const device = await fileWindowDevice(path, offset, size);
    try {
      const volume = await openGuestVolume("ext4-edit", device, "the test volume", signal);
      const close = volume.close.bind(volume);
      return { ...volume, facts: volume.facts, close: () => close().finally(() => device.close()) };
    } catch (error) {
      await device.close();
      throw error;
    }
  }

  /** debugfs over the volume at offset (its io option reads a partition in place). */
  async function debugfs(path: string, offset: number, request: string): Promise<Buffer> {
    const { stdout } = await run(tool("debugfs"), ["-R", request, `${path}?offset=${offset}`], { encoding: "buffer", maxBuffer: 64 * MiB });
    return stdout;
  }

  /** debugfs's stat, with its complaints (stderr: "File not found by ext2_lookup"). */
  async function debugStat(path: string, offset: number, inside: string): Promise<string> {
    const { stdout, stderr } = await run(tool("debugfs"), ["-R", `stat ${inside}`, `${path}?offset=${offset}`]);
    return stdout + stderr;
  }

  async function fsckClean(path: string, offset: number): Promise<void> {
    const result = await run(tool("e2fsck"), ["-fn", `${path}?offset=${offset}`]).catch((error: { stdout: string; stderr: string; code: number }) => error);
    assert.equal("code" in result ? result.code : 0, 0, `e2fsck -fn found problems:\n${result.stdout}${result.stderr}`);
  }

  function modeOf(stat: string): { type: string; mode: number } {
    const m = /Type: (\S+)\s+Mode:\s+(\d+)/.exec(stat);
    assert.ok(m, `no Type/Mode in debugfs stat:\n${stat}`);
    return { type: m[1]!, mode: parseInt(m[2]!, 8) };
  }

  async function refusal(promise: Promise<unknown>): Promise<EngineError> {
    const error = await promise.then(
      () => assert.fail("the volume was opened"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof EngineError, String(error));
    return error;
  }

  async function sha256(path: string): Promise<string> {
    return createHash("sha256")
      .update(await fs.readFile(path))
      .digest("hex");
  }

  it("reads what mkfs.ext4 wrote: facts, stat, list, files and a symlinked file", async () => {
    const image = await placed(ext4, "read.img", 0);
    const before = await sha256(image);
    const { stdout } = await run(tool("tune2fs"), ["-l", image]);
    const uuid = /Filesystem UUID:\s+(\S+)/.exec(stdout)![1];
    const volume = await open(image, 0);
    try {
      assert.deepEqual(volume.facts, { label: "root", uuid, type: "ext4" });
      assert.deepEqual(await volume.stat("/var/lib/blob.bin"), { type: "file", size: TREE["var/lib/blob.bin"]!.length });
      assert.equal((await volume.stat("/etc/systemd"))?.type, "dir");
      assert.equal((await volume.stat("/etc/os-release"))?.type, "symlink");
      assert.equal(await volume.stat("/etc/nothing"), undefined);
      assert.equal(await volume.stat("/etc/hostname/below-a-file"), undefined);
      const etc = (await volume.list("/etc")).sort((a, b) => a.name.localeCompare(b.name));
      assert.deepEqual(etc, [
        { name: "fstab", type: "file" },
        { name: "hostname", type: "file" },
        { name: "machine-id", type: "file" },
        { name: "motd", type: "file" },
        { name: "os-release", type: "symlink" },
        { name: "systemd", type: "dir" },
      ]);
      assert.deepEqual(await volume.readFile("/var/lib/blob.bin"), TREE["var/lib/blob.bin"]);
      assert.equal((await volume.readFile("/etc/os-release")).toString(), TREE["usr/lib/os-release"]);
      await assert.rejects(volume.readFile("/etc"), (e: unknown) => e instanceof VolumeCommandError && e.errno === "EISDIR");
      await volume.close();
    } catch (error) {
      await volume.abort();
      throw error;
    }
    assert.equal(await sha256(image), before, "reading changed the image");
  });

  it("in a partition at 1 MiB: writes, replaces, mkdir, symlink and rm are what debugfs sees, e2fsck finds it clean", async () => {
    const image = await placed(ext4, "edit.img", PARTITION);
    const big = bytes("big", 24 * MiB + 333); // more than the tool caches before writing back
    const unit = "[Unit]\nDescription=imageport first boot\n";
    const volume = await open(image, PARTITION);
    try {
      await volume.writeFile("/etc/hostname", Buffer.from("vm1\n")); // shorter: must truncate
      await volume.mkdir("/etc/imageport", 0o750);
      await volume.writeFile("/etc/imageport/agent.conf", Buffer.from("token=secret\n"), 0o600);
      await volume.writeFile("/etc/imageport/empty", Buffer.alloc(0), 0o644);
      await volume.writeFile("/var/lib/big.bin", big, 0o644);
      await volume.writeFile("/etc/systemd/system/imageport.service", Buffer.from(unit), 0o644);
      await volume.symlink("/etc/systemd/system/multi-user.target.wants/imageport.service", "/etc/systemd/system/imageport.service");
      await volume.remove("/etc/machine-id");
      await volume.remove("/usr/bin/python3"); // one of two links: the other keeps the inode
      await volume.writeFile("/etc/os-release", Buffer.from("ID=imageport\n")); // replaces the symlink, not its target
      await volume.remove("/var/empty");
      await assert.rejects(volume.remove("/home/user"), (e: unknown) => e instanceof VolumeCommandError && e.errno === "ENOTEMPTY");
      await assert.rejects(volume.mkdir("/etc/imageport"), (e: unknown) => e instanceof VolumeCommandError && e.errno === "EEXIST");
      await assert.rejects(volume.writeFile("/no/such/dir/file", Buffer.from("x")), (e: unknown) => e instanceof VolumeCommandError && e.errno === "ENOENT");
      assert.deepEqual(await volume.readFile("/var/lib/big.bin"), big);
      await volume.close();
    } catch (error) {
      await volume.abort();
      throw error;
    }

    const cat = (p: string) => debugfs(image, PARTITION, `cat ${p}`);
    assert.equal((await cat("/etc/hostname")).toString(), "vm1\n");
    assert.equal((await cat("/etc/imageport/agent.conf")).toString(), "token=secret\n");
    assert.equal((await cat("/etc/imageport/empty")).length, 0);
    assert.ok((await cat("/var/lib/big.bin")).equals(big), "the big file differs");
    assert.equal((await cat("/etc/systemd/system/imageport.service")).toString(), unit);
    assert.deepEqual(modeOf(await debugStat(image, PARTITION, "/etc/imageport")), { type: "directory", mode: 0o750 });
    assert.deepEqual(modeOf(await debugStat(image, PARTITION, "/etc/imageport/agent.conf")), { type: "regular", mode: 0o600 });
    const link = await debugStat(image, PARTITION, "/etc/systemd/system/multi-user.target.wants/imageport.service");
    assert.equal(modeOf(link).type, "symlink");
    assert.match(link, /Fast link dest: "\/etc\/systemd\/system\/imageport.service"/);
    assert.match(await debugStat(image, PARTITION, "/var/lib/big.bin"), /EXTENTS:/, "a new file on ext4 uses extents");
    for (const gone of ["/etc/machine-id", "/var/empty", "/usr/bin/python3"]) assert.match(await debugStat(image, PARTITION, gone), /File not found/);
    assert.equal(modeOf(await debugStat(image, PARTITION, "/etc/os-release")).type, "regular");
    assert.equal((await cat("/etc/os-release")).toString(), "ID=imageport\n");
    assert.match(await debugStat(image, PARTITION, "/usr/bin/python3.11"), /Links: 1\s/);
    for (const kept of ["etc/fstab", "usr/lib/os-release", "var/lib/blob.bin", "home/user/notes.txt", "usr/bin/python3.11"]) {
      assert.ok((await cat(`/${kept}`)).equals(Buffer.from(TREE[kept]!)), `${kept} changed`);
    }
    await fsckClean(image, PARTITION);
    const file = await fs.readFile(image);
    const outside = Buffer.concat([file.subarray(0, PARTITION), file.subarray(PARTITION + VOLUME)]);
    assert.ok(outside.every((b) => b === 0xa5), "bytes outside the window changed");
  });

  it("replacing files again and again, and a directory outgrowing its block, leaves a clean file system", async () => {
    const image = await placed(ext4, "churn.img", 0);
    const volume = await open(image, 0);
    const names = Array.from({ length: 150 }, (_, i) => `unit-with-a-long-name-to-fill-blocks-${i}.service`);
    try {
      await volume.mkdir("/etc/many");
      for (const name of names) await volume.writeFile(`/etc/many/${name}`, Buffer.from(name));
      for (const size of [5 * MiB, 10, 2 * MiB + 7, 0, 70_000]) await volume.writeFile("/var/lib/blob.bin", bytes(`blob-${size}`, size));
      for (const name of names.slice(0, 50)) await volume.remove(`/etc/many/${name}`);
      assert.equal((await volume.list("/etc/many")).length, 100);
      await volume.close();
    } catch (error) {
      await volume.abort();
      throw error;
    }
    assert.ok((await debugfs(image, 0, "cat /var/lib/blob.bin")).equals(bytes("blob-70000", 70_000)));
    assert.equal((await debugfs(image, 0, `cat /etc/many/${names[120]}`)).toString(), names[120]);
    await fsckClean(image, 0);
  });

  it("an edit that changes only an inode (an empty file rewritten empty) still reaches the disk", async () => {
    const image = await placed(ext4, "inode-only.img", 0);
    const mtime = async () => /mtime: 0x([0-9a-f]+)/.exec(await debugStat(image, 0, "/etc/motd"))![1]!;
    assert.equal(parseInt(await mtime(), 16), OLD.getTime() / 1000);
    const volume = await open(image, 0);
    await volume.writeFile("/etc/motd", Buffer.alloc(0)).catch((error) => volume.abort().then(() => Promise.reject(error)));
    await volume.close();
    assert.ok(Math.abs(parseInt(await mtime(), 16) - Date.now() / 1000) < 600, "the new mtime did not reach the disk");
    await fsckClean(image, 0);
  });

  it("filling the volume: ENOSPC before anything changes, and removing the files gives every block back", async () => {
    const image = await placed(ext4, "full.img", 0);
    const superblock = async () => (await run(tool("dumpe2fs"), ["-h", image])).stdout;
    const freeBlocks = async () => Number(/Free blocks:\s+(\d+)/.exec(await superblock())![1]);
    const lastBlock = Number(/Block count:\s+(\d+)/.exec(await superblock())![1]) - 1;
    const free = await freeBlocks();
    const names: string[] = [];
    let volume = await open(image, 0);
    try {
      for (const size of [4 * MiB, 256 * 1024, 8192, 100]) {
        for (;;) {
          const name = `/var/fill-${names.length}`;
          const error = await volume.writeFile(name, bytes(name, size)).then(
            () => undefined,
            (e: unknown) => e,
          );
          if (!error) names.push(name);
          else {
            assert.ok(error instanceof VolumeCommandError && error.errno === "ENOSPC", String(error));
            assert.equal(await volume.stat(name), undefined, "a refused file was left behind");
            break;
          }
        }
      }
      await volume.close();
    } catch (error) {
      await volume.abort();
      throw error;
    }
    assert.match((await debugfs(image, 0, `testb ${lastBlock}`)).toString(), /marked in use/, "the volume's last block was not used");
    await fsckClean(image, 0);

    volume = await open(image, 0);
    try {
      for (const name of names) assert.deepEqual(await volume.readFile(name), bytes(name, (await volume.stat(name))!.size));
      for (const name of names) await volume.writeFile(name, Buffer.from("short")); // frees the blocks, keeps the inode
      for (const name of names) await volume.remove(name);
      await volume.close();
    } catch (error) {
      await volume.abort();
      throw error;
    }
    assert.equal(await freeBlocks(), free);
    await fsckClean(image, 0);
  });

  it("an ext2 file system (block maps, no journal) is edited too", async () => {
    const image = await makeImage("ext2");
    const volume = await open(image, 0);
    try {
      assert.equal(volume.facts.type, "ext2");
      await volume.writeFile("/var/lib/blob.bin", bytes("ext2", MiB + 5));
      await volume.mkdir("/srv", 0o700);
      await volume.symlink("/srv/link", "a-target-longer-than-sixty-characters/so/that/it/needs/its/own/block/x");
      await volume.remove("/etc/fstab");
      await volume.close();
    } catch (error) {
      await volume.abort();
      throw error;
    }
    assert.ok((await debugfs(image, 0, "cat /var/lib/blob.bin")).equals(bytes("ext2", MiB + 5)));
    assert.deepEqual(modeOf(await debugStat(image, 0, "/srv")), { type: "directory", mode: 0o700 });
    assert.equal(modeOf(await debugStat(image, 0, "/srv/link")).type, "symlink");
    await fsckClean(image, 0);
  });

  it("with inline_data, a small file kept in its inode grows into blocks when rewritten bigger", async () => {
    const image = await makeImage("ext4", "inline", ["-O", "inline_data"]);
    const grown = bytes("grown", 3 * MiB + 9);
    const volume = await open(image, 0);
    try {
      await volume.writeFile("/etc/small", Buffer.from("fits in the inode\n"));
      await volume.writeFile("/etc/hostname", grown); // mkfs kept it inline
      await volume.writeFile("/etc/new-big", grown);
      await volume.close();
    } catch (error) {
      await volume.abort();
      throw error;
    }
    const small = await debugStat(image, 0, "/etc/small");
    assert.match(small, /Size of inline data/);
    assert.match(small, /\sSize: 18\n/);
    // debugfs's cat prints the whole 60-byte inline area (it does for mkfs's own inline files too).
    assert.equal((await debugfs(image, 0, "cat /etc/small")).subarray(0, 18).toString(), "fits in the inode\n");
    assert.ok((await debugfs(image, 0, "cat /etc/hostname")).equals(grown));
    assert.ok((await debugfs(image, 0, "cat /etc/new-big")).equals(grown));
    await fsckClean(image, 0);
  });

  it("zeros, NTFS and features libext2fs does not know are refused as unsupported, unchanged", async () => {
    const zeros = join(dir, "zeros.img");
    await fs.writeFile(zeros, Buffer.alloc(16 * MiB));
    const ntfs = join(dir, "ntfs.img");
    await fs.writeFile(ntfs, Buffer.alloc(16 * MiB));
    await run(tool("mkntfs"), ["-F", "-Q", "-q", ntfs]);
    // A feature bit from the future, incompatible or read-only compatible (debugfs keeps the checksum right).
    const future: string[] = [];
    for (const [field, at, bit] of [
      ["feature_incompat", 0x60, 0x0800_0000],
      ["feature_ro_compat", 0x64, 0x8000_0000],
    ] as const) {
      const image = await placed(ext4, `${field}.img`, 0);
      const value = (await fs.readFile(image)).readUInt32LE(1024 + at);
      await run(tool("debugfs"), ["-w", "-R", `ssv ${field} 0x${((value | bit) >>> 0).toString(16)}`, image]);
      future.push(image);
    }
    for (const image of [zeros, ntfs, ...future]) {
      const before = await sha256(image);
      const size = image === zeros || image === ntfs ? 16 * MiB : VOLUME;
      const error = await refusal(open(image, 0, size));
      assert.equal(error.code, "GUEST_FILE_SYSTEM_UNSUPPORTED", `${image}: ${error.message}`);
      if (future.includes(image)) assert.match(error.message, /feature/);
      assert.equal(await sha256(image), before);
    }
  });

  it("a journal that needs recovery, or a state not clean, is refused as unclean, unchanged", async () => {
    for (const [name, request] of [
      ["recover.img", "feature needs_recovery"],
      ["state.img", "ssv state 0"],
      ["errors.img", "ssv state 3"],
    ] as const) {
      const image = await placed(ext4, name, 0);
      await run(tool("debugfs"), ["-w", "-R", request, image]);
      const before = await sha256(image);
      const error = await refusal(open(image, 0));
      assert.equal(error.code, "GUEST_VOLUME_UNCLEAN", `${name}: ${error.message}`);
      assert.match(error.message, /shut the guest down cleanly|e2fsck/);
      assert.equal(await sha256(image), before);
    }
  });
});
