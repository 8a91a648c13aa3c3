// A volume as the guest volume tools see it: bytes [0, size) that can be read, written and
// flushed. The engine hands the tools a window of a copy-on-write disk (overlay.ts), so their
// writes never reach the source; tests hand them a window of a scratch image file.

import { promises as fs } from "node:fs";

export interface BlockDevice {
  readonly size: number;
  read(offset: number, length: number): Promise<Buffer>;
  write(offset: number, data: Buffer): Promise<void>;
  flush(): Promise<void>;
  /** Forgets the writes made to [offset, offset + length) (an overlay's; absent where writes are final). */
  discard?(offset: number, length: number): Promise<void>;
}

/** A device over [offset, offset + size) of a file opened read-write (scratch copies in tests and benches). */
export async function fileWindowDevice(path: string, offset: number, size: number): Promise<BlockDevice & { close(): Promise<void> }> {
  const handle = await fs.open(path, "r+");
  return {
    size,
    async read(at, length) {
      const buf = Buffer.alloc(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(buf, done, length - done, offset + at + done);
        if (bytesRead === 0) break; // past the end of the file: zeros
        done += bytesRead;
      }
      return buf;
    },
    async write(at, data) {
      let done = 0;
      while (done < data.length) done += (await handle.write(data, done, data.length - done, offset + at + done)).bytesWritten;
    },
    async flush() {
      await handle.sync();
    },
    close: () => handle.close(),
  };
}

/** [offset, offset + size) of another device: a partition of a disk. */
export function windowOf(device: Omit<BlockDevice, "size">, offset: number, size: number): BlockDevice {
  return {
    size,
    read: (at, length) => device.read(offset + at, length),
    write: (at, data) => device.write(offset + at, data),
    flush: () => device.flush(),
    ...(device.discard ? { discard: (at: number, length: number) => device.discard!(offset + at, length) } : {}),
  };
}
