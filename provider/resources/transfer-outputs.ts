import { CheckFailure } from "../handler";
import { PropertyMap } from "../properties";

/** A job's input is a file (`inputStorageLocation` + `inputImageFilename`) unless it is a VM's disk on vCenter (`vsphereHost`). */
export function checkDiskInput(inputs: PropertyMap): CheckFailure[] {
  if (inputs.vsphereHost !== undefined) return [];
  return (["inputStorageLocation", "inputImageFilename"] as const)
    .filter((k) => inputs[k] === undefined)
    .map((property) => ({ property, reason: `${property} is required unless the input is a VM's disk on vCenter (vsphereHost)` }));
}

/** Outputs every disk-to-disk job reports in its artifacts. */
export function transferOutputs(a: PropertyMap): PropertyMap {
  return { sizeBytes: a.sizeBytes, virtualSizeBytes: a.virtualSizeBytes, sourceVirtualSizeBytes: a.sourceVirtualSizeBytes, blockDigest: a.blockDigest };
}

/** Outputs of a job that prepared a guest (absent with skipGuestPreparation). */
export function guestOutputs(a: PropertyMap): PropertyMap {
  return { guest: a.guest, changeRecord: a.changeRecord, guestRecordPath: a.guestRecordPath };
}
