import { PropertyMap } from "../properties";

/** Request fields every disk-to-disk job takes (the IPS input/output storage fields). */
export const TRANSFER_KEYS = [
  "inputStorageLocation",
  "inputImageFilename",
  "inputImageFormat",
  "outputStorageLocation",
  "outputImageFilename",
  "overwriteOutput",
  "resourceLocationId",
  "tags",
] as const;

/** Outputs every disk-to-disk job reports in its artifacts. */
export function transferOutputs(a: PropertyMap): PropertyMap {
  return { sizeBytes: a.sizeBytes, virtualSizeBytes: a.virtualSizeBytes, sourceVirtualSizeBytes: a.sourceVirtualSizeBytes, sha256: a.sha256 };
}
