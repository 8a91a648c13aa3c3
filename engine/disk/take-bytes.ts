// Taking exactly `length` bytes off the front of a list of received chunks (a socket's or a
// pipe's), without a copy when the first chunk holds them all. Shared by the NBD export's reader
// and the guest tools' channels (engine/prepare/byte-queue.ts).

/** Removes and returns the first `length` bytes of `chunks`; the caller knows they are there. */
export function takeBytes(chunks: Buffer[], length: number): Buffer {
  if (length === 0) return Buffer.alloc(0);
  const first = chunks[0]!;
  if (first.length >= length) {
    if (first.length === length) chunks.shift();
    else chunks[0] = first.subarray(length);
    return first.subarray(0, length);
  }
  const out = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const c = chunks[0]!;
    const n = Math.min(c.length, length - filled);
    c.copy(out, filled, 0, n);
    filled += n;
    if (n === c.length) chunks.shift();
    else chunks[0] = c.subarray(n);
  }
  return out;
}
