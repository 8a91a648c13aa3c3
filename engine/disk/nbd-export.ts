// A read-only NBD server for one DiskSource on a unix socket, so qemu-img (or any NBD client)
// reads the disk wherever it lies, as virt-v2v exposes each input disk as an NBD endpoint for
// its one copier. The protocol is the NBD project's proto.md, fixed newstyle negotiation:
//
// - handshake flags FIXED_NEWSTYLE and NO_ZEROES; options EXPORT_NAME, ABORT, LIST, INFO, GO
//   (NBD_INFO_EXPORT, and NAME / BLOCK_SIZE when asked), STRUCTURED_REPLY, LIST_META_CONTEXT and
//   SET_META_CONTEXT for `base:allocation`; every other option gets NBD_REP_ERR_UNSUP.
// - transmission: READ (structured replies when negotiated: OFFSET_DATA for data, OFFSET_HOLE for
//   the source's holes, never reading them; simple replies otherwise), BLOCK_STATUS for
//   base:allocation (data ranges 0, holes HOLE|ZERO; REQ_ONE honoured; at most
//   MAX_DESCRIPTORS per reply), FLUSH (nothing to flush), DISC; writes, trim and write-zeroes
//   fail with EPERM, ranges past the end with EINVAL.
// - many requests in flight per connection, answered as they complete (out of order), each
//   reply written as one buffer; source reads are bounded across all connections.
// - a failed source read fails that request with EIO, and the first such error is kept
//   (`failure()`), so the caller reports the source's own coded error, not "qemu-img failed".
//
// Written on node:net because no NBD server library exists for Node (the npm registry has
// none); nbdkit would be the alternative, but its plugins are C, Python, Go or shell scripts,
// not the TypeScript DiskSources this engine has, and it is one more daemon to supervise.

import { promises as fs } from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as nodePath from "node:path";
import { jobFailure } from "../errors";
import { checkedDataRanges, rangePieces } from "./data-ranges";
import { DataRange, DiskSource } from "./source";
import { takeBytes } from "./take-bytes";

// Magic numbers (proto.md).
const NBDMAGIC = 0x4e42444d41474943n;
const IHAVEOPT = 0x49484156454f5054n;
const OPTION_REPLY_MAGIC = 0x3e889045565a9n;
const REQUEST_MAGIC = 0x25609513;
const SIMPLE_REPLY_MAGIC = 0x67446698;
const STRUCTURED_REPLY_MAGIC = 0x668e33ef;

// Handshake and client flags.
const FLAG_FIXED_NEWSTYLE = 1 << 0;
const FLAG_NO_ZEROES = 1 << 1;
const CLIENT_FLAGS_KNOWN = FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES;

// Transmission flags.
const FLAG_HAS_FLAGS = 1 << 0;
const FLAG_READ_ONLY = 1 << 1;
const FLAG_SEND_FLUSH = 1 << 2;
const FLAG_SEND_DF = 1 << 7;
const FLAG_CAN_MULTI_CONN = 1 << 8;

// Options.
const OPT_EXPORT_NAME = 1;
const OPT_ABORT = 2;
const OPT_LIST = 3;
const OPT_INFO = 6;
const OPT_GO = 7;
const OPT_STRUCTURED_REPLY = 8;
const OPT_LIST_META_CONTEXT = 9;
const OPT_SET_META_CONTEXT = 10;

// Option replies.
const REP_ACK = 1;
const REP_SERVER = 2;
const REP_INFO = 3;
const REP_META_CONTEXT = 4;
const REP_ERR_UNSUP = 2 ** 31 + 1;
const REP_ERR_INVALID = 2 ** 31 + 3;
const REP_ERR_UNKNOWN = 2 ** 31 + 6;
const REP_ERR_SHUTDOWN = 2 ** 31 + 7;

// NBD_REP_INFO types.
const INFO_EXPORT = 0;
const INFO_NAME = 1;
const INFO_BLOCK_SIZE = 3;

// Commands and their flags.
const CMD_READ = 0;
const CMD_WRITE = 1;
const CMD_DISC = 2;
const CMD_FLUSH = 3;
const CMD_TRIM = 4;
const CMD_WRITE_ZEROES = 6;
const CMD_BLOCK_STATUS = 7;
const CMD_FLAG_DF = 1 << 2;
const CMD_FLAG_REQ_ONE = 1 << 3;

// Structured reply chunks.
const REPLY_FLAG_DONE = 1;
const REPLY_TYPE_NONE = 0;
const REPLY_TYPE_OFFSET_DATA = 1;
const REPLY_TYPE_OFFSET_HOLE = 2;
const REPLY_TYPE_BLOCK_STATUS = 5;
const REPLY_TYPE_ERROR = 2 ** 15 + 1;

// base:allocation.
const BASE_ALLOCATION = "base:allocation";
const META_CONTEXT_ID = 1;
const STATE_HOLE = 1;
const STATE_ZERO = 2;

// errno values on the wire.
const EPERM = 1;
const EIO = 5;
const EINVAL = 22;
const EOVERFLOW = 75;
const ESHUTDOWN = 108;

/** The export's one name: the default export (`nbd+unix:///`). */
const EXPORT_NAME = "";
/** Largest read (and ignored write payload) accepted: qemu's NBD_MAX_BUFFER_SIZE. */
export const NBD_MAX_REQUEST = 32 * 1024 * 1024;
/** Options longer than this are not from an honest client. */
const MAX_OPTION_LENGTH = 64 * 1024;
/** Block status descriptors per reply without REQ_ONE. */
export const MAX_DESCRIPTORS = 256;
/** Requests, and bytes of reads, one connection may have in flight before the server stops reading more. */
const MAX_IN_FLIGHT = 64;
const MAX_IN_FLIGHT_BYTES = 64 * 1024 * 1024;
/** Replies queued for a slow client beyond which no new request is read until they drain. */
const MAX_QUEUED_REPLIES = 64 * 1024 * 1024;
/** Source reads running at once across all connections, by default. */
const DEFAULT_SOURCE_READS = 8;
/** sun_path is 108 bytes with its terminating NUL. */
const MAX_SOCKET_PATH = 107;

export interface NbdExportOptions {
  /** Where the socket goes (in a private 0700 directory); a short temp directory if the path would be too long. */
  socketDir: string;
  /** Aborting stops the server as `close()` does. */
  signal: AbortSignal;
  /** Every piece of data read from the source (guest offset, bytes), as it is served; a returned promise holds the read back (backpressure). */
  onData?(offset: number, data: Buffer): void | Promise<void>;
  /** The source's data ranges when the caller already asked for them (they are asked once per use). */
  dataRanges?: readonly DataRange[];
  /** Source reads running at once across all connections (default 8). */
  maxSourceReads?: number;
}

export interface NbdExport {
  /** For qemu: `nbd+unix:///?socket=PATH`. */
  uri: string;
  socketPath: string;
  /** Stops the server, drops its connections and removes the socket; safe to call twice. */
  close(): Promise<void>;
  /** The first error a source read threw, if any. */
  failure(): unknown;
  /** Guest bytes read from the source and served. */
  readonly bytesServed: number;
}

/** Serves `source` read-only over NBD on a new unix socket until closed or aborted. */
export async function serveOverNbd(source: DiskSource, options: NbdExportOptions): Promise<NbdExport> {
  const { signal } = options;
  signal.throwIfAborted();
  const ranges = checkedDataRanges(options.dataRanges ?? (await source.dataRanges(signal)), source.virtualSize, source.name);
  const { dir, socketPath } = await privateSocketPath(options.socketDir);

  const stopping = new AbortController();
  const readSignal = AbortSignal.any([signal, stopping.signal]);
  const slots = new Semaphore(options.maxSourceReads ?? DEFAULT_SOURCE_READS);
  const sockets = new Set<net.Socket>();
  const sessions = new Set<Promise<void>>();
  let firstFailure: unknown;
  let served = 0;

  const exported: Export = {
    ranges,
    size: source.virtualSize,
    stopping: stopping.signal,
    async read(offset, length) {
      await slots.acquire(readSignal);
      try {
        const data = await source.read(offset, length, readSignal);
        if (data.length !== length) {
          throw new Error(`the source ${source.name} returned ${data.length} bytes for a read of ${length} at ${offset}`);
        }
        served += length;
        await options.onData?.(offset, data);
        return data;
      } catch (error) {
        if (firstFailure === undefined && !readSignal.aborted) firstFailure = error;
        throw error;
      } finally {
        slots.release();
      }
    },
  };

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => undefined); // a client that vanishes ends its session; nothing to report
    const session = serveConnection(socket, exported)
      .catch(() => undefined)
      .finally(() => {
        socket.destroy();
        sockets.delete(socket);
        sessions.delete(session);
      });
    sessions.add(session);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(socketPath, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (error) {
    await fs.rm(dir, { recursive: true, force: true });
    throw error;
  }

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      signal.removeEventListener("abort", onAbort);
      stopping.abort(new Error("the NBD export was closed"));
      // server.close() waits for the connections, so they are dropped right after it.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
      // Sessions end once their source reads (aborted above) have settled.
      await Promise.allSettled([...sessions]);
      await fs.rm(dir, { recursive: true, force: true });
    })());
  const onAbort = () => void close();
  signal.addEventListener("abort", onAbort, { once: true });
  if (signal.aborted) {
    await close();
    throw signal.reason;
  }

  return {
    uri: `nbd+unix:///?socket=${socketPath.split("/").map(encodeURIComponent).join("/")}`,
    socketPath,
    close,
    failure: () => firstFailure,
    get bytesServed() {
      return served;
    },
  };
}

/** What a connection serves. */
interface Export {
  ranges: readonly DataRange[];
  size: number;
  stopping: AbortSignal;
  /** A bounded, recorded, checked source read. */
  read(offset: number, length: number): Promise<Buffer>;
}

/** A fresh 0700 directory for the socket, short enough for sun_path. */
async function privateSocketPath(socketDir: string): Promise<{ dir: string; socketPath: string }> {
  const fits = (dir: string) => Buffer.byteLength(nodePath.join(dir, "nbd-XXXXXX", "nbd.sock")) <= MAX_SOCKET_PATH;
  let parent = nodePath.resolve(socketDir);
  try {
    if (fits(parent)) await fs.mkdir(parent, { recursive: true });
    else parent = fits(os.tmpdir()) ? os.tmpdir() : "/tmp";
    const dir = await fs.mkdtemp(nodePath.join(parent, "nbd-"));
    await fs.chmod(dir, 0o700);
    return { dir, socketPath: nodePath.join(dir, "nbd.sock") };
  } catch (error) {
    throw jobFailure(
      "DISK_TOOL_FAILED",
      `The disk could not be served to qemu-img: no socket directory could be made in '${parent}' ` +
        `(${(error as NodeJS.ErrnoException).code ?? error}). Point the engine's work directory at a writable local directory.`,
      error,
    );
  }
}

/** Counts source reads in flight; waiters give up when the export stops. */
class Semaphore {
  private waiting: (() => void)[] = [];
  constructor(private free: number) {}

  async acquire(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.waiting = this.waiting.filter((w) => w !== go);
        reject(signal.reason);
      };
      const go = () => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      };
      this.waiting.push(go);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}

class ConnectionClosed extends Error {
  override readonly name = "ConnectionClosed";
}

/** Exact-length reads from a socket, pausing it while enough is buffered. */
class Incoming {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private wanted: { length: number; resolve(b: Buffer): void; reject(e: unknown): void } | undefined;
  private ended = false;
  private static readonly HIGH_WATER = 1024 * 1024;

  constructor(private readonly socket: net.Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      if (this.buffered > Incoming.HIGH_WATER && !this.wanted) socket.pause();
      this.serve();
    });
    const end = () => {
      this.ended = true;
      this.serve();
    };
    socket.on("end", end);
    socket.on("close", end);
  }

  read(length: number): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      this.wanted = { length, resolve, reject };
      this.serve();
    });
  }

  private serve(): void {
    const w = this.wanted;
    if (!w) return;
    if (this.buffered >= w.length) {
      this.wanted = undefined;
      w.resolve(this.take(w.length));
    } else if (this.ended) {
      this.wanted = undefined;
      w.reject(new ConnectionClosed("the client closed the connection"));
    } else if (this.socket.isPaused()) {
      this.socket.resume();
    }
  }

  private take(length: number): Buffer {
    this.buffered -= length;
    return takeBytes(this.chunks, length);
  }
}

/** Negotiated state of one connection. */
interface Session {
  noZeroes: boolean;
  structured: boolean;
  /** base:allocation selected by SET_META_CONTEXT. */
  baseAllocation: boolean;
}

async function serveConnection(socket: net.Socket, ex: Export): Promise<void> {
  const incoming = new Incoming(socket);
  const send = (buf: Buffer) => {
    if (!socket.destroyed) socket.write(buf);
  };
  const hello = Buffer.alloc(18);
  hello.writeBigUInt64BE(NBDMAGIC, 0);
  hello.writeBigUInt64BE(IHAVEOPT, 8);
  hello.writeUInt16BE(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES, 16);
  send(hello);
  const clientFlags = (await incoming.read(4)).readUInt32BE(0);
  if (clientFlags & ~CLIENT_FLAGS_KNOWN) return; // proto.md: unknown client flags end the session
  const session: Session = { noZeroes: (clientFlags & FLAG_NO_ZEROES) !== 0, structured: false, baseAllocation: false };
  if (await negotiate(incoming, send, ex, session)) await transmit(incoming, send, socket, ex, session);
}

function transmissionFlags(session: Session): number {
  // Read-only with no cache: every connection sees the same bytes, so multi-conn is safe.
  return FLAG_HAS_FLAGS | FLAG_READ_ONLY | FLAG_SEND_FLUSH | FLAG_CAN_MULTI_CONN | (session.structured ? FLAG_SEND_DF : 0);
}

/** Option haggling; true when transmission starts. */
async function negotiate(incoming: Incoming, send: (b: Buffer) => void, ex: Export, session: Session): Promise<boolean> {
  const reply = (option: number, type: number, data: Buffer = Buffer.alloc(0)) => {
    const header = Buffer.alloc(20);
    header.writeBigUInt64BE(OPTION_REPLY_MAGIC, 0);
    header.writeUInt32BE(option, 8);
    header.writeUInt32BE(type, 12);
    header.writeUInt32BE(data.length, 16);
    send(Buffer.concat([header, data]));
  };
  const error = (option: number, type: number, message: string) => reply(option, type, Buffer.from(message));

  for (;;) {
    const header = await incoming.read(16);
    if (header.readBigUInt64BE(0) !== IHAVEOPT) return false;
    const option = header.readUInt32BE(8);
    const length = header.readUInt32BE(12);
    if (length > MAX_OPTION_LENGTH) return false;
    const data = length > 0 ? await incoming.read(length) : Buffer.alloc(0);
    if (ex.stopping.aborted && option !== OPT_ABORT) {
      if (option === OPT_EXPORT_NAME) return false;
      error(option, REP_ERR_SHUTDOWN, "the server is shutting down");
      continue;
    }

    switch (option) {
      case OPT_EXPORT_NAME: {
        // No way to refuse but to hang up.
        if (data.toString("utf8") !== EXPORT_NAME) return false;
        const answer = Buffer.alloc(session.noZeroes ? 10 : 134);
        answer.writeBigUInt64BE(BigInt(ex.size), 0);
        answer.writeUInt16BE(transmissionFlags(session), 8);
        send(answer);
        return true;
      }
      case OPT_ABORT:
        reply(option, REP_ACK);
        return false;
      case OPT_LIST: {
        if (length !== 0) {
          error(option, REP_ERR_INVALID, "NBD_OPT_LIST takes no data");
          break;
        }
        const name = Buffer.from(EXPORT_NAME);
        const entry = Buffer.alloc(4 + name.length);
        entry.writeUInt32BE(name.length, 0);
        name.copy(entry, 4);
        reply(option, REP_SERVER, entry);
        reply(option, REP_ACK);
        break;
      }
      case OPT_INFO:
      case OPT_GO: {
        const request = parseInfoRequest(data);
        if (!request) {
          error(option, REP_ERR_INVALID, "malformed NBD_OPT_INFO/GO");
          break;
        }
        if (request.name !== EXPORT_NAME) {
          error(option, REP_ERR_UNKNOWN, `no export named '${request.name}'; this server has only the default export`);
          break;
        }
        const exportInfo = Buffer.alloc(12);
        exportInfo.writeUInt16BE(INFO_EXPORT, 0);
        exportInfo.writeBigUInt64BE(BigInt(ex.size), 2);
        exportInfo.writeUInt16BE(transmissionFlags(session), 10);
        reply(option, REP_INFO, exportInfo);
        if (request.types.includes(INFO_NAME)) {
          reply(option, REP_INFO, Buffer.concat([u16(INFO_NAME), Buffer.from(EXPORT_NAME)]));
        }
        if (request.types.includes(INFO_BLOCK_SIZE)) {
          const sizes = Buffer.alloc(14);
          sizes.writeUInt16BE(INFO_BLOCK_SIZE, 0);
          sizes.writeUInt32BE(1, 2); // any alignment
          sizes.writeUInt32BE(4096, 6); // preferred
          sizes.writeUInt32BE(NBD_MAX_REQUEST, 10); // largest payload
          reply(option, REP_INFO, sizes);
        }
        reply(option, REP_ACK);
        if (option === OPT_GO) return true;
        break;
      }
      case OPT_STRUCTURED_REPLY:
        if (length !== 0) {
          error(option, REP_ERR_INVALID, "NBD_OPT_STRUCTURED_REPLY takes no data");
          break;
        }
        session.structured = true;
        reply(option, REP_ACK);
        break;
      case OPT_LIST_META_CONTEXT:
      case OPT_SET_META_CONTEXT: {
        // SET replaces the selection even when it fails.
        if (option === OPT_SET_META_CONTEXT) session.baseAllocation = false;
        if (!session.structured) {
          error(option, REP_ERR_INVALID, "negotiate structured replies before metadata contexts");
          break;
        }
        const request = parseMetaRequest(data);
        if (!request) {
          error(option, REP_ERR_INVALID, "malformed metadata context request");
          break;
        }
        if (request.name !== EXPORT_NAME) {
          error(option, REP_ERR_UNKNOWN, `no export named '${request.name}'`);
          break;
        }
        const listing = option === OPT_LIST_META_CONTEXT;
        // A list without queries, or the namespace alone, names every context of the namespace.
        const selected =
          request.queries.includes(BASE_ALLOCATION) ||
          (listing && (request.queries.length === 0 || request.queries.includes("base:")));
        if (!listing) session.baseAllocation = selected;
        if (selected) {
          const name = Buffer.from(BASE_ALLOCATION);
          reply(option, REP_META_CONTEXT, Buffer.concat([u32(listing ? 0 : META_CONTEXT_ID), name]));
        }
        reply(option, REP_ACK);
        break;
      }
      default:
        error(option, REP_ERR_UNSUP, `option ${option} is not supported by this server`);
    }
  }
}

function u16(value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(value);
  return b;
}

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value);
  return b;
}

/** NBD_OPT_INFO/GO data: name length, name, count of info requests, the requests (16 bits each). */
function parseInfoRequest(data: Buffer): { name: string; types: number[] } | undefined {
  if (data.length < 6) return undefined;
  const nameLength = data.readUInt32BE(0);
  if (4 + nameLength + 2 > data.length) return undefined;
  const name = data.toString("utf8", 4, 4 + nameLength);
  const count = data.readUInt16BE(4 + nameLength);
  if (6 + nameLength + 2 * count !== data.length) return undefined;
  const types: number[] = [];
  for (let i = 0; i < count; i++) types.push(data.readUInt16BE(6 + nameLength + 2 * i));
  return { name, types };
}

/** NBD_OPT_{LIST,SET}_META_CONTEXT data: name length, name, query count, then (length, query) each. */
function parseMetaRequest(data: Buffer): { name: string; queries: string[] } | undefined {
  if (data.length < 8) return undefined;
  const nameLength = data.readUInt32BE(0);
  let at = 4 + nameLength;
  if (at + 4 > data.length) return undefined;
  const name = data.toString("utf8", 4, at);
  const count = data.readUInt32BE(at);
  at += 4;
  const queries: string[] = [];
  for (let i = 0; i < count; i++) {
    if (at + 4 > data.length) return undefined;
    const length = data.readUInt32BE(at);
    at += 4;
    if (at + length > data.length) return undefined;
    queries.push(data.toString("utf8", at, at + length));
    at += length;
  }
  return at === data.length ? { name, queries } : undefined;
}

async function transmit(
  incoming: Incoming,
  send: (b: Buffer) => void,
  socket: net.Socket,
  ex: Export,
  session: Session,
): Promise<void> {
  const inFlight = new Set<Promise<void>>();
  let inFlightBytes = 0;
  const track = (work: Promise<void>, bytes: number) => {
    inFlightBytes += bytes;
    const p = work
      .catch(() => undefined)
      .finally(() => {
        inFlight.delete(p);
        inFlightBytes -= bytes;
      });
    inFlight.add(p);
  };
  const drained = () =>
    new Promise<void>((resolve) => {
      const done = () => {
        socket.off("drain", done);
        socket.off("close", done);
        resolve();
      };
      socket.on("drain", done);
      socket.on("close", done);
    });
  try {
    for (;;) {
      const header = await incoming.read(28);
      if (header.readUInt32BE(0) !== REQUEST_MAGIC) return; // not NBD: hang up
      const flags = header.readUInt16BE(4);
      const type = header.readUInt16BE(6);
      const handle = Buffer.from(header.subarray(8, 16));
      const offset = header.readBigUInt64BE(16);
      const length = header.readUInt32BE(24);
      const r = new Replies(send, handle, session.structured);
      const inRange = offset + BigInt(length) <= BigInt(ex.size);

      if (type === CMD_DISC) {
        await Promise.allSettled([...inFlight]);
        socket.end();
        return;
      }
      if (ex.stopping.aborted) {
        if (type === CMD_WRITE) await incoming.read(Math.min(length, NBD_MAX_REQUEST));
        r.error(ESHUTDOWN, "the server is shutting down");
        continue;
      }
      switch (type) {
        case CMD_READ:
          if (!inRange) r.error(EINVAL, "read past the end of the export");
          else if (length > NBD_MAX_REQUEST) r.error(EOVERFLOW, `reads are limited to ${NBD_MAX_REQUEST} bytes`);
          else track(answerRead(r, ex, Number(offset), length, (flags & CMD_FLAG_DF) !== 0), length);
          break;
        case CMD_WRITE:
          if (length > NBD_MAX_REQUEST) return; // cannot skip the payload safely: hang up
          await incoming.read(length);
          r.error(EPERM, "the export is read-only");
          break;
        case CMD_TRIM:
        case CMD_WRITE_ZEROES:
          r.error(EPERM, "the export is read-only");
          break;
        case CMD_FLUSH:
          r.ok();
          break;
        case CMD_BLOCK_STATUS:
          if (!session.structured || !session.baseAllocation) r.error(EINVAL, "no metadata context was negotiated");
          else if (!inRange || length === 0) r.error(EINVAL, "block status outside the export");
          else r.blockStatus(ex.ranges, Number(offset), length, (flags & CMD_FLAG_REQ_ONE) !== 0);
          break;
        default:
          r.error(EINVAL, `command ${type} is not supported`);
      }
      // Memory stays bounded whatever the client does: stop reading requests while too much is pending.
      while (inFlight.size >= MAX_IN_FLIGHT || inFlightBytes > MAX_IN_FLIGHT_BYTES) await Promise.race(inFlight);
      if (socket.writableLength > MAX_QUEUED_REPLIES && !socket.destroyed) await drained();
    }
  } finally {
    await Promise.allSettled([...inFlight]);
  }
}

async function answerRead(r: Replies, ex: Export, offset: number, length: number, dontFragment: boolean): Promise<void> {
  const pieces = [...rangePieces(ex.ranges, offset, offset + length)];
  const reads = await Promise.allSettled(pieces.map((p) => (p.data ? ex.read(p.start, p.length) : Promise.resolve(undefined))));
  if (reads.some((x) => x.status === "rejected")) {
    r.error(EIO, `reading ${length} bytes at ${offset} from the source failed`);
    return;
  }
  const parts = pieces.map((p, i) => ({ ...p, bytes: (reads[i] as PromiseFulfilledResult<Buffer | undefined>).value }));
  r.read(offset, length, parts, dontFragment);
}

/** The replies to one request, each written as one buffer. */
class Replies {
  constructor(
    private readonly send: (b: Buffer) => void,
    private readonly handle: Buffer,
    private readonly structured: boolean,
  ) {}

  ok(): void {
    this.send(this.simple(0));
  }

  error(errno: number, message: string): void {
    if (!this.structured) {
      this.send(this.simple(errno));
      return;
    }
    const text = Buffer.from(message.slice(0, 200));
    const payload = Buffer.alloc(6 + text.length);
    payload.writeUInt32BE(errno, 0);
    payload.writeUInt16BE(text.length, 4);
    text.copy(payload, 6);
    this.send(Buffer.concat([this.chunkHeader(REPLY_FLAG_DONE, REPLY_TYPE_ERROR, payload.length), payload]));
  }

  read(offset: number, length: number, parts: { start: number; length: number; bytes?: Buffer | undefined }[], dontFragment: boolean): void {
    if (!this.structured || dontFragment) {
      // One run of bytes with the holes filled in.
      const body = Buffer.alloc(length);
      for (const p of parts) p.bytes?.copy(body, p.start - offset);
      if (!this.structured) {
        this.send(Buffer.concat([this.simple(0), body]));
        return;
      }
      if (length === 0) {
        this.send(this.chunkHeader(REPLY_FLAG_DONE, REPLY_TYPE_NONE, 0));
        return;
      }
      parts = [{ start: offset, length, bytes: body }];
    }
    if (parts.length === 0) {
      this.send(this.chunkHeader(REPLY_FLAG_DONE, REPLY_TYPE_NONE, 0));
      return;
    }
    const out: Buffer[] = [];
    parts.forEach((p, i) => {
      const flags = i === parts.length - 1 ? REPLY_FLAG_DONE : 0;
      const at = Buffer.alloc(8);
      at.writeBigUInt64BE(BigInt(p.start));
      if (p.bytes) {
        out.push(this.chunkHeader(flags, REPLY_TYPE_OFFSET_DATA, 8 + p.length), at, p.bytes);
      } else {
        out.push(this.chunkHeader(flags, REPLY_TYPE_OFFSET_HOLE, 12), at, u32(p.length));
      }
    });
    this.send(Buffer.concat(out));
  }

  blockStatus(ranges: readonly DataRange[], offset: number, length: number, one: boolean): void {
    const limit = one ? 1 : MAX_DESCRIPTORS;
    const descriptors: { length: number; flags: number }[] = [];
    for (const p of rangePieces(ranges, offset, offset + length)) {
      const flags = p.data ? 0 : STATE_HOLE | STATE_ZERO;
      const last = descriptors[descriptors.length - 1];
      if (last && last.flags === flags) last.length += p.length;
      else if (descriptors.length === limit) break;
      else descriptors.push({ length: p.length, flags });
    }
    const payload = Buffer.alloc(4 + 8 * descriptors.length);
    payload.writeUInt32BE(META_CONTEXT_ID, 0);
    descriptors.forEach((d, i) => {
      payload.writeUInt32BE(d.length, 4 + 8 * i);
      payload.writeUInt32BE(d.flags, 8 + 8 * i);
    });
    this.send(Buffer.concat([this.chunkHeader(REPLY_FLAG_DONE, REPLY_TYPE_BLOCK_STATUS, payload.length), payload]));
  }

  private simple(errno: number): Buffer {
    const b = Buffer.alloc(16);
    b.writeUInt32BE(SIMPLE_REPLY_MAGIC, 0);
    b.writeUInt32BE(errno, 4);
    this.handle.copy(b, 8);
    return b;
  }

  private chunkHeader(flags: number, type: number, length: number): Buffer {
    const b = Buffer.alloc(20);
    b.writeUInt32BE(STRUCTURED_REPLY_MAGIC, 0);
    b.writeUInt16BE(flags, 4);
    b.writeUInt16BE(type, 6);
    this.handle.copy(b, 8);
    b.writeUInt32BE(length, 16);
    return b;
  }
}

