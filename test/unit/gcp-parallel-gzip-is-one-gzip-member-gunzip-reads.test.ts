// The GCP upload's parallel gzip (engine/platforms/gcp/parallel-gzip.ts) writes ONE gzip member
// that zlib and the system gzip read back to the input, whatever the input's size and however
// it arrives in pieces; it compresses about as well as createGzip, deflates blocks side by side
// (never more than asked), reads no further ahead than its blocks in flight, and an abort or a
// failure ends it and closes its input.

import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync, inflateRawSync } from "node:zlib";
import zlib = require("node:zlib"); // the module object itself, whose deflateRaw the instrument wraps
import { GZIP_BLOCK, parallelGzip, ParallelGzipOptions } from "../../engine/platforms/gcp/parallel-gzip";

const KIB = 1024;
const MIB = 1024 * KIB;
const SMALL = 64 * KIB; // a small block size: many blocks from little data

/** Random blocks without end, and whether the consumer closed the generator. */
function endlessInput(): { input(): AsyncGenerator<Buffer>; readonly closed: boolean } {
  const state = { closed: false };
  return {
    async *input() {
      try {
        for (;;) yield randomBytes(SMALL);
      } finally {
        state.closed = true;
      }
    },
    get closed() {
      return state.closed;
    },
  };
}

async function* inPieces(data: Buffer, sizes: (i: number) => number = () => data.length): AsyncGenerator<Buffer> {
  for (let at = 0, i = 0; at < data.length || (i === 0 && data.length === 0); i++) {
    const n = Math.min(sizes(i), data.length - at);
    yield data.subarray(at, at + n);
    at += n;
    if (data.length === 0) break;
  }
}

async function gzipAll(input: AsyncIterable<Buffer>, options?: ParallelGzipOptions): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const piece of parallelGzip(input, options)) out.push(piece);
  return Buffer.concat(out);
}

/** Text-like data that compresses well (words from a small vocabulary, varied lines). */
function text(size: number, seed = 1): Buffer {
  const words = ["disk", "image", "sector", "block", "export", "upload", "bucket", "gzip", "tar", "raw", "vhdx", "qcow2", "guest", "snapshot"];
  let x = seed;
  const rand = () => ((x = (x * 1103515245 + 12345) % 2 ** 31), x);
  const parts: string[] = [];
  let length = 0;
  while (length < size) {
    const line = `${rand() % 100000} ${Array.from({ length: 3 + (rand() % 9) }, () => words[rand() % words.length]).join(" ")}\n`;
    parts.push(line);
    length += line.length;
  }
  return Buffer.from(parts.join("")).subarray(0, size);
}

/** Random, zero and text runs of varied lengths, as a disk's data is. */
function mixed(size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let at = 0, i = 0; at < size; i++) {
    const n = Math.min(size - at, 5000 + ((i * 37_813) % (200 * KIB)));
    if (i % 3 === 0) randomBytes(n).copy(out, at);
    else if (i % 3 === 1) text(n, i).copy(out, at);
    at += n; // i % 3 === 2: zeros
  }
  return out;
}

/** A gzip member whose deflate stream ends exactly before the trailer, which holds the input's CRC and size. */
function assertOneMember(gz: Buffer, input: Buffer): void {
  assert.deepEqual([...gz.subarray(0, 10)], [...gzipSync(Buffer.alloc(0)).subarray(0, 10)], "createGzip's header");
  // A second member or an early final block would end this inflate before the input's end.
  assert.ok(inflateRawSync(gz.subarray(10, gz.length - 8)).equals(input), "one deflate stream between header and trailer");
  assert.equal(gz.readUInt32LE(gz.length - 8), zlib.crc32(input) >>> 0, "CRC32");
  assert.equal(gz.readUInt32LE(gz.length - 4), input.length % 2 ** 32, "ISIZE");
}

describe("gcp parallel gzip: one gzip member that gunzip reads", function () {
  this.timeout(180_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "imageport-pgzip-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const kinds: [string, (n: number) => Buffer][] = [
    ["random", (n) => randomBytes(n)],
    ["zeros", (n) => Buffer.alloc(n)],
    ["mixed", mixed],
  ];
  const sizes = (block: number) => [0, 1, 1000, block - 1, block, block + 1, 3 * block, 3 * block + 12_345];

  for (const [kind, make] of kinds) {
    it(`${kind}: zlib gunzips every size back to the input, as one member (64 KiB blocks)`, async () => {
      for (const size of sizes(SMALL)) {
        const input = make(size);
        const gz = await gzipAll(inPieces(input), { blockSize: SMALL });
        assert.ok(gunzipSync(gz).equals(input), `${kind} ${size} bytes`);
        assertOneMember(gz, input);
      }
    });
  }

  it("the system gzip tests it, decompresses it to the input and lists one member of the input's size (1 MiB blocks)", async () => {
    for (const [kind, make] of kinds) {
      for (const size of [0, 5, GZIP_BLOCK, 3 * GZIP_BLOCK + 777]) {
        const input = make(size);
        const file = join(dir, `${kind}-${size}.gz`);
        writeFileSync(file, await gzipAll(inPieces(input, () => 300 * KIB)));
        execFileSync("gzip", ["-t", file]);
        assert.ok(execFileSync("gzip", ["-dc", file], { maxBuffer: 64 * MIB }).equals(input), `${kind} ${size}: gzip -dc`);
        // gzip -l reads the last trailer only: a second member would show its own size, not the whole.
        const [, listed] = execFileSync("gzip", ["-l", file], { encoding: "utf8" }).trim().split("\n");
        const [compressed, uncompressed] = listed!.trim().split(/\s+/).map(Number);
        assert.equal(compressed, readFileSync(file).length);
        assert.equal(uncompressed, size, `${kind} ${size}: gzip -l`);
      }
    }
  });

  it("the output does not depend on how the input arrives in pieces (empty ones too)", async () => {
    const input = mixed(5 * SMALL + 4321);
    const whole = await gzipAll(inPieces(input), { blockSize: SMALL });
    let x = 7;
    const arbitrary = (i: number) => (i % 5 === 0 ? 0 : i % 7 === 0 ? 1 : ((x = (x * 48271) % 2147483647), 1 + (x % (3 * SMALL))));
    for (const pieces of [arbitrary, () => 1 + (SMALL >> 4), () => SMALL, () => 2 * SMALL + 1]) {
      const gz = await gzipAll(inPieces(input, pieces), { blockSize: SMALL });
      assert.ok(gz.equals(whole));
    }
    assert.ok(gunzipSync(whole).equals(input));
  });

  it("compresses within 1% of createGzip at level 6, with 64 KiB blocks too (each block sees the last 32 KiB)", async () => {
    const execHead = readFileSync(process.execPath).subarray(0, 6 * MIB); // machine code and data
    for (const [name, input] of [
      ["text", text(6 * MIB)],
      ["mixed", mixed(6 * MIB)],
      ["node's executable", execHead],
      ["zeros", Buffer.alloc(6 * MIB)],
    ] as const) {
      const zlibs = gzipSync(input, { level: 6 }).length;
      for (const blockSize of [GZIP_BLOCK, SMALL]) {
        const ours = (await gzipAll(inPieces(input, () => MIB), { blockSize })).length;
        console.log(`      ${name}, ${blockSize / KIB} KiB blocks: ${ours} bytes, createGzip ${zlibs} (${((100 * (ours - zlibs)) / zlibs).toFixed(2)}%)`);
        // Besides 1%: per block a fresh Huffman header and the sync flush marker (~20 bytes; zeros compress to almost nothing).
        const slack = 32 * Math.ceil(input.length / blockSize);
        assert.ok(ours <= zlibs * 1.01 + slack, `${name}, ${blockSize / KIB} KiB blocks: ${ours} bytes against createGzip's ${zlibs}`);
      }
    }
  });

  it("a block that compresses to little does not hold a block-sized buffer (the upload gathers megabytes of them)", async () => {
    for await (const piece of parallelGzip(inPieces(Buffer.alloc(8 * MIB)), { blockSize: MIB })) {
      assert.ok(piece.buffer.byteLength <= Math.max(2 * piece.length, 8 * KIB), `${piece.length} bytes in a buffer of ${piece.buffer.byteLength}`);
    }
  });

  describe("with deflateRaw counted", () => {
    const original = zlib.deflateRaw;
    let running = 0;
    let most = 0;
    let calls = 0;
    /** While set, finished deflates are kept here instead of being answered. */
    let held: (() => void)[] | undefined;
    beforeEach(() => {
      running = most = calls = 0;
      held = undefined;
      // Completion comes back through the event loop (the thread pool), never before the
      // generator's synchronous and microtask work: "most" is what was in flight at once.
      (zlib as { deflateRaw: unknown }).deflateRaw = (data: Buffer, options: zlib.ZlibOptions, callback: (e: Error | null, r: Buffer) => void) => {
        calls++;
        most = Math.max(most, ++running);
        return original(data, options, (error, result) => {
          const answer = () => {
            running--;
            callback(error, result);
          };
          if (held) held.push(answer);
          else answer();
        });
      };
    });
    afterEach(() => {
      (zlib as { deflateRaw: unknown }).deflateRaw = original;
    });

    it("deflates as many blocks at once as asked, never more, output in order", async () => {
      const input = randomBytes(12 * SMALL + 5);
      for (const concurrency of [1, 2, 3, 4]) {
        running = most = calls = 0;
        const gz = await gzipAll(inPieces(input, () => 10_000), { blockSize: SMALL, concurrency });
        assert.equal(calls, 13);
        assert.equal(most, concurrency, `${concurrency} at once`);
        assert.ok(gunzipSync(gz).equals(input));
      }
    });

    it("reads no further ahead than the blocks in flight while the consumer waits", async () => {
      let read = 0;
      const input = (async function* () {
        for (let i = 0; i < 100; i++) {
          read += SMALL;
          yield randomBytes(SMALL);
        }
      })();
      const gz = parallelGzip(input, { blockSize: SMALL, concurrency: 3 });
      await gz.next(); // the header
      await gz.next(); // the first block's output
      // 3 in flight (the first one done), the one held back to learn it is not the last, a byte of the next.
      assert.ok(read <= 5 * SMALL, `read ${read / SMALL} blocks ahead`);
      assert.ok(most <= 3);
      await gz.return(undefined);
    });

    it("an abort while blocks are being deflated ends the wait at once with the signal's reason", async () => {
      held = [];
      const controller = new AbortController();
      const gz = parallelGzip(inPieces(randomBytes(4 * SMALL)), { blockSize: SMALL, concurrency: 2, signal: controller.signal });
      await gz.next(); // the header
      const waiting = gz.next();
      while (calls < 1) await new Promise(setImmediate); // a block handed to zlib, its answer held
      const before = calls;
      controller.abort(new Error("stop while deflating"));
      await assert.rejects(waiting, /stop while deflating/);
      assert.equal(calls, before, "no block after the abort");
      for (const answer of held.splice(0)) answer();
    });
  });

  it("an abort ends it with the signal's reason and closes the input", async () => {
    const tracked = endlessInput();
    const endless = tracked.input;
    const controller = new AbortController();
    const gz = parallelGzip(endless(), { blockSize: SMALL, concurrency: 2, signal: controller.signal });
    let pieces = 0;
    await assert.rejects(
      (async () => {
        for await (const _ of gz) {
          if (++pieces === 4) controller.abort(new Error("stop now"));
        }
      })(),
      /stop now/,
    );
    assert.equal(pieces, 4);
    assert.ok(tracked.closed, "the input was closed");
    await assert.rejects(parallelGzip(endless(), { signal: AbortSignal.abort(new Error("already")) }).next(), /already/);
  });

  it("a failing input or a failing deflate ends it with that error", async () => {
    const failing = async function* () {
      for (let i = 0; i < 6; i++) yield randomBytes(SMALL);
      throw new Error("the source broke");
    };
    await assert.rejects(gzipAll(failing(), { blockSize: SMALL, concurrency: 3 }), /the source broke/);

    const tracked = endlessInput();
    const input = tracked.input;
    await assert.rejects(gzipAll(input(), { blockSize: SMALL, level: 42 }), /level/);
    assert.ok(tracked.closed, "the input was closed");
  });

  it("a consumer that stops early closes the input", async () => {
    const tracked = endlessInput();
    const input = tracked.input;
    for await (const piece of parallelGzip(input(), { blockSize: SMALL })) {
      if (piece.length > 10) break;
    }
    assert.ok(tracked.closed, "the input was closed");
  });
});
