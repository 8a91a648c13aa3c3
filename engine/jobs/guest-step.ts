// The guest preparation as prepare and prepareAndPublish run it: the "prepare" step of a
// transfer (on an overlay of the source, copied into the output afterwards), its artifacts,
// and the dry run that works out the same change record and throws the overlay away.

import { DiskSource } from "../disk";
import { openStorage } from "../platforms";
import { prepareGuest, PreparedGuest } from "../prepare/prepare-guest";
import { ProbeContext, RunContext } from "./definition";
import { guestPreparationFor, PrepareOptions } from "./definitions/prepare-options";
import { inputFormat, TransferParams } from "./storage-fields";

type Prepare = PrepareOptions & { provisioningType: "Mcs" | "Pvs" };

/** What a preparation reports: job artifacts, a dry run's preview, the resources' outputs. */
export function guestArtifacts(prepared: PreparedGuest): Record<string, unknown> {
  return {
    guest: prepared.guest,
    changeRecord: prepared.changes,
    guestRecordPath: prepared.recordPath,
    guestChangedBytes: prepared.changedBytes,
  };
}

/** The transfer's prepare hook, and the artifacts once it ran; undefined with skipGuestPreparation. */
export function guestStep(p: Prepare, ctx: RunContext): { prepare(source: DiskSource): Promise<DiskSource>; artifacts(): Record<string, unknown> } | undefined {
  if (p.skipGuestPreparation) return undefined;
  let done: PreparedGuest | undefined;
  return {
    async prepare(source) {
      const request = await guestPreparationFor(p, ctx);
      const { disk, prepared } = await prepareGuest(source, request, { workDir: ctx.workDir, signal: ctx.signal });
      for (const w of prepared.warnings) ctx.warn(w.code, w.message);
      done = prepared;
      return disk;
    },
    artifacts: () => (done ? guestArtifacts(done) : {}),
  };
}

/** A dry run of the preparation: the same edits on an overlay that is then thrown away. */
export async function previewGuest(p: Prepare & TransferParams, ctx: ProbeContext): Promise<Record<string, unknown>> {
  if (p.skipGuestPreparation) return {};
  const credential = (id: string | undefined) => (id ? ctx.credential(id) : undefined);
  const storage = openStorage(p.inputStorageLocation.location, credential(p.inputStorageLocation.credentialId));
  const source = await storage.openInput(p.inputImageFilename, inputFormat(p.inputImageFilename, p.inputImageFormat)!, ctx.workDir, { signal: ctx.signal });
  try {
    const request = await guestPreparationFor(p, ctx);
    const { disk, prepared } = await prepareGuest(source, request, { workDir: ctx.workDir, signal: ctx.signal });
    await disk.close();
    return { ...guestArtifacts(prepared), warnings: prepared.warnings };
  } finally {
    await source.close();
  }
}
