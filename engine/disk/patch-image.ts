// Writes a few guest ranges into an image file of any format, in place, through qemu-io (qemu's
// own block layer, so a VHDX or qcow2 allocates what it needs). Used after a copy whose source
// is a local file with patches on top (a guest edited on an overlay): the file is converted in
// one pass, then the edits, typically a few MiB, are written over it, read back and checked.

import { promises as fs } from "node:fs";
import * as nodePath from "node:path";
import { jobFailure } from "../errors";
import { DiskFormat, qemuDriver } from "./formats";
import { openImageSource } from "./image-source";
import { withToolFailure } from "./qemu-img";
import { DataRange } from "./source";
import { runTool } from "./spawn";

/** The largest write one qemu-io command makes (its buffer). */
const PIECE = 4 * 1024 * 1024;
/** Commands per qemu-io run: keeps argv short whatever the number of ranges. */
const COMMANDS_PER_RUN = 64;

export interface PatchOptions {
  workDir: string;
  signal: AbortSignal;
}

/** Writes `ranges` of `content` into the image at `path`, then reads them back and compares; the caller fsyncs. */
export async function patchImage(
  path: string,
  format: DiskFormat,
  ranges: readonly DataRange[],
  content: (offset: number, length: number) => Promise<Buffer>,
  options: PatchOptions,
): Promise<void> {
  const { workDir, signal } = options;
  const pieces = ranges.flatMap((r) => {
    const out: DataRange[] = [];
    for (let at = r.start; at < r.start + r.length; at += PIECE) out.push({ start: at, length: Math.min(PIECE, r.start + r.length - at) });
    return out;
  });
  const dir = await fs.mkdtemp(nodePath.join(workDir, ".imageport-patch-"));
  try {
    for (let first = 0; first < pieces.length; first += COMMANDS_PER_RUN) {
      const batch = pieces.slice(first, first + COMMANDS_PER_RUN);
      // cache=unsafe: qemu-io's own flushes (a VHDX syncs its headers on open and close) are
      // skipped; the caller fsyncs the file once, after the read-back.
      const args = ["-t", "unsafe", "-f", qemuDriver(format)];
      for (const [i, piece] of batch.entries()) {
        const file = nodePath.join(dir, `piece-${i}`);
        await fs.writeFile(file, await content(piece.start, piece.length), { mode: 0o600 });
        args.push("-c", `write -q -s ${file} ${piece.start} ${piece.length}`);
      }
      args.push(path);
      await withToolFailure(`write the guest's edits into '${path}'`, () => runTool("qemu-io", args, { signal }));
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
  await checkPatched(path, format, pieces, content, options);
}

/** Reads the written ranges back through the engine's own reader of the format. */
async function checkPatched(path: string, format: DiskFormat, pieces: DataRange[], content: (offset: number, length: number) => Promise<Buffer>, options: PatchOptions): Promise<void> {
  const written = await openImageSource(path, format, options.workDir, options.signal);
  try {
    for (const piece of pieces) {
      const [got, want] = await Promise.all([written.read(piece.start, piece.length, options.signal), content(piece.start, piece.length)]);
      if (!got.equals(want)) {
        throw jobFailure(
          "OUTPUT_VERIFICATION_FAILED",
          `The guest's edits at byte ${piece.start} (${piece.length} bytes) did not reach '${path}': qemu-io reported success but the range reads differently. The output is not usable; run the job again.`,
        );
      }
    }
  } finally {
    await written.close();
  }
}
