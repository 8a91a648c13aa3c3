import { FastifyInstance, FastifyRequest } from "fastify";
import { AuthContext } from "../auth/authenticate";
import { EngineError, ForbiddenError } from "../errors";
import { JobReport } from "../jobs/model";
import { ConnectorService } from "../runner/connector-service";
import { JobService } from "../runner/job-service";
import { CREDENTIAL_ID_PATTERN } from "./schemas/credentials";
import { customer } from "../auth/authenticate";

const byId = { type: "object", properties: { id: { type: "string", maxLength: 64 } }, required: ["id"] };
const stepSchema = {
  type: "object",
  properties: {
    name: { type: "string", maxLength: 64 },
    status: { type: "string", enum: ["notStarted", "inProgress", "complete", "failed", "cancelled", "skipped"] },
    progressPercent: { type: "integer", minimum: 0, maximum: 100 },
    startedAt: { type: "string", maxLength: 40 },
    finishedAt: { type: "string", maxLength: 40 },
  },
  required: ["name", "status", "progressPercent"],
  additionalProperties: false,
};
const reportBody = {
  type: "object",
  properties: {
    status: { type: "string", enum: ["inProgress", "complete", "failed", "cancelled"] },
    overallProgressPercent: { type: "integer", minimum: 0, maximum: 100 },
    steps: { type: "array", maxItems: 64, items: stepSchema },
    warnings: {
      type: "array",
      maxItems: 200,
      items: {
        type: "object",
        properties: { code: { type: "string", maxLength: 64 }, message: { type: "string", maxLength: 4096 }, at: { type: "string", maxLength: 40 } },
        required: ["code", "message", "at"],
        additionalProperties: false,
      },
    },
    error: {
      type: "object",
      properties: { code: { type: "string", maxLength: 64 }, message: { type: "string", maxLength: 8192 } },
      required: ["code", "message"],
      additionalProperties: false,
    },
    artifacts: { type: "object", maxProperties: 64 },
  },
  required: ["status", "overallProgressPercent", "steps", "warnings"],
  additionalProperties: false,
};

/** Connector registration (users) and the connector protocol (connectors only). */
export function registerConnectorRoutes(
  app: FastifyInstance,
  deps: { connectorService: ConnectorService; jobService: JobService },
): void {
  const { connectorService, jobService } = deps;
  const tags = ["connectors"];

  app.post<{ Body: { name: string; resourceLocationId: string; maxConcurrentJobs?: number } }>(
    "/ips/connectors",
    {
      schema: {
        summary: "Create a connector registration (returns a one-time registration code)",
        tags,
        body: {
          type: "object",
          properties: {
            name: { type: "string", minLength: 1, maxLength: 256 },
            resourceLocationId: { type: "string", pattern: CREDENTIAL_ID_PATTERN },
            maxConcurrentJobs: { type: "integer", minimum: 1, maximum: 64 },
          },
          required: ["name", "resourceLocationId"],
          additionalProperties: false,
        },
      },
    },
    async (request, reply) => {
      const { connector, registrationCode } = await connectorService.create(customer(request), request.body);
      request.log.info({ connectorId: connector.id }, "connector registration created");
      reply.code(201).header("Location", `/ips/connectors/${connector.id}`);
      return { ...connector, registrationCode };
    },
  );

  app.get<{ Querystring: { resourceLocationId?: string } }>(
    "/ips/connectors",
    {
      schema: {
        summary: "List connectors",
        tags,
        querystring: { type: "object", properties: { resourceLocationId: { type: "string", maxLength: 128 } }, additionalProperties: false },
      },
    },
    async (request) => ({ items: await connectorService.list(customer(request), request.query) }),
  );

  app.get<{ Params: { id: string } }>(
    "/ips/connectors/:id",
    { schema: { summary: "Get a connector", tags, params: byId } },
    async (request) => connectorService.get(customer(request), request.params.id),
  );

  app.delete<{ Params: { id: string } }>(
    "/ips/connectors/:id",
    { schema: { summary: "Remove a connector", tags, params: byId } },
    async (request, reply) => {
      await connectorService.delete(customer(request), request.params.id);
      request.log.info({ connectorId: request.params.id }, "connector removed");
      reply.code(204).send();
    },
  );

  app.post<{ Body: { registrationCode: string; version?: string; hostname?: string } }>(
    "/ips/connectors/$register",
    {
      config: { public: true }, // the one-time code is the credential
      schema: {
        summary: "Register a connector with its one-time code (returns its API client)",
        tags,
        body: {
          type: "object",
          properties: {
            registrationCode: { type: "string", minLength: 1, maxLength: 128 },
            version: { type: "string", maxLength: 64 },
            hostname: { type: "string", maxLength: 255 },
          },
          required: ["registrationCode"],
          additionalProperties: false,
        },
      },
    },
    async (request, reply) => {
      const { registrationCode, ...meta } = request.body;
      const registration = await connectorService.register(registrationCode, meta);
      request.log.info({ connectorId: registration.connectorId }, "connector registered");
      reply.code(201).header("Cache-Control", "no-store");
      return registration;
    },
  );

  const connectorOnly = { connector: true };

  app.post<{ Params: { id: string }; Body: { runningJobIds: string[] } }>(
    "/ips/connectors/:id/$heartbeat",
    {
      config: connectorOnly,
      schema: {
        summary: "Connector heartbeat: renews the leases of running jobs, returns the ones to stop",
        tags,
        params: byId,
        body: {
          type: "object",
          properties: { runningJobIds: { type: "array", maxItems: 256, items: { type: "string", maxLength: 64 } } },
          required: ["runningJobIds"],
          additionalProperties: false,
        },
      },
    },
    async (request) => {
      const connectorId = ownConnector(request, request.params.id);
      return { stopJobIds: await jobService.heartbeat(customer(request), connectorId, request.body.runningJobIds) };
    },
  );

  app.post<{ Params: { id: string } }>(
    "/ips/connectors/:id/$claim",
    { config: connectorOnly, schema: { summary: "Connector: take the next job (204 when there is none)", tags, params: byId } },
    async (request, reply) => {
      const connectorId = ownConnector(request, request.params.id);
      const work = await jobService.claim(customer(request), connectorId);
      if (!work) return reply.code(204).send();
      request.log.info({ jobId: work.job.id, connectorId }, "job claimed");
      reply.header("Cache-Control", "no-store"); // carries credential secrets
      return work;
    },
  );

  app.post<{ Params: { id: string }; Body: JobReport }>(
    "/ips/jobs/:id/$report",
    { config: connectorOnly, schema: { summary: "Connector: report a job's progress or end", tags: ["jobs"], params: byId, body: reportBody } },
    async (request) => {
      const connectorId = (request.auth as AuthContext).connectorId!;
      const answer = await jobService.report(customer(request), connectorId, request.params.id, request.body);
      if (!answer) {
        throw new EngineError(
          "JOB_NOT_HELD",
          `Connector '${connectorId}' does not hold job '${request.params.id}' (it ended, or was taken back after the lease expired). Stop working on it.`,
        );
      }
      if (request.body.status !== "inProgress") {
        request.log.info({ jobId: request.params.id, connectorId, status: request.body.status, code: request.body.error?.code }, "job ended");
      }
      return answer;
    },
  );
}

/** A connector may act only for itself. */
function ownConnector(request: FastifyRequest, id: string): string {
  const own = (request.auth as AuthContext).connectorId;
  if (own !== id) throw new ForbiddenError(`This token belongs to connector '${own}', not '${id}'.`);
  return id;
}
