import swagger from "@fastify/swagger";
import { FastifyInstance } from "fastify";
import { engineVersion } from "../version";

export const OPENAPI_PATH = "/ips/info/openapi.json";

/**
 * The OpenAPI document is generated from the route schemas fastify validates with, so it
 * cannot drift from what the engine accepts. Register before the routes.
 */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: "3.0.3",
      info: {
        title: "imageportd: Image Portability Service API",
        version: engineVersion(),
        description:
          "Self-hosted engine speaking the Citrix Image Portability Service REST API. Authenticate at " +
          "POST /cctrustoauth2/{customerId}/tokens/clients and send 'Authorization: CwsAuth Bearer=<token>' " +
          "and 'Citrix-CustomerId' on every other call.",
      },
      components: {
        securitySchemes: { cwsAuth: { type: "apiKey", in: "header", name: "Authorization" } },
      },
      security: [{ cwsAuth: [] }],
    },
  });
}

export function registerOpenApiRoute(app: FastifyInstance): void {
  app.get(OPENAPI_PATH, { config: { public: true }, schema: { hide: true } }, async () => app.swagger());
}
