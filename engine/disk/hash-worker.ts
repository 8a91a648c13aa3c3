// The thread that does the engine's hashing (hash-workers.ts starts it), so sha256 never runs on
// the event loop that serves the API, heartbeats and progress; at a lower priority, so that on
// busy cores the event loop is served first. Its kinds of work:
//   - "block": the sha256 of one buffer (transferred, not copied), or null when it is all zeros;
//   - "file":  the digests of an image file read through its extent map (digestMappedFile),
//              with progress (and, when asked, every read) posted back as it goes;
//   - "slice": the hashes of the data blocks in one slice of an image file (hash-data-blocks.ts);
//   - "compare": the first block of one slice where two image files differ;
//   - "stream-*": one sha256 fed in order with data and runs of zeros (a full-content hash).

import { createHash } from "node:crypto";
import { readlinkSync } from "node:fs";
import { getPriority, setPriority } from "node:os";
import { parentPort } from "node:worker_threads";
import { Extent } from "./extents";
import { BlockSlice, compareSlice, hashSlice, MappedFile } from "./hash-data-blocks";
import { digestMappedFile, DigestWanted } from "./hash-mapped-file";

export type HashRequest =
  | { id: number; kind: "block"; data: Uint8Array }
  | { id: number; kind: "file"; path: string; extents: Extent[]; size: number; want: DigestWanted; reportReads: boolean }
  | { id: number; kind: "slice"; path: string; extents: Extent[]; size: number; slice: BlockSlice; reportReads: boolean }
  | { id: number; kind: "compare"; path: string; extents: Extent[]; size: number; slice: BlockSlice; other: MappedFile; reportReads: boolean }
  | { id: number; kind: "stream-data"; data: Uint8Array }
  | { id: number; kind: "stream-zeros"; length: number }
  | { id: number; kind: "stream-end" };

export type HashReply =
  | { id: number; kind: "block"; hash: Uint8Array | null }
  | { id: number; kind: "progress"; fraction: number }
  | { id: number; kind: "read"; position: number; length: number }
  | { id: number; kind: "file"; digest: { sha256?: string; blocks?: string } }
  | { id: number; kind: "slice"; blocks: { index: number; hash: Uint8Array }[] }
  | { id: number; kind: "compare"; mismatch?: number }
  | { id: number; kind: "stream-ack"; bytes: number }
  | { id: number; kind: "stream"; hex: string }
  | { id: number; kind: "error"; error: { name: string; message: string; code?: string } };

const ZEROS = new Uint8Array(4 * 1024 * 1024);
/** Progress is posted at most this often (a file digest reads 4 MiB chunks). */
const PROGRESS_MS = 100;

function isZero(data: Uint8Array): boolean {
  for (let at = 0; at < data.length; at += ZEROS.length) {
    const part = data.subarray(at, Math.min(data.length, at + ZEROS.length));
    if (Buffer.compare(part, ZEROS.subarray(0, part.length)) !== 0) return false;
  }
  return true;
}

/** How much nicer than the engine this thread runs: when the cores are busy, the event loop goes first. */
const HASHING_NICENESS = 10;

// Linux gives each thread its own priority: setpriority() on this thread's id (from
// /proc/thread-self) lowers this thread alone. Elsewhere the thread keeps the process's.
try {
  const tid = Number(readlinkSync("/proc/thread-self").split("/").pop());
  if (Number.isInteger(tid) && tid > 0) setPriority(tid, Math.min(19, getPriority(tid) + HASHING_NICENESS));
} catch {
  // not Linux, or not allowed: hashing at the engine's own priority is still correct
}

const port = parentPort!;
const post = (reply: HashReply, transfer: ArrayBuffer[] = []) => port.postMessage(reply, transfer);

/** The thread's one sha256 stream, when it serves one. */
let stream: ReturnType<typeof createHash> | undefined;

port.on("message", (request: HashRequest) => {
  if (request.kind === "stream-data" || request.kind === "stream-zeros" || request.kind === "stream-end") {
    stream ??= createHash("sha256");
    if (request.kind === "stream-data") {
      stream.update(request.data);
      post({ id: request.id, kind: "stream-ack", bytes: request.data.length });
    } else if (request.kind === "stream-zeros") {
      for (let left = request.length; left > 0; left -= ZEROS.length) stream.update(ZEROS.subarray(0, Math.min(left, ZEROS.length)));
    } else post({ id: request.id, kind: "stream", hex: stream.digest("hex") });
    return;
  }
  if (request.kind === "block") {
    const hash = isZero(request.data) ? null : new Uint8Array(createHash("sha256").update(request.data).digest());
    post({ id: request.id, kind: "block", hash }, hash ? [hash.buffer as ArrayBuffer] : []);
    return;
  }
  const { id } = request;
  let lastProgress = 0;
  const progress = (fraction: number) => {
    const now = Date.now();
    if (fraction < 1 && now - lastProgress < PROGRESS_MS) return;
    lastProgress = now;
    post({ id, kind: "progress", fraction });
  };
  const onRead = request.reportReads ? (position: number, length: number) => post({ id, kind: "read", position, length }) : undefined;
  const fail = (error: unknown) => {
    const e = error as Error & { code?: unknown };
    post({ id, kind: "error", error: { name: e?.name ?? "Error", message: e?.message ?? String(error), ...(typeof e?.code === "string" ? { code: e.code } : {}) } });
  };
  if (request.kind === "slice" || request.kind === "compare") {
    try {
      const { slice } = request;
      const file = { path: request.path, extents: request.extents };
      const options = { onProgress: (bytes: number) => progress(slice.dataBytes === 0 ? 1 : bytes / slice.dataBytes), onRead };
      if (request.kind === "compare") {
        const mismatch = compareSlice(file, request.other, request.size, slice, options);
        post({ id, kind: "compare", ...(mismatch !== undefined ? { mismatch } : {}) });
      } else {
        const blocks = hashSlice(file, request.size, slice, options).map((b) => ({ index: b.index, hash: new Uint8Array(b.hash) }));
        post({ id, kind: "slice", blocks });
      }
    } catch (error) {
      fail(error);
    }
    return;
  }
  digestMappedFile(request.path, request.extents, request.size, {
    want: request.want,
    // The caller stops a file digest by terminating this thread.
    signal: new AbortController().signal,
    onProgress: progress,
    onRead,
  }).then((digest) => post({ id, kind: "file", digest }), fail);
});
