import { checkFileName, openStorage } from "../../platforms";
import { JobDefinition } from "../definition";
import { commonProperties, objectSchema, storageLocation } from "../schemas";
import { checkLocationFields, LocationParam } from "../storage-fields";

export interface DeleteParams {
  storageLocation: LocationParam;
  filenames: string[];
}

/**
 * Removes files a job wrote (an exported disk, a vDisk and its properties file): how a client
 * deletes an artifact, run by the connector that reaches the storage. An engine addition,
 * shaped like the IPS image operations. Files already gone are reported, not an error.
 */
export const deleteJob: JobDefinition<DeleteParams> = {
  type: "delete",
  summary: "Delete files from a storage location (the artifacts of earlier jobs)",
  body: objectSchema(
    {
      ...commonProperties,
      storageLocation,
      filenames: { type: "array", minItems: 1, maxItems: 16, uniqueItems: true, items: { type: "string", minLength: 1, maxLength: 255 } },
    },
    ["storageLocation", "filenames"],
  ),
  async validate(p, ctx) {
    return [
      ...(await checkLocationFields("storageLocation", p.storageLocation, ctx)),
      ...p.filenames.flatMap((name, i) => checkFileName(name, `filenames.${i}`, p.storageLocation.location)),
    ];
  },
  steps: () => [
    { name: "validate", weight: 1 },
    { name: "remove", weight: 9 },
  ],
  async run(p, ctx) {
    const credential = p.storageLocation.credentialId ? ctx.credential(p.storageLocation.credentialId) : undefined;
    const storage = openStorage(p.storageLocation.location, credential);
    await ctx.step("validate", () => storage.probe(ctx.signal));
    const removed: string[] = [];
    const missing: string[] = [];
    await ctx.step("remove", async (progress) => {
      for (const [i, name] of p.filenames.entries()) {
        if (await storage.stat(name, ctx.signal)) {
          await storage.remove(name, ctx.signal);
          removed.push(name);
        } else {
          missing.push(name);
          ctx.warn("FILE_ALREADY_GONE", `'${name}' was not in ${storage.uri}; nothing to delete.`);
        }
        progress((i + 1) / p.filenames.length);
      }
    });
    ctx.setArtifacts({ location: storage.uri, removed, missing });
  },
};
