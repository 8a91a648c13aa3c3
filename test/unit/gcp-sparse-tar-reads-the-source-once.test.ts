// The GCP sparse tar reads its source once: every byte of the data ranges exactly once and
// nothing else, the sparse map is those ranges widened to 512-byte blocks and merged (GNU tar
// extracts unaligned and sector-sharing ranges to the right bytes), and without the hashes a
// disk of terabytes with a little data costs only that data.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BlockDigest, ContentDigests } from "../../engine/disk";
import { GIB, rawSizeFor, sparseTar, SparseTarResult, tarSegments } from "../../engine/platforms/gcp";
import { pieceSource } from "../helpers/piece-source";

const MiB = 1024 * 1024;
const TiB = 1024 * GIB;

describe("gcp sparse tar: the source is read once", function () {
  this.timeout(60_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "imageport-gcp-once-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("the map is the data ranges widened to 512-byte blocks and merged", () => {
    assert.deepEqual(
      tarSegments(
        [
          { start: 1000, length: 300 }, // 512..1536
          { start: 1400, length: 900 }, // shares a block with the one before: 512..2560
          { start: 4096, length: 4096 }, // aligned, stays apart
          { start: 8192, length: 10 }, // touches the one before once widened
          { start: 3 * MiB + 1, length: 5 }, // the disk's last bytes: widened up to a block
        ],
        GIB,
      ),
      [
        { offset: 512, length: 2048 },
        { offset: 4096, length: 4608 },
        { offset: 3 * MiB, length: 512 },
      ],
    );
  });

  it("reads each data byte once and nothing else; GNU tar extracts the content, hashes are the content's", async () => {
    const size = 5 * MiB + 100; // not whole blocks
    const pieces = [
      { offset: 1000, data: randomBytes(300) },
      { offset: 1400, data: randomBytes(900) },
      { offset: MiB - 3000, data: randomBytes(2 * MiB + 17) }, // across read chunks
      { offset: size - 60, data: randomBytes(60) },
    ];
    const ranges = [...pieces.map((p) => ({ start: p.offset, length: p.data.length })), { start: 4 * MiB, length: 64 * 1024 }]; // the last: zeros
    ranges.sort((a, b) => a.start - b.start);
    const { source, reads } = pieceSource(size, pieces, ranges);
    const content = Buffer.alloc(size);
    for (const p of pieces) p.data.copy(content, p.offset);

    let result: SparseTarResult | undefined;
    const chunks: Buffer[] = [];
    const digests = new ContentDigests(size, ranges, { sha256: true });
    const rawDigests = new ContentDigests(rawSizeFor(size), ranges, { sha256: true });
    const onData = async (offset: number, data: Buffer) => void (await Promise.all([digests.add(offset, data), rawDigests.add(offset, data)]));
    for await (const c of sparseTar(source, rawSizeFor(size), { signal: new AbortController().signal, onData, onDone: (r) => (result = r) })) chunks.push(Buffer.from(c));
    const digest = await digests.digest();

    const sortedReads = reads.slice().sort((a, b) => a.start - b.start);
    assert.equal(sortedReads.reduce((n, r) => n + r.length, 0), ranges.reduce((n, r) => n + r.length, 0), "the data ranges' bytes, once");
    for (const r of sortedReads) assert.ok(ranges.some((d) => r.start >= d.start && r.start + r.length <= d.start + d.length), `read ${r.start}+${r.length} lies in a range`);
    const segments = tarSegments(ranges, rawSizeFor(size));
    assert.equal(result!.dataBytes, segments.reduce((n, s) => n + s.length, 0));
    assert.equal(result!.segments, segments.length);
    assert.equal(digest.sha256, createHash("sha256").update(content).digest("hex"), "the content's sha256, from the same reads");
    const blocks = new BlockDigest(size);
    blocks.data(content);
    assert.equal(digest.blockDigest, blocks.digest(), "and its block digest");

    const archive = join(dir, "once.tar");
    writeFileSync(archive, Buffer.concat(chunks));
    const out = join(dir, "x");
    execFileSync("mkdir", [out]);
    execFileSync("tar", ["-xf", archive, "-C", out]);
    const raw = join(out, "disk.raw");
    assert.equal(statSync(raw).size, GIB);
    const fd = openSync(raw, "r");
    try {
      const back = Buffer.alloc(size + 4096);
      readSync(fd, back, 0, back.length, 0);
      assert.ok(back.subarray(0, size).equals(content), "disk.raw starts with the content");
      assert.ok(back.subarray(size).every((b) => b === 0), "then zeros");
    } finally {
      closeSync(fd);
    }
    assert.equal(execFileSync("sha256sum", [raw], { encoding: "utf8" }).split(" ")[0], (await rawDigests.digest()).sha256);
  });

  it("a 30 TiB disk with 3 small pieces costs only those pieces", async () => {
    const size = 30 * TiB + 12345;
    const pieces = [
      { offset: 0, data: randomBytes(4096) },
      { offset: 17 * TiB, data: randomBytes(65536) },
      { offset: size - 12345, data: randomBytes(12345) },
    ];
    const { source, reads } = pieceSource(size, pieces, pieces.map((p) => ({ start: p.offset, length: p.data.length })));
    let result: SparseTarResult | undefined;
    let archived = 0;
    const started = process.hrtime.bigint();
    for await (const c of sparseTar(source, rawSizeFor(size), { signal: new AbortController().signal, onDone: (r) => (result = r) })) archived += c.length;
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    assert.equal(result!.dataBytes, 4096 + 65536 + 12800, "the last piece widened to whole blocks");
    assert.equal(reads.reduce((n, r) => n + r.length, 0), 4096 + 65536 + 12345);
    assert.equal(archived, 512 + 4096 + 65536 + 12800 + 1024, "header, stored data, end blocks");
    assert.ok(ms < 2000, `no work proportional to the virtual size (${ms.toFixed(0)} ms)`);
  });
});
