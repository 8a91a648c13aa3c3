// The Azure page writer's pages come straight from a DiskSource: its data ranges are read once
// and nothing else is, the pages are exactly the non-zero 512-byte runs of (content padded to
// N MiB + footer) cut at 4 MiB windows, unaligned ranges and ranges sharing a sector come out
// right, and without the content hash a disk of terabytes with a little data costs nothing
// more than that data.

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { BlockDigest, ContentDigests, DataRange } from "../../engine/disk";
import { azureDiskBytes, fixedVhdFooter, fixedVhdPages, PageRange } from "../../engine/platforms/azure";
import { expectedPuts } from "../helpers/azure-world";
import { pieceSource } from "../helpers/piece-source";

const MiB = 1024 * 1024;
const TiB = 1024 * 1024 * MiB;

async function collect(gen: AsyncIterable<PageRange>): Promise<PageRange[]> {
  const out: PageRange[] = [];
  for await (const p of gen) out.push({ offset: p.offset, data: Buffer.from(p.data) });
  return out;
}

describe("azure pages: straight from the source, its data read once", function () {
  const footer = fixedVhdFooter(azureDiskBytes(12 * MiB + 700));

  it("sends exactly the non-zero sector runs of content + footer, reading each data byte once", async () => {
    const size = 12 * MiB + 700; // not whole sectors: 20 MiB of VHD data part
    const diskSize = azureDiskBytes(size);
    const content = Buffer.alloc(size);
    const pieces = [
      { offset: 1000, data: randomBytes(300) }, // inside one sector, unaligned at both ends
      { offset: 1400, data: randomBytes(900) }, // shares sector 1024..1535 with the one before
      { offset: 4 * MiB - 3000, data: randomBytes(6 * MiB) }, // crosses two 4 MiB windows
      { offset: size - 200, data: randomBytes(200) }, // the disk's last, partial sector
    ];
    for (const p of pieces) p.data.copy(content, p.offset);
    content.fill(0, 5 * MiB, 5 * MiB + 4096); // zeros inside reported data: not sent
    pieces[2]!.data.fill(0, 5 * MiB - (4 * MiB - 3000), 5 * MiB - (4 * MiB - 3000) + 4096);
    const ranges: DataRange[] = [
      { start: 1000, length: 300 },
      { start: 1400, length: 900 },
      { start: 2 * MiB, length: 64 * 1024 }, // reported as data, all zeros
      { start: 4 * MiB - 3000, length: 6 * MiB },
      { start: size - 200, length: 200 },
    ];
    const { source, reads } = pieceSource(size, pieces, ranges);
    const digests = new ContentDigests(size, ranges, { sha256: true });
    const got = await collect(fixedVhdPages({ source, diskSizeBytes: diskSize, footer, signal: new AbortController().signal, onData: (offset, data) => digests.add(offset, data) }));
    const digest = await digests.digest();

    const vhd = Buffer.concat([content, Buffer.alloc(diskSize - size), footer]);
    assert.deepEqual(got.map((p) => ({ offset: p.offset, length: p.data.length })), expectedPuts(vhd));
    for (const p of got) assert.ok(p.data.equals(vhd.subarray(p.offset, p.offset + p.data.length)), `page at ${p.offset} holds the VHD's bytes`);
    assert.ok(got.every((p) => p.data.length <= 4 * MiB && p.offset % 512 === 0 && p.data.length % 512 === 0));
    assert.equal(digest.sha256, createHash("sha256").update(content).digest("hex"), "the content hash covers virtualSize bytes");
    const blocks = new BlockDigest(size);
    blocks.data(content);
    assert.equal(digest.blockDigest, blocks.digest(), "the block digest is taken from the same reads");

    // Every byte read lies in a data range and was read once.
    const sorted = reads.slice().sort((a, b) => a.start - b.start);
    const readBytes = sorted.reduce((n, r) => n + r.length, 0);
    assert.equal(readBytes, ranges.reduce((n, r) => n + r.length, 0), "the data ranges, once");
    for (const r of sorted) assert.ok(ranges.some((d) => r.start >= d.start && r.start + r.length <= d.start + d.length), `read ${r.start}+${r.length} lies in a range`);
  });

  it("the footer joins a run of data that ends right before it in the same 4 MiB window", async () => {
    const size = 21 * MiB;
    const data = randomBytes(MiB);
    const { source } = pieceSource(size, [{ offset: 20 * MiB, data }], [{ start: 20 * MiB, length: MiB }]);
    const f = fixedVhdFooter(size);
    const got = await collect(fixedVhdPages({ source, diskSizeBytes: size, footer: f, signal: new AbortController().signal }));
    assert.deepEqual(got.map((p) => [p.offset, p.data.length]), [[20 * MiB, MiB + 512]]);
    assert.ok(got[0]!.data.equals(Buffer.concat([data, f])));
  });

  it("a 30 TiB disk with 3 small pieces costs only those pieces, its block digest included", async () => {
    const size = 30 * TiB + 12345;
    const pieces = [
      { offset: 0, data: randomBytes(4096) },
      { offset: 17 * TiB, data: randomBytes(65536) },
      { offset: size - 12345, data: randomBytes(12345) },
    ];
    const { source, reads } = pieceSource(size, pieces, pieces.map((p) => ({ start: p.offset, length: p.data.length })));
    const digests = new ContentDigests(size, pieces.map((p) => ({ start: p.offset, length: p.data.length })), { sha256: false });
    const started = process.hrtime.bigint();
    const diskSize = azureDiskBytes(size);
    const got = await collect(
      fixedVhdPages({ source, diskSizeBytes: diskSize, signal: new AbortController().signal, onData: (offset, data) => digests.add(offset, data) }),
    );
    const digest = await digests.digest();
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    assert.equal(digest.sha256, undefined, "no full-content hash was made");
    assert.match(digest.blockDigest, /^[0-9a-f]{64}$/);
    assert.deepEqual(
      got.map((p) => p.offset),
      [0, 17 * TiB, size - 12345, diskSize].filter((o, i, all) => all.indexOf(o) === i),
    );
    assert.equal(got[got.length - 1]!.data.subarray(-512).toString("latin1", 0, 8), "conectix", "the footer ends the blob");
    assert.equal(reads.reduce((n, r) => n + r.length, 0), 4096 + 65536 + 12345);
    assert.ok(ms < 2000, `no work proportional to the virtual size (${ms.toFixed(0)} ms)`);
  });

  it("an aborted scan stops with the abort's reason", async () => {
    const size = 64 * MiB;
    const { source } = pieceSource(size, [], [{ start: 0, length: size }]);
    const ac = new AbortController();
    ac.abort(new Error("stop"));
    await assert.rejects(collect(fixedVhdPages({ source, diskSizeBytes: size, signal: ac.signal })), /stop/);
  });
});
