// Offline preparation of a guest for MCS or PVS, as virt-v2v converts a guest: on a
// copy-on-write overlay of the source (overlay.ts), without booting it, mounting it or root.
// Finds the OS (find-guest.ts), reads its facts, makes the OS module's edits through the
// native volume tools, and stores the change record in the guest. The caller copies the
// overlay into the output (or, for a dry run, throws it away: the record is the same).

import { DiskSource } from "../disk/source";
import { Change, RecordingVolume } from "./change-record";
import { findGuest } from "./find-guest";
import { LINUX_DIR, WINDOWS_DIR } from "./first-boot";
import { prepareLinux } from "./linux/prepare-linux";
import { CopyOnWriteDisk } from "./overlay";
import { GuestFacts, GuestPreparation } from "./request";
import { prepareWindows } from "./windows/prepare-windows";

export interface PreparedGuest {
  guest: GuestFacts;
  /** Every change, in order; the last one is the record file itself. */
  changes: Change[];
  warnings: { code: string; message: string }[];
  /** Where the record is in the guest. */
  recordPath: string;
  /** Bytes of the disk the edits rewrote (the overlay's size). */
  changedBytes: number;
}

export interface PrepareGuestOptions {
  workDir: string;
  signal: AbortSignal;
}

/** Prepares the guest on an overlay of `source`; returns the overlay (a DiskSource to copy from) and what was done. */
export async function prepareGuest(
  source: DiskSource,
  request: GuestPreparation,
  options: PrepareGuestOptions,
): Promise<{ disk: CopyOnWriteDisk; prepared: PreparedGuest }> {
  const { workDir, signal } = options;
  const disk = await CopyOnWriteDisk.open(source, workDir, signal);
  try {
    const device = {
      size: disk.virtualSize,
      read: (o: number, l: number) => disk.read(o, l, signal),
      write: (o: number, d: Buffer) => disk.write(o, d),
      flush: () => disk.flush(),
      discard: (o: number, l: number) => disk.discard(o, l),
    };
    const guest = await findGuest(device, source.name, signal);
    const volume = new RecordingVolume(guest.volume);
    let result: { facts: GuestFacts; warnings: PreparedGuest["warnings"] };
    let recordPath: string;
    try {
      if (guest.os === "windows") {
        result = await prepareWindows(guest, volume, request, workDir, signal);
        recordPath = `${WINDOWS_DIR}/changes.json`;
      } else {
        result = await prepareLinux(guest, volume, request);
        recordPath = `${LINUX_DIR}/changes.json`;
      }
      await volume.mkdirs(recordPath.slice(0, recordPath.lastIndexOf("/")));
      const record = { preparedBy: `imageport ${request.engineVersion}`, provisioningType: request.provisioningType, guest: result.facts, changes: volume.changes };
      await volume.writeFile(recordPath, Buffer.from(JSON.stringify(record, null, 2) + "\n"), 0o644);
      await guest.volume.close();
    } catch (error) {
      await guest.volume.abort();
      throw error;
    }
    const changedBytes = disk.changedRanges().reduce((n, r) => n + r.length, 0);
    return { disk, prepared: { guest: result.facts, changes: volume.changes, warnings: result.warnings, recordPath, changedBytes } };
  } catch (error) {
    await disk.close();
    throw error;
  }
}
