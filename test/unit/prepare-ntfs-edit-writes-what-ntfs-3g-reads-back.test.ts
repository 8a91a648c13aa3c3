// native/ntfs-edit through the engine's client (openGuestVolume) against the ntfs-3g tools: what
// it writes into a volume (a partition 1 MiB into a disk file) ntfscat and ntfsls read back
// byte-exact, ntfsfix finds nothing wrong, and every file it did not touch keeps its bytes; a
// file that does not fit fails with ENOSPC and leaves the volume consistent. It refuses, with
// its code and without writing a byte, a BitLocker volume, a volume that is not NTFS, a dirty
// volume and a hibernated Windows.

import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EngineError, EngineErrorCode } from "../../engine/errors";
import { fileWindowDevice } from "../../engine/prepare/block-device";
import { GuestVolume, openGuestVolume, VolumeCommandError } from "../../engine/prepare/volume-tool";
import { makeNtfsVolume, ntfsCat, ntfsCheck, ntfsList, setNtfsDirtyFlag } from "../helpers/ntfs-volume";

const MiB = 1024 * 1024;
const VOLUME = 64 * MiB;
const PARTITION_START = 1 * MiB;

/** The tree the Windows volume starts with (as wimapply writes it). */
const TREE: Record<string, Buffer> = {
  "/Windows/System32/config/SYSTEM": randomBytes(256 * 1024 + 7),
  "/Windows/System32/config/SOFTWARE": randomBytes(64 * 1024),
  "/Windows/System32/drivers/etc/hosts": Buffer.from("127.0.0.1 localhost\r\n"),
  "/Windows/System32/drivers/disk.sys": randomBytes(40_000),
  "/Program Files/App/app.exe": randomBytes(5000),
  "/bootmgr": Buffer.alloc(0), // (wimcapture leaves out pagefile.sys and hiberfil.sys)
};

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

describe("prepare: ntfs-edit writes what ntfs-3g reads back", function () {
  this.timeout(120_000);
  let dir: string;
  let base: string;
  const never = new AbortController().signal;

  before(async () => {
    dir = await fs.mkdtemp(join(tmpdir(), "imageport-ntfs-edit-"));
    base = join(dir, "base.img");
    await makeNtfsVolume(base, VOLUME, TREE);
  });
  after(() => fs.rm(dir, { recursive: true, force: true }));

  /** A copy of the base volume, alone in its file. */
  async function volumeCopy(name: string): Promise<string> {
    const image = join(dir, name);
    await fs.copyFile(base, image);
    return image;
  }

  /** Opens the volume at [offset, offset + size) of image; closes the file when `use` ends. */
  async function withVolume(image: string, offset: number, size: number, use: (volume: GuestVolume) => Promise<void>): Promise<void> {
    const device = await fileWindowDevice(image, offset, size);
    try {
      const volume = await openGuestVolume("ntfs-edit", device, `the test volume ${image}`, never);
      try {
        await use(volume);
      } catch (error) {
        await volume.abort();
        throw error;
      }
    } finally {
      await device.close();
    }
  }

  /** Opening must fail with `code`, and leave every byte of the image as it was. */
  async function assertRefused(image: string, size: number, code: EngineErrorCode, message: RegExp): Promise<void> {
    const before = sha256(await fs.readFile(image));
    await assert.rejects(
      withVolume(image, 0, size, async () => assert.fail("the volume opened")),
      (error: unknown) => {
        assert.ok(error instanceof EngineError, String(error));
        assert.equal(error.code, code, error.message);
        assert.match(error.message, message);
        return true;
      },
    );
    assert.equal(sha256(await fs.readFile(image)), before, "a refused volume was written to");
  }

  it("writes, replaces, creates and removes in a partition 1 MiB into a disk, as ntfscat, ntfsls and ntfsfix see it", async () => {
    // The disk: random bytes around the partition, which must stay as they are.
    const disk = join(dir, "disk.img");
    const head = randomBytes(PARTITION_START);
    const tail = randomBytes(MiB);
    await fs.writeFile(disk, Buffer.concat([head, await fs.readFile(base), tail]));

    const setupComplete = Buffer.from("@echo off\r\nnet user Administrator /active:yes\r\n");
    const big = randomBytes(3 * MiB + 123);
    const hosts = Buffer.from("127.0.0.1 localhost\r\n10.0.0.1 metadata\r\n");
    await withVolume(disk, PARTITION_START, VOLUME, async (volume) => {
      assert.deepEqual(volume.facts, { label: "OS", dirty: "0", version: "3.1" });

      // Lookups ignore case, as Windows does.
      assert.deepEqual(await volume.stat("/windows/SYSTEM32/Config/system"), { type: "file", size: TREE["/Windows/System32/config/SYSTEM"].length });
      assert.deepEqual(await volume.stat("/WINDOWS"), { type: "dir", size: 0 });
      assert.ok((await volume.readFile("/WINDOWS/system32/CONFIG/SYSTEM")).equals(TREE["/Windows/System32/config/SYSTEM"]));
      assert.equal(await volume.stat("/Windows/System32/config/SAM"), undefined);
      assert.equal(await volume.stat("/Windows/System32/config/SYSTEM/x"), undefined);
      assert.deepEqual(
        (await volume.list("/")).sort((a, b) => (a.name < b.name ? -1 : 1)),
        [
          { name: "Program Files", type: "dir" },
          { name: "Windows", type: "dir" },
          { name: "bootmgr", type: "file" },
        ],
        "the root lists its files and directories, not the NTFS metafiles",
      );

      await volume.mkdir("/Windows/Setup");
      await volume.mkdir("/windows/setup/Scripts");
      await volume.writeFile("/Windows/Setup/Scripts/SetupComplete.cmd", setupComplete);
      await volume.writeFile("/big.bin", big);
      await volume.writeFile("/empty.txt", Buffer.alloc(0));
      // Replacing through another case keeps the one entry, with its own name.
      await volume.writeFile("/WINDOWS/system32/DRIVERS/ETC/HOSTS", hosts);
      // Written names are found ignoring case too.
      assert.ok((await volume.readFile("/windows/SETUP/scripts/setupcomplete.CMD")).equals(setupComplete));
      assert.deepEqual(await volume.list("/Windows/Setup/Scripts"), [{ name: "SetupComplete.cmd", type: "file" }]);
      assert.deepEqual(await volume.stat("/BIG.BIN"), { type: "file", size: big.length });
      // Names are UTF-8 on the protocol and UTF-16 on disk; case folds beyond ASCII too.
      await volume.writeFile("/Windows/Setup/Déjà vu €.txt", hosts);
      assert.deepEqual(await volume.stat("/Windows/Setup/DÉJÀ VU €.TXT"), { type: "file", size: hosts.length });

      await volume.writeFile("/junk.txt", Buffer.from("to be removed"));
      await volume.remove("/JUNK.TXT");
      await volume.mkdir("/Empty");
      await volume.remove("/empty");
      assert.equal(await volume.stat("/junk.txt"), undefined);
      await assert.rejects(volume.remove("/Windows/Setup"), (e: unknown) => e instanceof VolumeCommandError && e.errno === "ENOTEMPTY");
      await assert.rejects(volume.mkdir("/Windows/setup"), (e: unknown) => e instanceof VolumeCommandError && e.errno === "EEXIST");
      await assert.rejects(volume.writeFile("/No/Such/Dir/file.txt", hosts), (e: unknown) => e instanceof VolumeCommandError && e.errno === "ENOENT");
      await assert.rejects(volume.writeFile("/Windows/bad:name.txt", hosts), (e: unknown) => e instanceof VolumeCommandError && e.errno === "EINVAL");
      await assert.rejects(volume.mkdir("/CON"), (e: unknown) => e instanceof VolumeCommandError && e.errno === "EINVAL");
      await assert.rejects(volume.symlink("/link", "/Windows"), (e: unknown) => e instanceof VolumeCommandError && e.errno === "EOPNOTSUPP");
      await volume.close();
    });

    const image = await fs.readFile(disk);
    assert.ok(image.subarray(0, PARTITION_START).equals(head), "the bytes before the partition changed");
    assert.ok(image.subarray(PARTITION_START + VOLUME).equals(tail), "the bytes after the partition changed");
    const partition = join(dir, "partition.img");
    await fs.writeFile(partition, image.subarray(PARTITION_START, PARTITION_START + VOLUME));

    assert.match(await ntfsCheck(partition), /processed successfully/);
    assert.ok((await ntfsCat(partition, "/Windows/Setup/Scripts/SetupComplete.cmd")).equals(setupComplete));
    assert.ok((await ntfsCat(partition, "/big.bin")).equals(big));
    assert.equal((await ntfsCat(partition, "/empty.txt")).length, 0);
    assert.ok((await ntfsCat(partition, "/Windows/System32/drivers/etc/hosts")).equals(hosts));
    assert.deepEqual(await ntfsList(partition, "/Windows/System32/drivers/etc"), ["hosts"]);
    assert.deepEqual((await ntfsList(partition, "/Windows/Setup")).sort(), ["Déjà vu €.txt", "Scripts"]);
    assert.ok((await ntfsCat(partition, "/Windows/Setup/Déjà vu €.txt")).equals(hosts));
    assert.deepEqual((await ntfsList(partition, "/")).sort(), ["Program Files", "Windows", "big.bin", "bootmgr", "empty.txt"]);
    for (const [name, data] of Object.entries(TREE)) {
      if (name === "/Windows/System32/drivers/etc/hosts") continue;
      assert.equal(sha256(await ntfsCat(partition, name)), sha256(data), `${name} changed`);
    }
  });

  it("answers ENOSPC for a file bigger than the free space, and leaves the volume consistent", async () => {
    const image = await volumeCopy("full.img");
    await withVolume(image, 0, VOLUME, async (volume) => {
      await assert.rejects(volume.writeFile("/too-big.bin", Buffer.alloc(VOLUME)), (e: unknown) => e instanceof VolumeCommandError && e.errno === "ENOSPC" && /no room/.test(e.message));
      await volume.writeFile("/fits.txt", Buffer.from("still works"));
      await volume.close();
    });
    assert.match(await ntfsCheck(image), /processed successfully/);
    assert.equal((await ntfsCat(image, "/fits.txt")).toString(), "still works");
    assert.ok((await ntfsCat(image, "/Windows/System32/config/SYSTEM")).equals(TREE["/Windows/System32/config/SYSTEM"]));
  });

  it("refuses a BitLocker volume with GUEST_ENCRYPTED", async () => {
    const image = await volumeCopy("bitlocker.img");
    const file = await fs.open(image, "r+");
    await file.write(Buffer.from("-FVE-FS-"), 0, 8, 3);
    await file.close();
    await assertRefused(image, VOLUME, "GUEST_ENCRYPTED", /BitLocker/);
  });

  it("refuses a volume that is not NTFS (zeros, ext4) with GUEST_FILE_SYSTEM_UNSUPPORTED", async () => {
    const zeros = join(dir, "zeros.img");
    await fs.writeFile(zeros, Buffer.alloc(4 * MiB));
    await assertRefused(zeros, 4 * MiB, "GUEST_FILE_SYSTEM_UNSUPPORTED", /not NTFS/);
    const ext4 = join(dir, "ext4.img");
    await fs.writeFile(ext4, "");
    await fs.truncate(ext4, 16 * MiB);
    execFileSync("mkfs.ext4", ["-q", "-F", ext4]);
    await assertRefused(ext4, 16 * MiB, "GUEST_FILE_SYSTEM_UNSUPPORTED", /not NTFS/);
  });

  it("refuses a volume marked dirty with GUEST_VOLUME_UNCLEAN, and opens it once ntfsfix -d clears the flag", async () => {
    const image = await volumeCopy("dirty.img");
    await setNtfsDirtyFlag(image, true);
    await assertRefused(image, VOLUME, "GUEST_VOLUME_UNCLEAN", /dirty.*shut it down fully.*chkdsk/);
    execFileSync("ntfsfix", ["-d", image]);
    await withVolume(image, 0, VOLUME, async (volume) => {
      assert.equal(volume.facts.dirty, "0");
      await volume.close();
    });
  });

  it("refuses a hibernated Windows (hiberfil.sys starting with hibr or HIBR) with GUEST_VOLUME_UNCLEAN, not a resumed one", async () => {
    for (const signature of ["hibr", "HIBR", "wake"]) {
      const image = await volumeCopy(`hiberfil-${signature}.img`);
      await withVolume(image, 0, VOLUME, async (volume) => {
        await volume.writeFile("/hiberfil.sys", Buffer.concat([Buffer.from(signature), Buffer.alloc(8188)]));
        await volume.close();
      });
      if (signature === "wake") {
        await withVolume(image, 0, VOLUME, (volume) => volume.close());
        continue;
      }
      await assertRefused(image, VOLUME, "GUEST_VOLUME_UNCLEAN", /hibernated.*Fast Startup/);
    }
  });
});
