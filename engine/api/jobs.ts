import { FastifyInstance } from "fastify";
import { customer } from "../auth/authenticate";
import { ValidationFailedError } from "../errors";
import { JOB_DEFINITIONS } from "../jobs/definitions";
import { JOB_STATUSES, JOB_TYPES, JobStatus, JobType } from "../jobs/model";
import { JobService } from "../runner/job-service";

const MAX_PAGE = 200;
const DEFAULT_PAGE = 50;

/** IPS image operations (each starts a job) and the jobs API. */
export function registerJobRoutes(app: FastifyInstance, deps: { jobService: JobService }): void {
  const service = deps.jobService;

  for (const type of JOB_TYPES) {
    const definition = JOB_DEFINITIONS[type];
    app.post<{ Body: Record<string, unknown>; Querystring: { dryRun?: string } }>(
      `/ips/images/$${type}`,
      {
        schema: {
          summary: definition.summary,
          tags: ["images"],
          body: definition.body,
          querystring: {
            type: "object",
            properties: { dryRun: { type: "string", enum: ["true", "false"], description: "true: validate only" } },
            additionalProperties: false,
          },
        },
      },
      async (request, reply) => {
        const dryRun = request.query.dryRun === "true";
        const result = await service.submit(customer(request), type, request.body, dryRun);
        if ("dryRun" in result) return result;
        request.log.info({ jobId: result.job.id, type, replayed: result.replayed }, result.replayed ? "job replayed" : "job accepted");
        reply.code(result.replayed ? 200 : 202).header("Location", `/ips/jobs/${result.job.id}`);
        return result.job;
      },
    );
  }

  app.get<{ Querystring: { pageSize?: string; continuationToken?: string; status?: JobStatus; type?: JobType } }>(
    "/ips/jobs",
    {
      schema: {
        summary: "List jobs, newest first",
        tags: ["jobs"],
        querystring: {
          type: "object",
          properties: {
            // Query values are strings (the engine never coerces types): a number from 1 to 200.
            pageSize: { type: "string", pattern: "^(?:[1-9][0-9]?|1[0-9][0-9]|200)$", description: `1..${MAX_PAGE}, default ${DEFAULT_PAGE}` },
            continuationToken: { type: "string", maxLength: 512 },
            status: { type: "string", enum: JOB_STATUSES },
            type: { type: "string", enum: JOB_TYPES },
          },
          additionalProperties: false,
        },
      },
    },
    async (request) => {
      const pageSize = request.query.pageSize ? Number(request.query.pageSize) : DEFAULT_PAGE;
      const after = request.query.continuationToken ? decodeToken(request.query.continuationToken) : undefined;
      const items = await service.list(customer(request), {
        pageSize: pageSize + 1, // one more tells whether another page exists
        after,
        status: request.query.status,
        type: request.query.type,
      });
      const page = items.slice(0, pageSize);
      const last = page[page.length - 1];
      return {
        pageSize,
        items: page,
        ...(items.length > pageSize && last ? { continuationToken: encodeToken(last.createdAt, last.id) } : {}),
      };
    },
  );

  const byId = { type: "object", properties: { id: { type: "string", maxLength: 64 } }, required: ["id"] };

  app.get<{ Params: { id: string } }>(
    "/ips/jobs/:id",
    { schema: { summary: "Get a job", tags: ["jobs"], params: byId } },
    async (request) => service.get(customer(request), request.params.id),
  );

  app.delete<{ Params: { id: string } }>(
    "/ips/jobs/:id",
    { schema: { summary: "Cancel a job", tags: ["jobs"], params: byId } },
    async (request, reply) => {
      const { job, accepted } = await service.cancel(customer(request), request.params.id);
      request.log.info({ jobId: job.id, status: job.status }, "job cancel requested");
      reply.code(accepted ? 202 : 200);
      return job;
    },
  );
}

function encodeToken(createdAt: string, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id])).toString("base64url");
}

function decodeToken(token: string): { createdAt: string; id: string } {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as unknown[];
    if (typeof createdAt === "string" && typeof id === "string") return { createdAt, id };
  } catch {
    // reported below
  }
  throw new ValidationFailedError([
    { field: "continuationToken", message: "is not a token this engine issued; pass back the continuationToken of the previous page unchanged" },
  ]);
}
