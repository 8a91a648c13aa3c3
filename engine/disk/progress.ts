// Progress plumbing: qemu-img's `-p` output, and fractions that only move forward.

export type ProgressCallback = (fraction: number) => void;

/** A stdout sink for `qemu-img convert -p`, which prints "    (12.34/100%)\r" as it goes. */
export function qemuProgressParser(onFraction: ProgressCallback): (chunk: string) => void {
  let tail = "";
  return (chunk) => {
    const text = tail + chunk;
    let last: number | undefined;
    for (const match of text.matchAll(/\((\d+(?:\.\d+)?)\/100%\)/g)) last = Number(match[1]) / 100;
    // Keep an unfinished "(12.3" for the next chunk.
    tail = text.slice(Math.max(text.lastIndexOf(")") + 1, text.length - 32));
    if (last !== undefined) onFraction(last);
  };
}

/**
 * Wraps a callback so it sees values clamped to [0, 1], never going back, and only when they
 * moved by at least `step` (or reached 1): callers may report as often as they like.
 */
export function forwardProgress(onProgress: ProgressCallback | undefined, step = 0.001): ProgressCallback {
  let reported = -1;
  return (fraction) => {
    if (!onProgress) return;
    const f = Math.min(1, Math.max(0, fraction));
    if (f <= reported || (f - reported < step && f < 1)) return;
    reported = f;
    onProgress(f);
  };
}

/** Maps a phase's own 0..1 onto [from, to] of the whole. */
export function phase(onProgress: ProgressCallback, from: number, to: number): ProgressCallback {
  return (fraction) => onProgress(from + (to - from) * fraction);
}
