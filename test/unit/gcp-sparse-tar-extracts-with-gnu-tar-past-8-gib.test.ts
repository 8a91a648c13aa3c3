// The GCP driver's sparse tar writer against GNU tar itself: a 9 GiB sparse disk (data past the
// 8 GiB octal limit, so sizes and map offsets need GNU base-256) and a disk with more segments
// than the header holds (extension headers) extract to the right bytes at the right offsets,
// and only the data is stored.

import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { closeSync, ftruncateSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { createWriteStream } from "node:fs";
import { ContentDigests, openImageSource } from "../../engine/disk";
import { GIB, rawSizeFor, sparseTar, SparseTarResult } from "../../engine/platforms/gcp";

const KIB = 1024;

describe("gcp sparse tar: GNU tar extracts it", function () {
  this.timeout(120_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "imageport-gcp-tar-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** The archive, with the sha256 of the content and of disk.raw taken from the same reads. */
  async function pack(disk: string, virtualSize: number, out: string): Promise<SparseTarResult & { sha256: string; rawSha256: string }> {
    const source = await openImageSource(disk, "raw", dir, AbortSignal.timeout(60_000));
    try {
      assert.equal(source.virtualSize, virtualSize);
      let result: SparseTarResult | undefined;
      const ranges = await source.dataRanges(AbortSignal.timeout(60_000));
      const content = new ContentDigests(virtualSize, ranges, { sha256: true });
      const raw = new ContentDigests(rawSizeFor(virtualSize), ranges, { sha256: true });
      const tar = sparseTar(source, rawSizeFor(virtualSize), {
        signal: AbortSignal.timeout(100_000),
        onData: async (offset, data) => void (await Promise.all([content.add(offset, data), raw.add(offset, data)])),
        onDone: (r) => (result = r),
      });
      await pipeline(Readable.from(tar), createGzip({ level: 1 }), createWriteStream(out));
      return { ...result!, sha256: (await content.digest()).sha256!, rawSha256: (await raw.digest()).sha256! };
    } finally {
      await source.close();
    }
  }

  function readAt(path: string, offset: number, length: number): Buffer {
    const fd = openSync(path, "r");
    try {
      const buf = Buffer.alloc(length);
      readSync(fd, buf, 0, length, offset);
      return buf;
    } finally {
      closeSync(fd);
    }
  }

  it("a disk of 9 GiB less 1 MiB with data past 8 GiB: a 9 GiB disk.raw, the data at its offsets, 128 KiB stored", async () => {
    const disk = join(dir, "big.raw");
    const a = randomBytes(64 * KIB);
    const b = randomBytes(64 * KIB);
    const fd = openSync(disk, "w");
    const virtualSize = 9 * GIB - 1024 * KIB;
    ftruncateSync(fd, virtualSize);
    writeSync(fd, a, 0, a.length, GIB);
    writeSync(fd, b, 0, b.length, 8.5 * GIB);
    closeSync(fd);
    const archive = join(dir, "big.tar.gz");
    const result = await pack(disk, virtualSize, archive);
    assert.equal(result.dataBytes, 128 * KIB, "only the two data pieces are stored");
    assert.ok(statSync(archive).size < 200 * KIB);
    const listing = execFileSync("tar", ["-tvzf", archive], { encoding: "utf8" });
    assert.match(listing, /\b9663676416\b.*disk\.raw/, `GNU tar reads the 9 GiB size (base-256): ${listing}`);
    const out = join(dir, "x1");
    execFileSync("mkdir", [out]);
    execFileSync("tar", ["-xzf", archive, "-C", out]);
    const raw = join(out, "disk.raw");
    assert.equal(statSync(raw).size, 9 * GIB, "grown to whole GiB");
    assert.ok(readAt(raw, GIB, a.length).equals(a), "the first piece is at 1 GiB");
    assert.ok(readAt(raw, 8.5 * GIB, b.length).equals(b), "the piece past 8 GiB is at 8.5 GiB");
    assert.ok(readAt(raw, 9 * GIB - 4096, 4096).every((x) => x === 0), "the padding reads as zeros");
    assert.ok(statSync(raw).blocks * 512 < 16 * 1024 * KIB, "extracted sparse");
  });

  it("200 separate pieces (extension headers) extract to the same bytes, and the hashes are of the content", async () => {
    const disk = join(dir, "many.raw");
    const size = 48 * 1024 * KIB;
    const fd = openSync(disk, "w");
    ftruncateSync(fd, size);
    for (let i = 0; i < 200; i++) writeSync(fd, randomBytes(4 * KIB), 0, 4 * KIB, i * 240 * KIB);
    closeSync(fd);
    const archive = join(dir, "many.tar.gz");
    const result = await pack(disk, size, archive);
    assert.equal(result.segments, 200);
    const content = createHash("sha256").update(execFileSync("cat", [disk], { maxBuffer: 64 * 1024 * KIB })).digest("hex");
    assert.equal(result.sha256, content);
    const out = join(dir, "x2");
    execFileSync("mkdir", [out]);
    execFileSync("tar", ["-xzf", archive, "-C", out]);
    const raw = join(out, "disk.raw");
    assert.equal(statSync(raw).size, GIB);
    assert.equal(execFileSync("sha256sum", [raw], { encoding: "utf8" }).split(" ")[0], result.rawSha256, "rawSha256 is disk.raw's hash");
    assert.ok(execFileSync("cmp", ["-n", String(size), disk, raw]).length === 0, "the content matches byte for byte");
  });
});
