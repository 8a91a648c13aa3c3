// A GCS object written through a resumable upload session, streamed in fixed chunks (one chunk
// in memory; every chunk but the last a multiple of 256 KiB as GCS requires), plus the object
// reads and deletes the driver's cleanup, $inspect and $delete need.

import { GcpClient, readJson } from "./client";
import { jobFailure } from "../../errors";
import { setTimeout as sleep } from "node:timers/promises";
import { GcpHttpError, gcpFailure, isNetworkError, isNotFound } from "./failures";

export const UPLOAD_CHUNK = 8 * 1024 * 1024;
const QUANTUM = 256 * 1024;
const CHUNK_TIMEOUT_MS = 300_000;
const RETRIES = 4;
/** Backoff before retry n: RETRY_BASE_MS x 2^n. */
const RETRY_BASE_MS = 500;

/** Bytes GCS holds, from a 308's Range header ("bytes=0-N"; absent: none). */
function heldBytes(answer: Response): number {
  void answer.body?.cancel();
  const range = answer.headers.get("range");
  const m = range ? /(\d+)-(\d+)/.exec(range) : null;
  return m ? Number(m[2]) + 1 : 0;
}

function isTransient(error: unknown): boolean {
  if (error instanceof GcpHttpError) return error.status === 408 || error.status === 429 || error.status >= 500;
  return isNetworkError(error) || (error as Error)?.name === "TimeoutError" || (error as Error)?.name === "TypeError";
}

export interface GcsObject {
  bucket: string;
  name: string;
  size: string;
  generation?: string;
  md5Hash?: string;
}

export interface ObjectUpload {
  bucket: string;
  name: string;
  contentType: string;
  metadata?: Record<string, string>;
  /** The archive's bytes, in order (e.g. a gzip stream). */
  body: AsyncIterable<Buffer>;
  signal: AbortSignal;
  chunkSize?: number;
  /** Bytes sent so far. */
  onSent?(bytes: number): void;
}

/** The gs:// path of an object (for messages and artifacts). */
export function gsUrl(bucket: string, name: string): string {
  return `gs://${bucket}/${name}`;
}

/** The bucket's metadata: proves the token works and the bucket exists before anything is made. */
export async function checkBucket(client: GcpClient, bucket: string, signal: AbortSignal): Promise<{ location?: string }> {
  try {
    return await client.json<{ location?: string }>("gcs", "GET", `/storage/v1/b/${encodeURIComponent(bucket)}`, signal);
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    if (isNotFound(error)) {
      throw jobFailure("PLATFORM_NOT_FOUND", `The GCS bucket '${bucket}' does not exist at ${client.where("gcs")} (field bucket); create it or name another.`, error);
    }
    throw gcpFailure("buckets.get", `bucket '${bucket}'`, client.where("gcs"), error);
  }
}

export async function uploadObject(client: GcpClient, u: ObjectUpload): Promise<GcsObject> {
  const { signal } = u;
  const what = gsUrl(u.bucket, u.name);
  const fail = (call: string, error: unknown) => (signal.aborted ? signal.reason : gcpFailure(call, what, client.where("gcs"), error));
  const chunkSize = Math.max(QUANTUM, Math.floor((u.chunkSize ?? UPLOAD_CHUNK) / QUANTUM) * QUANTUM);

  let session: string;
  try {
    const token = await client.accessToken(signal);
    const answer = await fetch(
      `${client.endpoints.gcs}/upload/storage/v1/b/${encodeURIComponent(u.bucket)}/o?uploadType=resumable&name=${encodeURIComponent(u.name)}`,
      {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json; charset=UTF-8", "x-upload-content-type": u.contentType },
        body: JSON.stringify({ name: u.name, contentType: u.contentType, ...(u.metadata ? { metadata: u.metadata } : {}) }),
        signal,
      },
    );
    if (!answer.ok) await readJson(answer);
    await answer.body?.cancel();
    const location = answer.headers.get("location");
    if (!location) throw new Error("the upload session answer carried no Location header");
    session = new URL(location, client.endpoints.gcs).href;
  } catch (error) {
    throw fail("objects.insert (resumable session)", error);
  }

  let sent = 0;
  /** One PUT of bytes [sent, sent + data.length); GCS answers how much it holds (308) or the object. */
  const putOnce = async (data: Buffer, last: boolean): Promise<{ held: number } | { object: GcsObject }> => {
    const token = await client.accessToken(signal);
    const total = last ? String(sent + data.length) : "*";
    const range = data.length === 0 ? `bytes */${total}` : `bytes ${sent}-${sent + data.length - 1}/${total}`;
    const answer = await fetch(session, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, "content-range": range },
      body: data,
      signal: AbortSignal.any([signal, AbortSignal.timeout(CHUNK_TIMEOUT_MS)]),
    });
    if (answer.status === 308) return { held: heldBytes(answer) };
    return { object: await readJson<GcsObject>(answer) };
  };
  /** How much of the upload GCS holds after a failed PUT (a status query: Content-Range bytes * /*). */
  const askHeld = async (): Promise<{ held: number } | { object: GcsObject }> => {
    const token = await client.accessToken(signal);
    const answer = await fetch(session, { method: "PUT", headers: { authorization: `Bearer ${token}`, "content-range": "bytes */*" }, signal });
    if (answer.status === 308) return { held: heldBytes(answer) };
    return { object: await readJson<GcsObject>(answer) };
  };
  /**
   * Sends one chunk; a transient failure (network, 408, 429, 5xx) is retried from what GCS
   * says it holds, a few times with backoff, as GCS's resumable protocol intends.
   */
  const put = async (chunk: Buffer, last: boolean): Promise<GcsObject | undefined> => {
    const end = sent + chunk.length;
    for (let attempt = 0; ; attempt++) {
      let answer: { held: number } | { object: GcsObject };
      try {
        answer = await putOnce(chunk.subarray(chunk.length - (end - sent)), last);
      } catch (error) {
        if (signal.aborted || attempt >= RETRIES || !isTransient(error)) throw error;
        await sleep(RETRY_BASE_MS * 2 ** attempt, undefined, { signal });
        answer = await askHeld();
      }
      if ("object" in answer) {
        sent = end;
        return answer.object;
      }
      if (answer.held < sent || answer.held > end) throw new Error(`GCS holds ${answer.held} bytes of an upload that had sent ${sent} of ${end}`);
      sent = answer.held;
      if (sent === end && !last) return undefined;
      if (attempt >= RETRIES) throw new Error(`GCS kept ${sent} of ${end} bytes after ${RETRIES + 1} tries`);
    }
  };

  const pending: Buffer[] = [];
  let pendingBytes = 0;
  // The chunks go out one after another, but the next one is gathered (the body keeps being
  // read, e.g. gzip keeps compressing) while the current PUT is in flight: two chunks in memory.
  let inFlight: Promise<void> = Promise.resolve();
  try {
    for await (const piece of u.body) {
      pending.push(piece);
      pendingBytes += piece.length;
      while (pendingBytes >= chunkSize + 1) {
        // Keep at least one byte back: the last PUT must carry the total.
        const all = Buffer.concat(pending);
        pending.length = 0;
        pending.push(all.subarray(chunkSize));
        pendingBytes = all.length - chunkSize;
        await inFlight;
        inFlight = put(all.subarray(0, chunkSize), false).then(() => u.onSent?.(sent));
        inFlight.catch(() => undefined); // awaited before the next chunk or the last one
      }
    }
    await inFlight;
    const object = await put(Buffer.concat(pending), true);
    if (!object) throw new Error("GCS did not finalize the object after the last chunk");
    u.onSent?.(sent);
    return object;
  } catch (error) {
    // An unfinished session holds no object; cancelling it frees what GCS kept of it.
    await fetch(session, { method: "DELETE", signal: AbortSignal.timeout(10_000) }).then((a) => a.body?.cancel(), () => undefined);
    throw fail("objects.insert (upload)", error);
  }
}

export async function getObject(client: GcpClient, bucket: string, name: string, signal: AbortSignal): Promise<GcsObject | undefined> {
  try {
    return await client.json<GcsObject>("gcs", "GET", objectPath(bucket, name), signal);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw signal.aborted ? signal.reason : gcpFailure("objects.get", gsUrl(bucket, name), client.where("gcs"), error);
  }
}

/** Deletes the object; false when it was already gone. */
export async function deleteObject(client: GcpClient, bucket: string, name: string, signal: AbortSignal): Promise<boolean> {
  try {
    const token = await client.accessToken(signal);
    const answer = await fetch(client.endpoints.gcs + objectPath(bucket, name), { method: "DELETE", headers: { authorization: `Bearer ${token}` }, signal });
    if (answer.status === 404) {
      await answer.body?.cancel();
      return false;
    }
    if (!answer.ok) await readJson(answer);
    await answer.body?.cancel();
    return true;
  } catch (error) {
    throw signal.aborted ? signal.reason : gcpFailure("objects.delete", gsUrl(bucket, name), client.where("gcs"), error);
  }
}

function objectPath(bucket: string, name: string): string {
  return `/storage/v1/b/${encodeURIComponent(bucket)}/o/${encodeURIComponent(name)}`;
}
