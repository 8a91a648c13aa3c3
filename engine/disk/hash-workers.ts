// Hashing off the event loop, so the API, heartbeats and progress keep their thread while
// gigabytes are hashed:
//   - single blocks (the block digest's 1 MiB blocks, the EBS blocks) go to a small pool of
//     long-lived threads, as many as the machine has cores (at most 4);
//   - a file's block digest is split over that many threads of its own (and can compare a
//     second file beside it); a file's full sha256 runs on one; an abort terminates them;
//   - a sha256 fed in order (Sha256Stream) has a thread of its own.

import { availableParallelism } from "node:os";
import * as nodePath from "node:path";
import { Worker } from "node:worker_threads";
import { EngineErrorCode, jobFailure } from "../errors";
import { Extent } from "./extents";
import { BlockHash, blockDigestOf } from "./block-digest";
import { BlockSlice, MappedFile, sliceByData, unionOfData } from "./hash-data-blocks";
import { DigestWanted, DiskDigest } from "./hash-mapped-file";
import type { HashReply, HashRequest } from "./hash-worker";
import { ProgressCallback } from "./progress";

const WORKER_FILE = nodePath.join(__dirname, "hash-worker.js");
const POOL_SIZE = Math.max(1, Math.min(4, availableParallelism()));

/** A failure inside a hashing thread, rebuilt on this side: coded errors keep their code. */
function rebuild(error: { name: string; message: string; code?: string }): Error {
  if (error.name === "EngineError" && error.code) {
    return jobFailure(error.code as EngineErrorCode, error.message);
  }
  return Object.assign(new Error(error.message), error.code ? { code: error.code } : {});
}

interface PoolThread {
  worker: Worker;
  pending: Map<number, { resolve(hash: Buffer | null): void; reject(error: unknown): void }>;
}

class BlockHashPool {
  private readonly threads: PoolThread[] = [];
  private nextId = 0;

  /** sha256 of `data`, or null when every byte is zero. `data` is copied unless it is given (see hashBlockOffThread). */
  hash(data: Uint8Array, given: boolean): Promise<Buffer | null> {
    const own = given && data.byteOffset === 0 && data.buffer instanceof ArrayBuffer && data.byteLength === data.buffer.byteLength;
    const sent = own ? data : new Uint8Array(data);
    const thread = this.pick();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      thread.pending.set(id, { resolve, reject });
      thread.worker.ref(); // a thread with work keeps the process alive until it answers
      const request: HashRequest = { id, kind: "block", data: sent };
      thread.worker.postMessage(request, [sent.buffer as ArrayBuffer]);
    });
  }

  /** The least busy thread, starting a new one while the pool is below its size. */
  private pick(): PoolThread {
    const idle = this.threads.find((t) => t.pending.size === 0);
    if (idle) return idle;
    if (this.threads.length < POOL_SIZE) return this.start();
    return this.threads.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
  }

  private start(): PoolThread {
    const thread: PoolThread = { worker: new Worker(WORKER_FILE), pending: new Map() };
    thread.worker.unref();
    thread.worker.on("message", (reply: HashReply) => {
      const waiter = thread.pending.get(reply.id);
      if (!waiter) return;
      thread.pending.delete(reply.id);
      if (thread.pending.size === 0) thread.worker.unref();
      if (reply.kind === "block") waiter.resolve(reply.hash ? Buffer.from(reply.hash.buffer, reply.hash.byteOffset, reply.hash.byteLength) : null);
      else if (reply.kind === "error") waiter.reject(rebuild(reply.error));
    });
    const fail = (error: unknown) => {
      this.threads.splice(this.threads.indexOf(thread), 1);
      for (const waiter of thread.pending.values()) waiter.reject(error);
      thread.pending.clear();
    };
    thread.worker.on("error", fail);
    thread.worker.on("exit", (code) => fail(new Error(`a hashing thread exited (code ${code})`)));
    this.threads.push(thread);
    return thread;
  }
}

let pool: BlockHashPool | undefined;

/**
 * The sha256 of one block on a hashing thread, or null when it is all zeros. `data` is copied,
 * unless the caller gives it (`given`: it never touches it again), when its memory moves to the
 * thread instead (if it is a whole ArrayBuffer of its own; a pooled Buffer is still copied).
 */
export function hashBlockOffThread(data: Uint8Array, given = false): Promise<Buffer | null> {
  return (pool ??= new BlockHashPool()).hash(data, given);
}

export interface FileDigestOptions {
  want: DigestWanted;
  signal: AbortSignal;
  onProgress?: ProgressCallback;
  onRead?(position: number, length: number): void;
}

/**
 * The digests of an image file read through its extent map, off the event loop: a block digest
 * alone is split over as many threads as the pool has (hash-data-blocks.ts); a full sha256 is
 * one sequential pass (digestMappedFile) on a thread of its own. An abort terminates them.
 */
export async function digestFileOffThread(path: string, extents: readonly Extent[], size: number, options: FileDigestOptions): Promise<DiskDigest> {
  options.signal.throwIfAborted();
  if (options.want.sha256 || !options.want.blocks) {
    const reply = await runOnThread({ id: 0, kind: "file", path, extents: [...extents], size, want: options.want, reportReads: options.onRead !== undefined }, options);
    return (reply as Extract<HashReply, { kind: "file" }>).digest;
  }
  const { blockDigest } = await blockDigestOffThreads({ path, extents }, size, options);
  return { blocks: blockDigest };
}

type ThreadOptions = Omit<FileDigestOptions, "want">;

/** The block digest of `file`, split over the hashing threads by data. */
export async function blockDigestOffThreads(file: MappedFile, size: number, options: ThreadOptions): Promise<{ blockDigest: string; blocks: BlockHash[] }> {
  const replies = await runSlices([file.extents], size, options, (slice) => ({ id: 0, kind: "slice", path: file.path, extents: [...file.extents], size, slice, reportReads: options.onRead !== undefined }));
  const blocks = replies.flatMap((r) => (r.kind === "slice" ? r.blocks.map((b) => ({ index: b.index, hash: Buffer.from(b.hash) })) : []));
  return { blockDigest: blockDigestOf(size, blocks), blocks };
}

/**
 * The first 1 MiB block where two image files' contents differ (undefined: they are equal),
 * compared on the hashing threads wherever either holds data: a copy's proof, no hashing.
 */
export async function firstDifferenceOffThreads(file: MappedFile, other: MappedFile, size: number, options: ThreadOptions): Promise<number | undefined> {
  const peer = { path: other.path, extents: [...other.extents] };
  const replies = await runSlices([file.extents, other.extents], size, options, (slice) => ({ id: 0, kind: "compare", path: file.path, extents: [...file.extents], size, slice, other: peer, reportReads: options.onRead !== undefined }));
  const mismatches = replies.flatMap((r) => (r.kind === "compare" && r.mismatch !== undefined ? [r.mismatch] : []));
  return mismatches.length > 0 ? Math.min(...mismatches) : undefined;
}

/** The data of these maps cut into one slice per hashing thread, each run on its own thread; overall progress by data. */
async function runSlices(maps: readonly (readonly Extent[])[], size: number, options: ThreadOptions, request: (slice: BlockSlice) => HashRequest): Promise<HashReply[]> {
  options.signal.throwIfAborted();
  const slices = sliceByData(unionOfData(maps, size), size, POOL_SIZE);
  const fractions = slices.map(() => 0);
  const total = slices.reduce((n, s) => n + s.dataBytes, 0);
  const replies = await Promise.all(
    slices.map((slice, i) =>
      runOnThread(request(slice), {
        ...options,
        onProgress: (f) => {
          fractions[i] = f;
          options.onProgress?.(slices.reduce((n, s, j) => n + s.dataBytes * fractions[j]!, 0) / total);
        },
      }),
    ),
  );
  options.onProgress?.(1);
  return replies;
}

/** Runs one request on a thread of its own and gives its final reply; an abort (or any failure) terminates the thread. */
function runOnThread(request: HashRequest, options: ThreadOptions): Promise<HashReply> {
  const { signal } = options;
  const worker = new Worker(WORKER_FILE);
  return new Promise<HashReply>((resolve, reject) => {
    let settled = false;
    const finish = (settle: () => void) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      void worker.terminate();
      settle();
    };
    const onAbort = () => finish(() => reject(signal.reason));
    signal.addEventListener("abort", onAbort, { once: true });
    worker.on("message", (reply: HashReply) => {
      if (reply.kind === "progress") options.onProgress?.(reply.fraction);
      else if (reply.kind === "read") options.onRead?.(reply.position, reply.length);
      else if (reply.kind === "error") finish(() => reject(rebuild(reply.error)));
      else finish(() => resolve(reply));
    });
    worker.on("error", (error) => finish(() => reject(error)));
    worker.on("exit", (code) => finish(() => reject(new Error(`a hashing thread exited (code ${code})`))));
    worker.postMessage(request);
  });
}

/** Bytes of data handed to a Sha256Stream's thread and not yet hashed beyond which `update` asks the caller to wait. */
const STREAM_LIMIT = 32 * 1024 * 1024;

/**
 * A full-content sha256 on a thread of its own, fed in order: data (copied) and runs of zeros
 * (hashed on the thread from a zero buffer, so they cost the event loop nothing).
 */
export class Sha256Stream {
  private readonly worker = new Worker(WORKER_FILE);
  private pending = 0;
  private failure: unknown;
  private waiting: (() => void) | undefined;
  private result: { resolve(hex: string): void; reject(error: unknown): void } | undefined;

  constructor() {
    this.worker.on("message", (reply: HashReply) => {
      if (reply.kind === "stream-ack") {
        this.pending -= reply.bytes;
        if (this.pending <= STREAM_LIMIT) this.wake();
      } else if (reply.kind === "stream") {
        this.result?.resolve(reply.hex);
        void this.worker.terminate();
      }
    });
    const fail = (error: unknown) => {
      this.failure ??= error;
      this.result?.reject(error);
      this.wake();
    };
    this.worker.on("error", fail);
    this.worker.on("exit", (code) => fail(new Error(`the sha256 thread exited (code ${code})`)));
  }

  /** Adds `data` (copied); returns a promise to wait on while the thread is behind. */
  update(data: Uint8Array): Promise<void> | undefined {
    this.check();
    const copy = new Uint8Array(data.length);
    copy.set(data);
    this.pending += copy.length;
    this.send({ id: 0, kind: "stream-data", data: copy }, [copy.buffer]);
    return this.pending > STREAM_LIMIT ? new Promise<void>((resolve) => (this.waiting = resolve)) : undefined;
  }

  zeros(length: number): void {
    this.check();
    if (length > 0) this.send({ id: 0, kind: "stream-zeros", length });
  }

  /** The hex digest; the stream is done after it. */
  digest(): Promise<string> {
    this.check();
    return new Promise<string>((resolve, reject) => {
      this.result = { resolve, reject };
      this.send({ id: 0, kind: "stream-end" });
    });
  }

  /** Stops the thread (a failed or cancelled job). */
  close(): void {
    void this.worker.terminate();
  }

  private send(request: HashRequest, transfer: ArrayBuffer[] = []): void {
    this.worker.postMessage(request, transfer);
  }

  private check(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.();
  }
}
