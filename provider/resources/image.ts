import { CheckFailure } from "../handler";
import { jobResource } from "../jobs/job-resource";
import { PropertyMap } from "../properties";

/** Per platform: the inputs it needs, and the other platform's it refuses. */
const PLATFORM_INPUTS: Record<string, readonly string[]> = { aws: ["region", "snapshotId"], azure: ["diskId"] };

/**
 * The master image path MCS names the image by in a hosting unit (what `New-ProvScheme
 * -MasterImageVM` takes): an AMI as `<name> (<ami-id>).ami`, an Azure snapshot under its
 * resource group in the hosting unit's image folder.
 */
export function masterImagePath(props: PropertyMap): string | undefined {
  const { hostingUnit, imageName, imageId, platform } = props as Record<string, string | undefined>;
  if (!hostingUnit || !imageName || !imageId) return undefined;
  const unit = `XDHyp:\\HostingUnits\\${hostingUnit}`;
  if (platform === "aws") return `${unit}\\${imageName} (${imageId}).ami`;
  const group = /\/resourceGroups\/([^/]+)\//i.exec(imageId)?.[1];
  const resourceGroup = group && decodeURIComponent(group);
  if (platform === "azure" && resourceGroup) return `${unit}\\image.folder\\${resourceGroup}.resourcegroup\\${imageName}.snapshot`;
  return undefined;
}

/** Image: the bootable image MCS consumes, made from an upload's snapshot or disk (engine $createImage). */
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
    for (const [other, keys] of Object.entries(PLATFORM_INPUTS)) {
      for (const key of keys) {
        if (other === platform && inputs[key] === undefined) failures.push({ property: key, reason: `${key} is required for platform ${platform}` });
        if (other !== platform && !PLATFORM_INPUTS[platform]!.includes(key) && inputs[key] !== undefined) {
          failures.push({ property: key, reason: `${key} applies to platform ${other} only; remove it for ${platform}` });
        }
      }
    }
    return failures;
  },
  outputs: (a) => ({ imageId: a.imageId, sourceId: a.sourceId }),
  derived: (props) => ({ masterImagePath: masterImagePath(props) }),
});
