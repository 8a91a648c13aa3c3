import { FastifyInstance } from "fastify";
import { NotFoundError } from "../errors";
import { engineVersion } from "../version";

export const API_VERSION = "1";

/** Unauthenticated: liveness and service info (the IPS client checks /ips/info before logging in). */
export function registerHealthRoutes(app: FastifyInstance): void {
  const config = { public: true };
  app.get("/healthz", { config }, async () => ({ status: "ok" }));
  app.get("/ips/info/version", { config }, async () => ({
    service: "imageportd",
    version: engineVersion(),
    apiVersion: API_VERSION,
  }));
  // Other /ips/info/ paths are public too: answer 404, not 401.
  app.get("/ips/info/*", { config, schema: { hide: true } }, async (request) => {
    throw new NotFoundError(request.method, request.url.split("?")[0]!);
  });
}
