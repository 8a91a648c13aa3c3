// Bytes arriving in chunks from a child's pipe, taken out as lines and fixed-length bodies by
// one reader at a time (the volume tools' protocols are strictly request/answer).

import { takeBytes } from "../disk/take-bytes";

export class ByteQueue {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private waiter: (() => void) | undefined;
  private ended: Error | undefined;

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    this.wake();
  }

  /** No more bytes will come: readers waiting for more fail with `error`. */
  end(error: Error): void {
    this.ended ??= error;
    this.wake();
  }

  /** The next line, without its "\n" (latin1: the protocols' header lines are ASCII). */
  async line(limit = 64 * 1024): Promise<string> {
    for (;;) {
      const at = this.indexOfNewline();
      if (at >= 0) {
        const line = this.take(at + 1);
        return line.toString("latin1", 0, at);
      }
      if (this.buffered > limit) throw new Error(`a line longer than ${limit} bytes`);
      await this.more();
    }
  }

  /** Exactly `length` bytes. */
  async bytes(length: number): Promise<Buffer> {
    while (this.buffered < length) await this.more();
    return this.take(length);
  }

  private indexOfNewline(): number {
    let base = 0;
    for (const chunk of this.chunks) {
      const at = chunk.indexOf(10);
      if (at >= 0) return base + at;
      base += chunk.length;
    }
    return -1;
  }

  private take(length: number): Buffer {
    this.buffered -= length;
    return takeBytes(this.chunks, length);
  }

  private more(): Promise<void> {
    if (this.ended) return Promise.reject(this.ended);
    return new Promise((resolve) => (this.waiter = resolve));
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }
}
