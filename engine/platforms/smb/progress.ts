import * as fs from "node:fs";

// smbclient prints nothing until a download ends, so its progress is measured from outside: the
// size of the local file it writes, polled. (Uploads report their own: sparse-put.ts.)

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

export function watchDownload(localPath: string, total: number, onProgress: ProgressFn): () => void {
  return poll(() => {
    try {
      return fs.statSync(localPath).size;
    } catch {
      return undefined;
    }
  }, total, onProgress);
}
