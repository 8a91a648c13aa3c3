import * as fs from "node:fs";

// smbclient prints nothing until a transfer ends, so progress is measured from outside:
// for an upload, the read offset of smbclient's open local file (/proc/<pid>/fdinfo);
// for a download, the size of the local file it writes. Both are polled.

const POLL_MS = 200;

export type ProgressFn = (done: number, total: number) => void;

/** Polls `measure` until stopped; reports only increases, never beyond total. */
function poll(measure: () => number | undefined, total: number, onProgress: ProgressFn): () => void {
  let last = 0;
  const timer = setInterval(() => {
    const done = measure();
    if (done !== undefined && done > last) {
      last = Math.min(done, total);
      onProgress(last, total);
    }
  }, POLL_MS);
  timer.unref();
  return () => clearInterval(timer);
}

export function watchUpload(pid: number, localPath: string, total: number, onProgress: ProgressFn): () => void {
  let fd: string | undefined;
  return poll(() => {
    try {
      fd ??= fs.readdirSync(`/proc/${pid}/fd`).find((n) => safeReadlink(`/proc/${pid}/fd/${n}`) === localPath);
      if (fd === undefined) return undefined;
      const pos = /^pos:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8"));
      return pos ? Number(pos[1]) : undefined;
    } catch {
      return undefined; // the process is gone or /proc is not available: no intermediate progress
    }
  }, total, onProgress);
}

export function watchDownload(localPath: string, total: number, onProgress: ProgressFn): () => void {
  return poll(() => {
    try {
      return fs.statSync(localPath).size;
    } catch {
      return undefined;
    }
  }, total, onProgress);
}

function safeReadlink(p: string): string | undefined {
  try {
    return fs.readlinkSync(p);
  } catch {
    return undefined;
  }
}
