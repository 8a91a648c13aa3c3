// The NBD export against the protocol (NBD proto.md, fixed newstyle), spoken byte by byte by a
// small client in this file, and against qemu's own NBD client (qemu-img map / compare):
// option haggling (LIST, INFO, GO, STRUCTURED_REPLY, meta contexts, unknown options), reads
// answered with data and hole chunks without reading holes, block status with and without
// REQ_ONE, read-only refusals, range errors, simple replies when structured replies were not
// negotiated, several requests in flight answered out of order, and a socket path that would
// be too long for sun_path.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { promisify } from "node:util";
import { DataRange, DiskSource, NbdExport, serveOverNbd } from "../../engine/disk";
import { tempDir } from "../helpers/disks";

const run = promisify(execFile);
const KiB = 1024;
const MiB = 1024 * KiB;

const IHAVEOPT = 0x49484156454f5054n;
const OPT = { EXPORT_NAME: 1, ABORT: 2, LIST: 3, STARTTLS: 5, INFO: 6, GO: 7, STRUCTURED_REPLY: 8, LIST_META: 9, SET_META: 10 };
const REP = { ACK: 1, SERVER: 2, INFO: 3, META_CONTEXT: 4, ERR_UNSUP: 2 ** 31 + 1, ERR_INVALID: 2 ** 31 + 3, ERR_UNKNOWN: 2 ** 31 + 6 };
const CMD = { READ: 0, WRITE: 1, DISC: 2, FLUSH: 3, TRIM: 4, BLOCK_STATUS: 7 };
const CHUNK = { NONE: 0, DATA: 1, HOLE: 2, BLOCK_STATUS: 5, ERROR: 2 ** 15 + 1 };

/** An in-memory source: data in a few ranges, zeros elsewhere; it records every read. */
class MemorySource implements DiskSource {
  readonly name = "memory";
  readonly reads: { offset: number; length: number }[] = [];
  bytesRead = 0;
  constructor(
    readonly content: Buffer,
    private readonly ranges: DataRange[],
  ) {}
  get virtualSize() {
    return this.content.length;
  }
  async dataRanges(): Promise<DataRange[]> {
    return this.ranges.map((r) => ({ ...r }));
  }
  async read(offset: number, length: number): Promise<Buffer> {
    this.reads.push({ offset, length });
    // Later reads finish first, so replies go out of order.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 40 - this.reads.length * 10)));
    this.bytesRead += length;
    return Buffer.from(this.content.subarray(offset, offset + length));
  }
  async close() {}
}

/** A byte-level NBD client: exact reads off the socket. */
class Client {
  private buffered = Buffer.alloc(0);
  private waiting: (() => void) | undefined;
  closed = false;

  private constructor(readonly socket: net.Socket) {
    socket.on("data", (d: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, d]);
      this.waiting?.();
    });
    socket.on("close", () => {
      this.closed = true;
      this.waiting?.();
    });
  }

  static async connect(socketPath: string): Promise<Client> {
    const socket = net.createConnection(socketPath);
    await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
    return new Client(socket);
  }

  async take(n: number): Promise<Buffer> {
    while (this.buffered.length < n) {
      if (this.closed) throw new Error(`connection closed with ${this.buffered.length} of ${n} bytes`);
      await new Promise<void>((resolve) => (this.waiting = resolve));
    }
    const out = this.buffered.subarray(0, n);
    this.buffered = this.buffered.subarray(n);
    return out;
  }

  async handshake(clientFlags = 3): Promise<number> {
    const hello = await this.take(18);
    assert.equal(hello.toString("latin1", 0, 8), "NBDMAGIC");
    assert.equal(hello.readBigUInt64BE(8), IHAVEOPT);
    const flags = hello.readUInt16BE(16);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(clientFlags);
    this.socket.write(c);
    return flags;
  }

  sendOption(option: number, data: Buffer = Buffer.alloc(0)): void {
    const h = Buffer.alloc(16);
    h.writeBigUInt64BE(IHAVEOPT, 0);
    h.writeUInt32BE(option, 8);
    h.writeUInt32BE(data.length, 12);
    this.socket.write(Buffer.concat([h, data]));
  }

  async optionReply(): Promise<{ option: number; type: number; data: Buffer }> {
    const h = await this.take(20);
    assert.equal(h.readBigUInt64BE(0), 0x3e889045565a9n);
    const data = await this.take(h.readUInt32BE(16));
    return { option: h.readUInt32BE(8), type: h.readUInt32BE(12), data };
  }

  /** Replies up to and including the final one (ACK or an error). */
  async option(option: number, data?: Buffer): Promise<{ type: number; data: Buffer }[]> {
    this.sendOption(option, data);
    const replies: { type: number; data: Buffer }[] = [];
    for (;;) {
      const r = await this.optionReply();
      assert.equal(r.option, option);
      replies.push(r);
      if (r.type === REP.ACK || r.type >= 2 ** 31) return replies;
    }
  }

  request(type: number, handle: number, offset: number, length: number, flags = 0, payload?: Buffer): void {
    const h = Buffer.alloc(28);
    h.writeUInt32BE(0x25609513, 0);
    h.writeUInt16BE(flags, 4);
    h.writeUInt16BE(type, 6);
    h.writeBigUInt64BE(BigInt(handle), 8);
    h.writeBigUInt64BE(BigInt(offset), 16);
    h.writeUInt32BE(length, 24);
    this.socket.write(payload ? Buffer.concat([h, payload]) : h);
  }

  /** One structured chunk or simple reply (`dataLength` bytes follow a simple read reply). */
  async reply(dataLength = 0): Promise<{ simple: boolean; handle: number; flags: number; type: number; error: number; payload: Buffer }> {
    const magic = (await this.take(4)).readUInt32BE(0);
    if (magic === 0x67446698) {
      const rest = await this.take(12);
      const error = rest.readUInt32BE(0);
      const payload = error === 0 ? await this.take(dataLength) : Buffer.alloc(0);
      return { simple: true, handle: Number(rest.readBigUInt64BE(4)), flags: 1, type: -1, error, payload };
    }
    assert.equal(magic, 0x668e33ef, "structured reply magic");
    const rest = await this.take(16);
    const payload = await this.take(rest.readUInt32BE(12));
    const type = rest.readUInt16BE(2);
    return { simple: false, handle: Number(rest.readBigUInt64BE(4)), flags: rest.readUInt16BE(0), type, error: type & 0x8000 ? payload.readUInt32BE(0) : 0, payload };
  }

  /** Every chunk of one or more structured replies, grouped by handle, until each is done. */
  async replies(count: number): Promise<Map<number, Awaited<ReturnType<Client["reply"]>>[]>> {
    const byHandle = new Map<number, Awaited<ReturnType<Client["reply"]>>[]>();
    let done = 0;
    while (done < count) {
      const r = await this.reply();
      byHandle.set(r.handle, [...(byHandle.get(r.handle) ?? []), r]);
      if (r.flags & 1) done++;
    }
    return byHandle;
  }
}

function nameAndInfos(name: string, infos: number[]): Buffer {
  const n = Buffer.from(name);
  const b = Buffer.alloc(4 + n.length + 2 + 2 * infos.length);
  b.writeUInt32BE(n.length, 0);
  n.copy(b, 4);
  b.writeUInt16BE(infos.length, 4 + n.length);
  infos.forEach((t, i) => b.writeUInt16BE(t, 6 + n.length + 2 * i));
  return b;
}

function metaQuery(name: string, queries: string[]): Buffer {
  const parts: Buffer[] = [];
  const u32 = (v: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v);
    return b;
  };
  parts.push(u32(Buffer.byteLength(name)), Buffer.from(name), u32(queries.length));
  for (const q of queries) parts.push(u32(Buffer.byteLength(q)), Buffer.from(q));
  return Buffer.concat(parts);
}

describe("disk: the NBD export speaks fixed newstyle NBD", function () {
  this.timeout(60_000);
  let tmp: { dir: string; remove(): Promise<void> };
  // 8 MiB: data at [1 MiB, 1 MiB + 64 KiB) and [4 MiB - 4 KiB, 5 MiB), zeros elsewhere.
  const SIZE = 8 * MiB;
  const RANGES: DataRange[] = [
    { start: MiB, length: 64 * KiB },
    { start: 4 * MiB - 4 * KiB, length: MiB + 4 * KiB },
  ];
  const content = Buffer.alloc(SIZE);
  for (const r of RANGES) for (let i = r.start; i < r.start + r.length; i++) content[i] = (i * 7 + 3) & 0xff;
  let source: MemorySource;
  let nbd: NbdExport;
  const served: { offset: number; length: number }[] = [];

  before(async () => {
    tmp = await tempDir("nbd-export");
    source = new MemorySource(content, RANGES);
    nbd = await serveOverNbd(source, {
      socketDir: tmp.dir,
      signal: new AbortController().signal,
      onData: (offset, data) => void served.push({ offset, length: data.length }),
    });
  });
  after(async () => {
    await nbd.close();
    await tmp.remove();
  });

  it("negotiates: unknown options are UNSUP, LIST names the default export, meta contexts need structured replies, GO reports size and flags", async () => {
    const c = await Client.connect(nbd.socketPath);
    const flags = await c.handshake();
    assert.equal(flags, 3, "FIXED_NEWSTYLE | NO_ZEROES");
    assert.equal((await c.option(OPT.STARTTLS))[0]!.type, REP.ERR_UNSUP);
    assert.equal((await c.option(99))[0]!.type, REP.ERR_UNSUP);
    assert.equal((await c.option(11))[0]!.type, REP.ERR_UNSUP, "EXTENDED_HEADERS: newer qemu falls back to structured replies");
    const list = await c.option(OPT.LIST);
    assert.deepEqual(list.map((r) => r.type), [REP.SERVER, REP.ACK]);
    assert.equal(list[0]!.data.readUInt32BE(0), 0, "the default export has the empty name");
    assert.equal((await c.option(OPT.LIST, Buffer.from("x")))[0]!.type, REP.ERR_INVALID);
    assert.equal((await c.option(OPT.SET_META, metaQuery("", ["base:allocation"])))[0]!.type, REP.ERR_INVALID, "needs structured replies first");
    assert.deepEqual((await c.option(OPT.STRUCTURED_REPLY)).map((r) => r.type), [REP.ACK]);
    const listed = await c.option(OPT.LIST_META, metaQuery("", []));
    assert.deepEqual(listed.map((r) => r.type), [REP.META_CONTEXT, REP.ACK]);
    assert.equal(listed[0]!.data.toString("utf8", 4), "base:allocation");
    assert.deepEqual((await c.option(OPT.SET_META, metaQuery("", ["x-unknown:thing"]))).map((r) => r.type), [REP.ACK], "nothing selected");
    const set = await c.option(OPT.SET_META, metaQuery("", ["base:allocation"]));
    assert.deepEqual(set.map((r) => r.type), [REP.META_CONTEXT, REP.ACK]);
    assert.equal((await c.option(OPT.INFO, nameAndInfos("other", [])))[0]!.type, REP.ERR_UNKNOWN);
    const info = await c.option(OPT.INFO, nameAndInfos("", [3]));
    assert.deepEqual(info.map((r) => r.type), [REP.INFO, REP.INFO, REP.ACK]);
    const exportInfo = info[0]!.data;
    assert.equal(exportInfo.readUInt16BE(0), 0, "NBD_INFO_EXPORT");
    assert.equal(Number(exportInfo.readBigUInt64BE(2)), SIZE);
    const tflags = exportInfo.readUInt16BE(10);
    assert.equal(tflags, 1 | 2 | 4 | 128 | 256, "HAS_FLAGS | READ_ONLY | SEND_FLUSH | SEND_DF | CAN_MULTI_CONN");
    assert.equal(info[1]!.data.readUInt16BE(0), 3, "NBD_INFO_BLOCK_SIZE");
    assert.deepEqual((await c.option(OPT.ABORT)).map((r) => r.type), [REP.ACK]);
    c.socket.destroy();
  });

  it("transmits: many requests in flight, data and hole chunks, holes never read, block status, read-only and range errors", async () => {
    const c = await Client.connect(nbd.socketPath);
    await c.handshake();
    await c.option(OPT.STRUCTURED_REPLY);
    await c.option(OPT.SET_META, metaQuery("", ["base:allocation"]));
    const go = await c.option(OPT.GO, nameAndInfos("", []));
    assert.equal(go[go.length - 1]!.type, REP.ACK);
    source.reads.length = 0;

    // All at once: the server answers as the reads complete.
    c.request(CMD.READ, 1, MiB - 4 * KiB, 72 * KiB); // hole, data, hole
    c.request(CMD.READ, 2, 2 * MiB, 64 * KiB); // all hole
    c.request(CMD.READ, 3, MiB - 4 * KiB, 72 * KiB, 1 << 2); // same, DF: one data chunk
    c.request(CMD.BLOCK_STATUS, 4, 0, SIZE, 1 << 3); // REQ_ONE
    c.request(CMD.BLOCK_STATUS, 5, 0, SIZE);
    c.request(CMD.WRITE, 6, 0, 512, 0, Buffer.alloc(512, 1));
    c.request(CMD.TRIM, 7, 0, 512);
    c.request(CMD.READ, 8, SIZE - 512, 1024); // past the end
    c.request(CMD.FLUSH, 9, 0, 0);
    c.request(CMD.READ, 10, 4 * MiB + 100, 1000); // inside data: read from the source
    const byHandle = await c.replies(10);

    const one = byHandle.get(1)!;
    assert.deepEqual(one.map((r) => r.type), [CHUNK.HOLE, CHUNK.DATA, CHUNK.HOLE]);
    assert.equal(Number(one[1]!.payload.readBigUInt64BE(0)), MiB);
    assert.ok(one[1]!.payload.subarray(8).equals(content.subarray(MiB, MiB + 64 * KiB)));
    assert.equal(one[2]!.flags & 1, 1, "the last chunk is marked done");
    assert.deepEqual(byHandle.get(2)!.map((r) => r.type), [CHUNK.HOLE]);
    const df = byHandle.get(3)!;
    assert.deepEqual(df.map((r) => r.type), [CHUNK.DATA]);
    assert.ok(df[0]!.payload.subarray(8).equals(content.subarray(MiB - 4 * KiB, MiB + 68 * KiB)));

    const reqOne = byHandle.get(4)![0]!;
    assert.equal(reqOne.type, CHUNK.BLOCK_STATUS);
    assert.equal(reqOne.payload.length, 4 + 8, "one descriptor");
    assert.deepEqual([reqOne.payload.readUInt32BE(4), reqOne.payload.readUInt32BE(8)], [MiB, 3], "a hole that reads as zeros");
    const all = byHandle.get(5)![0]!.payload;
    const descriptors: [number, number][] = [];
    for (let at = 4; at < all.length; at += 8) descriptors.push([all.readUInt32BE(at), all.readUInt32BE(at + 4)]);
    assert.deepEqual(descriptors, [
      [MiB, 3],
      [64 * KiB, 0],
      [3 * MiB - 68 * KiB, 3],
      [MiB + 4 * KiB, 0],
      [3 * MiB, 3],
    ]);

    assert.equal(byHandle.get(6)![0]!.error, 1, "write: EPERM");
    assert.equal(byHandle.get(7)![0]!.error, 1, "trim: EPERM");
    assert.equal(byHandle.get(8)![0]!.error, 22, "past the end: EINVAL");
    assert.equal(byHandle.get(9)![0]!.error, 0, "flush: ok");
    const inData = byHandle.get(10)!;
    assert.deepEqual(inData.map((r) => r.type), [CHUNK.DATA]);
    assert.ok(inData[0]!.payload.subarray(8).equals(content.subarray(4 * MiB + 100, 4 * MiB + 1100)));

    for (const r of source.reads) {
      assert.ok(RANGES.some((d) => r.offset >= d.start && r.offset + r.length <= d.start + d.length), `read ${r.offset}+${r.length} lies in a data range`);
    }
    const order = [...byHandle.keys()];
    assert.notDeepEqual(order, [...order].sort((a, b) => a - b), "replies came out of order");

    c.request(CMD.DISC, 11, 0, 0);
    await new Promise<void>((resolve) => (c.closed ? resolve() : c.socket.once("close", () => resolve())));
  });

  it("without structured replies: EXPORT_NAME, then simple replies with the holes as zeros", async () => {
    const c = await Client.connect(nbd.socketPath);
    await c.handshake(1); // FIXED_NEWSTYLE only: the 124 zero bytes follow the export answer
    c.sendOption(OPT.EXPORT_NAME, Buffer.alloc(0));
    const answer = await c.take(8 + 2 + 124);
    assert.equal(Number(answer.readBigUInt64BE(0)), SIZE);
    assert.equal(answer.readUInt16BE(8) & 128, 0, "no SEND_DF without structured replies");
    c.request(CMD.READ, 1, MiB - 4 * KiB, 72 * KiB);
    const r = await c.reply(72 * KiB);
    assert.equal(r.simple, true);
    assert.equal(r.error, 0);
    assert.ok(r.payload.equals(content.subarray(MiB - 4 * KiB, MiB + 68 * KiB)));
    c.request(CMD.BLOCK_STATUS, 2, 0, MiB);
    assert.equal((await c.reply()).error, 22, "block status without a meta context: EINVAL");
    c.request(CMD.DISC, 3, 0, 0);
    c.socket.destroy();
  });

  it("qemu's own client maps and reads it: qemu-img map shows the data ranges, qemu-img compare sees the content", async () => {
    const { stdout } = await run("qemu-img", ["map", "--output=json", "-f", "raw", nbd.uri]);
    const extents = (JSON.parse(stdout) as { start: number; length: number; data: boolean }[]).filter((e) => e.data);
    assert.deepEqual(
      extents.map((e) => ({ start: e.start, length: e.length })),
      RANGES,
    );
    const raw = path.join(tmp.dir, "content.raw");
    await fs.writeFile(raw, content);
    await run("qemu-img", ["compare", "-f", "raw", "-F", "raw", nbd.uri, raw]);
    assert.ok(served.every((s) => RANGES.some((d) => s.offset >= d.start && s.offset + s.length <= d.start + d.length)));
  });

  it("a socket directory too long for sun_path gets a short private directory instead; close removes it", async () => {
    const deep = path.join(tmp.dir, "d".repeat(60), "e".repeat(60));
    const other = await serveOverNbd(source, { socketDir: deep, signal: new AbortController().signal });
    try {
      assert.ok(Buffer.byteLength(other.socketPath) <= 107, other.socketPath);
      assert.ok(!other.socketPath.startsWith(deep));
      const mode = (await fs.stat(path.dirname(other.socketPath))).mode & 0o777;
      assert.equal(mode, 0o700);
      await run("qemu-img", ["info", "-f", "raw", other.uri]);
    } finally {
      await other.close();
    }
    await assert.rejects(fs.stat(path.dirname(other.socketPath)), { code: "ENOENT" });
    await other.close(); // twice is fine
  });
});
