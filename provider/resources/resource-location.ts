import { ApiError, ImageportClient, ImageportError, ResourceLocationView } from "../../client";
import { autoName, integerInRange, matches, notSecret } from "../checks";
import { CheckFailure, ResourceHandler } from "../handler";
import { compact, PropertyMap } from "../properties";

/** The engine's id rule for locations (and credentials). */
export const LOCATION_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const LOCATION_ID_RULE = "use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit";
/** Display names: 1-256 characters, no control characters (PostgreSQL cannot store NUL). */
export const DISPLAY_NAME_PATTERN = /^[^\u0000-\u001f\u007f]{1,256}$/u;
export const DISPLAY_NAME_RULE = "use 1-256 characters without control characters";
/** The location every engine makes for itself; its embedded connector serves it. */
export const LOCAL_LOCATION_ID = "local";
export const MAX_CONCURRENT_JOBS = { min: 1, max: 64, default: 2 } as const;

const TYPE = "imageport:index:ResourceLocation";

/** The location's settings as inputs: what the program declares and what import reads back. */
function inputsOf(view: ResourceLocationView): PropertyMap {
  return { resourceLocationId: view.id, name: view.name, maxConcurrentJobs: view.maxConcurrentJobs };
}

function outputs(view: ResourceLocationView): PropertyMap {
  return compact({ ...inputsOf(view), createdAt: view.createdAt, updatedAt: view.updatedAt });
}

/** `local` exists on every engine and cannot be created or deleted. */
export function notLocal(inputs: PropertyMap, key: string, why: string): CheckFailure[] {
  if (inputs[key] !== LOCAL_LOCATION_ID) return [];
  return [{ property: key, reason: `${key} cannot be '${LOCAL_LOCATION_ID}': that is the engine's own location, ${why}` }];
}

export const resourceLocationHandler: ResourceHandler = {
  check(news, olds, ctx) {
    const id = autoName(news, olds, "resourceLocationId", ctx);
    const inputs: PropertyMap = compact({
      ...news,
      resourceLocationId: id,
      name: news.name ?? id,
      maxConcurrentJobs: news.maxConcurrentJobs ?? MAX_CONCURRENT_JOBS.default,
    });
    const failures: CheckFailure[] = [
      ...matches(inputs, "resourceLocationId", LOCATION_ID_PATTERN, LOCATION_ID_RULE),
      ...notLocal(inputs, "resourceLocationId", "which always exists: reference it by id instead of declaring it"),
      ...matches(inputs, "name", DISPLAY_NAME_PATTERN, DISPLAY_NAME_RULE),
      ...integerInRange(inputs, "maxConcurrentJobs", MAX_CONCURRENT_JOBS.min, MAX_CONCURRENT_JOBS.max),
      ...notSecret(ctx, ["resourceLocationId"]),
    ];
    return { inputs, failures };
  },

  async create(inputs, ctx) {
    const id = inputs.resourceLocationId as string;
    ctx.status(`creating resource location ${id}`);
    try {
      const view = await ctx.client.locations.create(id, body(inputs));
      return { id: view.id, outputs: outputs(view) };
    } catch (e) {
      if (e instanceof ApiError && e.code === "RESOURCE_LOCATION_ALREADY_EXISTS") {
        throw new ImageportError(
          e.code,
          `Resource location '${id}' already exists in the engine, so it cannot be created. ` +
            `To manage it with Pulumi, import it: \`pulumi import ${TYPE} <name> ${id}\`; or choose another resourceLocationId.`,
          { cause: e },
        );
      }
      throw e;
    }
  },

  async read(id, _state, _inputs, ctx) {
    const view = await ctx.client.locations.get(id);
    if (!view) return undefined;
    return { id: view.id, inputs: inputsOf(view), outputs: outputs(view) };
  },

  async update(id, _state, news, ctx) {
    ctx.status(`updating resource location ${id}`);
    try {
      return outputs(await ctx.client.locations.update(id, body(news)));
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        throw new ImageportError(
          "RESOURCE_LOCATION_NOT_FOUND",
          `Resource location '${id}' was deleted outside Pulumi, so it cannot be updated. Run \`pulumi refresh\` to drop it from the state, then \`pulumi up\` to create it again.`,
          { cause: e },
        );
      }
      throw e;
    }
  },

  async delete(id, _state, ctx) {
    ctx.status(`deleting resource location ${id}`);
    try {
      await ctx.client.locations.delete(id); // already gone counts as deleted
    } catch (e) {
      if (e instanceof ApiError && e.code === "RESOURCE_LOCATION_IN_USE") throw await inUse(id, e, ctx.client);
      throw e;
    }
  },
};

function body(inputs: PropertyMap): { name: string; maxConcurrentJobs: number } {
  return { name: inputs.name as string, maxConcurrentJobs: inputs.maxConcurrentJobs as number };
}

/** The engine's refusal, with the connectors that hold the location and what to do about them. */
async function inUse(id: string, cause: ApiError, client: ImageportClient): Promise<ImageportError> {
  const connectors = await client.connectorRegistrations.list({ resourceLocationId: id }).catch(() => []);
  const names = connectors.map((c) => `'${c.name}' (${c.id})`).join(", ");
  const held = connectors.length
    ? ` Connectors still registered to it: ${names}. Delete them first: remove their ConnectorRegistration resources ` +
      `(give them this location's resourceLocationId output, so Pulumi deletes them before the location), ` +
      `or \`DELETE /ips/connectors/<id>\` for ones Pulumi does not manage.`
    : " Wait for its unfinished jobs to end, or cancel them (`imageport jobs cancel <id>`).";
  return new ImageportError(
    "RESOURCE_LOCATION_IN_USE",
    `Cannot delete resource location '${id}'. ${cause.message}${held} Then run the command again.`,
    { cause },
  );
}
