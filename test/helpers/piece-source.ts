import { DataRange, DiskSource } from "../../engine/disk";

/** A source whose content is zeros except `pieces`; every read is recorded. */
export function pieceSource(virtualSize: number, pieces: Array<{ offset: number; data: Buffer }>, ranges: DataRange[]): { source: DiskSource; reads: DataRange[] } {
  const reads: DataRange[] = [];
  const source: DiskSource = {
    name: "test source",
    virtualSize,
    bytesRead: 0,
    dataRanges: async () => ranges,
    async read(offset, length) {
      reads.push({ start: offset, length });
      const out = Buffer.alloc(length);
      for (const p of pieces) {
        const from = Math.max(offset, p.offset);
        const to = Math.min(offset + length, p.offset + p.data.length);
        if (from < to) p.data.copy(out, from - offset, from - p.offset, to - p.offset);
      }
      return out;
    },
    close: async () => undefined,
  };
  return { source, reads };
}
