import { ConnectorView, ImageportError } from "../../client";
import { integerInRange, matches, notSecret, requireString } from "../checks";
import { CheckFailure, ResourceHandler } from "../handler";
import { compact, PropertyMap } from "../properties";
import {
  DISPLAY_NAME_PATTERN,
  DISPLAY_NAME_RULE,
  LOCATION_ID_PATTERN,
  LOCATION_ID_RULE,
  MAX_CONCURRENT_JOBS,
  notLocal,
} from "./resource-location";

/** The registration's settings as inputs: what the program declares and what import reads back. */
function inputsOf(view: ConnectorView): PropertyMap {
  return { name: view.name, resourceLocationId: view.resourceLocationId, maxConcurrentJobs: view.maxConcurrentJobs };
}

/**
 * Outputs: the settings plus what the engine reports. The registration code is known only
 * from create's answer, so it is carried over from the state afterwards.
 */
function outputs(view: ConnectorView, registrationCode: unknown): PropertyMap {
  return compact({
    ...inputsOf(view),
    connectorId: view.id,
    status: view.status,
    registered: view.registered,
    registrationCode: typeof registrationCode === "string" ? registrationCode : undefined,
    registrationExpiresAt: view.registrationExpiresAt,
    lastHeartbeatAt: view.lastHeartbeatAt,
    createdAt: view.createdAt,
  });
}

export const connectorRegistrationHandler: ResourceHandler = {
  check(news, _olds, ctx) {
    const inputs: PropertyMap = compact({ ...news, maxConcurrentJobs: news.maxConcurrentJobs ?? MAX_CONCURRENT_JOBS.default });
    const name = requireString(inputs, "name", "(the connector's display name)");
    const location = requireString(inputs, "resourceLocationId", "(the id of the ResourceLocation whose jobs the connector runs)");
    const failures: CheckFailure[] = [
      ...(name.length ? name : matches(inputs, "name", DISPLAY_NAME_PATTERN, DISPLAY_NAME_RULE)),
      ...(location.length
        ? location
        : [
            ...matches(inputs, "resourceLocationId", LOCATION_ID_PATTERN, LOCATION_ID_RULE),
            ...notLocal(inputs, "resourceLocationId", "served by the engine's embedded connector; create a ResourceLocation for this connector"),
          ]),
      ...integerInRange(inputs, "maxConcurrentJobs", MAX_CONCURRENT_JOBS.min, MAX_CONCURRENT_JOBS.max),
      ...notSecret(ctx, ["resourceLocationId"]),
    ];
    return { inputs, failures };
  },

  async create(inputs, ctx) {
    const name = inputs.name as string;
    ctx.status(`registering connector ${name} in resource location ${inputs.resourceLocationId}`);
    const { connector, registrationCode } = await ctx.client.connectorRegistrations.create({
      name,
      resourceLocationId: inputs.resourceLocationId as string,
      maxConcurrentJobs: inputs.maxConcurrentJobs as number,
    });
    return { id: connector.id, outputs: outputs(connector, registrationCode) };
  },

  async read(id, state, _inputs, ctx) {
    const view = await ctx.client.connectorRegistrations.get(id);
    if (!view) return undefined;
    if (view.embedded) {
      throw new ImageportError(
        "VALIDATION_FAILED",
        `Connector '${id}' is the engine's own embedded connector (of location '${view.resourceLocationId}'); it cannot be managed as a ConnectorRegistration.`,
      );
    }
    return { id: view.id, inputs: inputsOf(view), outputs: outputs(view, state.registrationCode) };
  },

  // Every input replaces (the API cannot change a registration), so the engine never asks for an update.
  async update(id) {
    throw new ImageportError(
      "VALIDATION_FAILED",
      `Connector registration '${id}' cannot be changed in place: the API has no update for connectors. Changing name, resourceLocationId or maxConcurrentJobs replaces it.`,
    );
  },

  async delete(id, state, ctx) {
    ctx.status(`removing connector ${typeof state.name === "string" ? state.name : id}`);
    await ctx.client.connectorRegistrations.delete(id); // already gone counts as deleted
  },
};

