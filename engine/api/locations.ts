import { FastifyInstance } from "fastify";
import { EngineError } from "../errors";
import { CREDENTIAL_ID_PATTERN } from "./schemas/credentials";
import { ConnectorStore } from "../store/connector-store";
import { JobStore } from "../store/job-store";
import { LOCAL_LOCATION_ID, LocationStore } from "../store/location-store";
import { customer } from "../auth/authenticate";

const locationBody = {
  type: "object",
  properties: {
    id: { type: "string", pattern: CREDENTIAL_ID_PATTERN },
    name: { type: "string", minLength: 1, maxLength: 256 },
    maxConcurrentJobs: { type: "integer", minimum: 1, maximum: 64 },
  },
  required: ["id", "name"],
  additionalProperties: false,
};
const byId = { type: "object", properties: { id: { type: "string", pattern: CREDENTIAL_ID_PATTERN } }, required: ["id"] };

/** Resource locations: where connectors run jobs. */
export function registerLocationRoutes(
  app: FastifyInstance,
  deps: { locations: LocationStore; connectors: ConnectorStore; jobs: JobStore },
): void {
  const tags = ["resourceLocations"];
  app.post<{ Body: { id: string; name: string; maxConcurrentJobs?: number } }>(
    "/ips/resourceLocations",
    { schema: { summary: "Create a resource location", tags, body: locationBody } },
    async (request, reply) => {
      const { id, name, maxConcurrentJobs } = request.body;
      const created = await deps.locations.create(customer(request), { id, name, maxConcurrentJobs: maxConcurrentJobs ?? 2 });
      reply.code(201).header("Location", `/ips/resourceLocations/${encodeURIComponent(id)}`);
      return created;
    },
  );
  app.get("/ips/resourceLocations", { schema: { summary: "List resource locations", tags } }, async (request) => ({
    items: await deps.locations.list(customer(request)),
  }));
  app.get<{ Params: { id: string } }>(
    "/ips/resourceLocations/:id",
    { schema: { summary: "Get a resource location", tags, params: byId } },
    async (request) => deps.locations.get(customer(request), request.params.id),
  );
  app.put<{ Params: { id: string }; Body: { name: string; maxConcurrentJobs?: number } }>(
    "/ips/resourceLocations/:id",
    {
      schema: {
        summary: "Change a resource location",
        tags,
        params: byId,
        body: { ...locationBody, required: ["name"] },
      },
    },
    async (request) => {
      const current = await deps.locations.get(customer(request), request.params.id);
      return deps.locations.update(customer(request), request.params.id, {
        name: request.body.name,
        maxConcurrentJobs: request.body.maxConcurrentJobs ?? current.maxConcurrentJobs,
      });
    },
  );
  app.delete<{ Params: { id: string } }>(
    "/ips/resourceLocations/:id",
    { schema: { summary: "Delete a resource location", tags, params: byId } },
    async (request, reply) => {
      const customerId = customer(request);
      const { id } = request.params;
      await deps.locations.get(customerId, id);
      if (id === LOCAL_LOCATION_ID) throw inUse(id, "it is the engine's own location");
      if ((await deps.connectors.countForLocation(customerId, id)) > 0) throw inUse(id, "connectors are registered to it; delete them first");
      if (await deps.jobs.hasUnfinished(customerId, id)) throw inUse(id, "jobs in it have not finished; wait for them or cancel them");
      await deps.locations.delete(customerId, id);
      reply.code(204).send();
    },
  );
}

function inUse(id: string, why: string): EngineError {
  return new EngineError("RESOURCE_LOCATION_IN_USE", `Resource location '${id}' cannot be deleted: ${why}.`);
}
