import { promises as fs } from "node:fs";
import { runChild } from "../../process/run-child";
import { withAuthFile } from "./auth-file";
import { smbFailure, SmbContext, SmbOperation } from "./failures";
import { SmbToolFailure } from "./smbclient";
import { nativeToolFailure, smbFileUrl } from "./sparse-put";

// One file on a share read in place by ranges, through native/smb-read.c (built by
// scripts/setup): one process and one SMB session per open file; requests are pipelined on its
// stdin and answered in order on its stdout (protocol in smb-read.c). The auth file exists only
// until the file is open. The job's signal kills the reader (run-child.ts).

export interface RemoteFileSettings {
  /** Per-operation timeout, seconds (like smbclient's -t). */
  operationTimeoutSec: number;
  /** Path of the smb-read binary. */
  smbRead: string;
}

/** pread over a remote file. */
export interface RemoteFile {
  readonly size: number;
  /** Up to `length` bytes at `offset`: fewer only past the end of the file. */
  read(offset: number, length: number, signal: AbortSignal): Promise<Buffer>;
  /** Bytes received so far. */
  readonly bytesRead: number;
  /** Ends the reader; safe to call twice. */
  close(): Promise<void>;
}

/** smb-read's MAX_REQUEST: longer reads are split into pipelined requests of this size. */
const MAX_REQUEST = 16 * 1024 * 1024;
/** How long a closed reader gets to exit by itself before it is killed. */
const CLOSE_TIMEOUT_MS = 5000;

/** The argv of one reader; the password is only in the file `authFile` names. */
export function smbReadArgs(ctx: SmbContext, authFile: string, name: string, settings: RemoteFileSettings): string[] {
  return ["-A", authFile, "-p", String(ctx.target.port), "-t", String(settings.operationTimeoutSec), smbFileUrl(ctx.target, name)];
}

interface Pending {
  length: number;
  chunks: Buffer[];
  received: number;
  /** Set once the response header came: the body's length. */
  body?: number;
  resolve(data: Buffer): void;
  reject(error: unknown): void;
}

/**
 * Opens `name` in the location's directory. Failures are coded like every SMB failure
 * (failures.ts): a missing file is SOURCE_DISK_NOT_FOUND, a refused logon SHARE_ACCESS_DENIED,
 * a lost server SHARE_UNREACHABLE, any other read failure SOURCE_DISK_UNREADABLE.
 */
export async function openRemoteFile(ctx: SmbContext, name: string, settings: RemoteFileSettings, signal: AbortSignal): Promise<RemoteFile> {
  const op: SmbOperation = { doing: `reading '${name}' from`, name, notFound: "SOURCE_DISK_NOT_FOUND", fallback: "SOURCE_DISK_UNREADABLE" };
  const toError = (failure: SmbToolFailure) => smbFailure(failure, ctx, op);
  await fs.access(settings.smbRead, fs.constants.X_OK).catch((err: NodeJS.ErrnoException) => {
    throw toError({ tool: "smb-read", phase: "tool", line: `${settings.smbRead}: ${err.code ?? err.message}` });
  });
  signal.throwIfAborted();

  const stop = new AbortController(); // close() or the job's signal
  const childSignal = AbortSignal.any([signal, stop.signal]);
  const queue: Pending[] = [];
  let stdin: NodeJS.WritableStream | undefined;
  let input: Buffer = Buffer.alloc(0);
  let failed: unknown;
  let opened: (size: number) => void = () => undefined;
  const sizeKnown = new Promise<number>((resolve) => (opened = resolve));
  let size = -1;
  let bytesRead = 0;

  const failAll = (error: unknown) => {
    failed ??= error;
    for (const p of queue.splice(0)) p.reject(failed);
  };
  // Header lines ("size N", "data N") and bodies, as they arrive in any chunking.
  const onStdoutBytes = (chunk: Buffer) => {
    input = input.length ? Buffer.concat([input, chunk]) : chunk;
    for (;;) {
      const head = queue[0];
      if (size >= 0 && head?.body !== undefined) {
        const take = Math.min(head.body - head.received, input.length);
        if (take > 0) head.chunks.push(Buffer.from(input.subarray(0, take)));
        head.received += take;
        input = input.subarray(take);
        if (head.received < head.body) return;
        queue.shift();
        bytesRead += head.body;
        head.resolve(Buffer.concat(head.chunks, head.body));
        continue;
      }
      const eol = input.indexOf(10);
      if (eol < 0) return;
      const line = input.toString("latin1", 0, eol);
      input = input.subarray(eol + 1);
      const sizeLine = /^size (\d+)$/.exec(line);
      const dataLine = /^data (\d+)$/.exec(line);
      if (size < 0 && sizeLine) {
        size = Number(sizeLine[1]);
        opened(size);
      } else if (size >= 0 && dataLine && head && Number(dataLine[1]) <= head.length) {
        head.body = Number(dataLine[1]);
      } else {
        failAll(toError({ tool: "smb-read", phase: "command", line: `unexpected output: ${line.slice(0, 100)}` }));
        stop.abort(failed);
        return;
      }
    }
  };

  let exited!: Promise<void>;
  await withAuthFile(ctx.credential, async (authFile) => {
    exited = runChild(settings.smbRead, smbReadArgs(ctx, authFile, name, settings), {
      signal: childSignal,
      onStdoutBytes,
      onStdin: (s) => (stdin = s),
    }).then(
      ({ code, exitSignal, stderr }) => {
        if (code !== 0 || size < 0) failAll(toError(nativeToolFailure("smb-read", ["open", "read"], stderr, code, exitSignal)));
        else failAll(new Error(`${name}: the reader has ended`));
      },
      (err) => failAll(childSignal.aborted ? childSignal.reason : toError({ tool: "smb-read", phase: "tool", line: (err as Error).message })),
    );
    // The reader has read the auth file once it has opened the remote file (or failed).
    await Promise.race([sizeKnown, exited]);
  });
  if (size < 0) {
    await exited;
    throw failed;
  }

  const request = (offset: number, length: number, readSignal: AbortSignal): Promise<Buffer> => {
    if (failed !== undefined) return Promise.reject(failed);
    return new Promise<Buffer>((resolve, reject) => {
      // An aborted read rejects at once; its response is still consumed, in order, and dropped.
      const onAbort = () => reject(readSignal.reason);
      readSignal.addEventListener("abort", onAbort, { once: true });
      const done = <T>(f: (v: T) => void) => (v: T) => {
        readSignal.removeEventListener("abort", onAbort);
        f(v);
      };
      queue.push({ length, chunks: [], received: 0, resolve: done(resolve), reject: done(reject) });
      stdin!.write(`${offset} ${length}\n`);
    });
  };

  let closing: Promise<void> | undefined;
  return {
    size,
    get bytesRead() {
      return bytesRead;
    },
    async read(offset, length, readSignal) {
      readSignal.throwIfAborted();
      if (closing) throw new Error(`${name}: the remote file is closed`);
      const parts: Promise<Buffer>[] = [];
      for (let at = offset; at < offset + length; at += MAX_REQUEST) {
        parts.push(request(at, Math.min(MAX_REQUEST, offset + length - at), readSignal));
      }
      const settled = await Promise.allSettled(parts);
      const failure = settled.find((s) => s.status === "rejected");
      if (failure) throw (failure as PromiseRejectedResult).reason;
      return Buffer.concat(settled.map((s) => (s as PromiseFulfilledResult<Buffer>).value));
    },
    close() {
      return (closing ??= (async () => {
        stdin?.end(); // the reader exits when its input ends
        const timer = setTimeout(() => stop.abort(new Error("closed")), CLOSE_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
      })());
    },
  };
}
