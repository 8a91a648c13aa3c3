import { PropertyMap } from "../properties";

/** Outputs every disk-to-disk job reports in its artifacts. */
export function transferOutputs(a: PropertyMap): PropertyMap {
  return { sizeBytes: a.sizeBytes, virtualSizeBytes: a.virtualSizeBytes, sourceVirtualSizeBytes: a.sourceVirtualSizeBytes, sha256: a.sha256 };
}
