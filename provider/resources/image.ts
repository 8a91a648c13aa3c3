import { CheckFailure } from "../handler";
import { jobResource } from "../jobs/job-resource";
import { PropertyMap } from "../properties";

/** Per platform: the inputs it requires, and the others only it takes (every other platform refuses both). */
const PLATFORM_INPUTS: Record<string, { required: readonly string[]; optional: readonly string[] }> = {
  aws: { required: ["platformCredentialId", "region", "snapshotId"], optional: [] },
  azure: { required: ["platformCredentialId", "diskId"], optional: [] },
  vsphere: {
    required: ["inputStorageLocation", "inputImageFilename", "vsphereHost", "vsphereCredentialId", "vsphereDatastore"],
    optional: [
      "inputImageFormat",
      "vspherePort",
      "vsphereSslCaCertificate",
      "vsphereSslFingerprint",
      "vsphereSslNoCheckHostname",
      "vsphereDatacenter",
      "vsphereFolder",
      "vsphereResourcePool",
      "guestId",
      "numCpus",
      "memoryMB",
      "snapshotName",
    ],
  },
};

const takes = (platform: string, key: string) => PLATFORM_INPUTS[platform]!.required.includes(key) || PLATFORM_INPUTS[platform]!.optional.includes(key);

/**
 * The master image path MCS names the image by in a hosting unit (what `New-ProvScheme
 * -MasterImageVM` takes): an AMI as `<name> (<ami-id>).ami`, an Azure snapshot under its
 * resource group in the hosting unit's image folder, a vSphere VM as of its snapshot as
 * `<vm>.vm\<snapshot>.snapshot`.
 */
export function masterImagePath(props: PropertyMap): string | undefined {
  const { hostingUnit, imageName, imageId, platform } = props as Record<string, string | undefined>;
  if (!hostingUnit || !imageName || !imageId) return undefined;
  const unit = `XDHyp:\\HostingUnits\\${hostingUnit}`;
  if (platform === "aws") return `${unit}\\${imageName} (${imageId}).ami`;
  if (platform === "vsphere") {
    // The snapshot the job took (its name is in the outputs; the input may have left it to the default).
    const snapshot = (props.vmSnapshotName ?? props.snapshotName) as string | undefined;
    return snapshot ? `${unit}\\${imageName}.vm\\${snapshot}.snapshot` : undefined;
  }
  const group = /\/resourceGroups\/([^/]+)\//i.exec(imageId)?.[1];
  const resourceGroup = group && decodeURIComponent(group);
  if (platform === "azure" && resourceGroup) return `${unit}\\image.folder\\${resourceGroup}.resourcegroup\\${imageName}.snapshot`;
  return undefined;
}

/** Image: the bootable image MCS consumes: an AMI or snapshot from an upload's snapshot or disk, or a vSphere VM with a snapshot made from a disk file (engine $createImage). */
export const imageHandler = jobResource({
  token: "imageport:index:Image",
  noun: "image",
  jobType: () => "createImage",
  jobTypes: ["createImage"],
  localInputs: ["hostingUnit"],
  check(inputs) {
    const failures: CheckFailure[] = [];
    const platform = inputs.platform;
    if (typeof platform !== "string" || !(platform in PLATFORM_INPUTS)) return failures;
    for (const key of PLATFORM_INPUTS[platform]!.required) {
      if (inputs[key] === undefined) failures.push({ property: key, reason: `${key} is required for platform ${platform}` });
    }
    const othersOnly = new Set(Object.keys(PLATFORM_INPUTS).flatMap((p) => [...PLATFORM_INPUTS[p]!.required, ...PLATFORM_INPUTS[p]!.optional]).filter((k) => !takes(platform, k)));
    for (const key of othersOnly) {
      if (inputs[key] === undefined) continue;
      const owners = Object.keys(PLATFORM_INPUTS).filter((p) => takes(p, key));
      failures.push({ property: key, reason: `${key} applies to platform ${owners.join(" and ")} only; remove it for ${platform}` });
    }
    return failures;
  },
  outputs: (a) => ({
    imageId: a.imageId,
    sourceId: a.sourceId,
    // vsphere: the snapshot MCS copies the VM as of, and the disk's file.
    vmSnapshotId: a.platform === "vsphere" ? a.snapshotId : undefined,
    vmSnapshotName: a.platform === "vsphere" ? a.snapshotName : undefined,
    datastorePath: a.datastorePath,
  }),
  derived: (props) => ({ masterImagePath: masterImagePath(props) }),
});
