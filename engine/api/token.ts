import { FastifyInstance } from "fastify";
import { verifyClientSecret } from "../auth/client-secret";
import { TokenIssuer } from "../auth/tokens";
import { badClientCredentials, EngineError } from "../errors";
import { ApiClientStore } from "../store/api-client-store";
import { tokenRequestBody } from "./schemas/token";

interface TokenRequest {
  Params: { customerId: string };
  Body: { grant_type: "client_credentials"; client_id: string; client_secret: string };
}

/** Token requests one client may make from one address per minute (a token lasts an hour). */
export const TOKEN_REQUESTS_PER_MINUTE = 60;

/** OAuth2 client-credentials grant at Citrix Cloud's path. */
export function registerTokenRoutes(
  app: FastifyInstance,
  deps: { clients: ApiClientStore; tokens: TokenIssuer },
): void {
  app.post<TokenRequest>(
    "/cctrustoauth2/:customerId/tokens/clients",
    {
      config: {
        public: true,
        // Checking a secret costs CPU on purpose (a slow hash): bounded per client and address.
        rateLimit: {
          max: TOKEN_REQUESTS_PER_MINUTE,
          timeWindow: 60_000,
          hook: "preHandler", // after the body is parsed, so the key can name the client
          keyGenerator: (request: { ip: string; body?: unknown }) => `${request.ip}|${String((request.body as { client_id?: unknown } | undefined)?.client_id ?? "")}`,
          errorResponseBuilder: (_request: unknown, context: { after: string }) =>
            new EngineError(
              "TOO_MANY_REQUESTS",
              `Too many token requests for this client from this address (at most ${TOKEN_REQUESTS_PER_MINUTE} a minute). Reuse a token for its hour; try again in ${context.after}.`,
            ),
        },
      },
      schema: { body: tokenRequestBody },
    },
    async (request, reply) => {
      const { customerId } = request.params;
      const { client_id, client_secret } = request.body;
      const client = await deps.clients.find(client_id);
      const valid = await verifyClientSecret(client_secret, client?.secretHash);
      if (!client || !valid || client.customerId !== customerId) throw badClientCredentials(customerId);

      const { token, expiresIn } = deps.tokens.issue(customerId, client.clientId, {
        role: client.role ?? "user",
        connectorId: client.connectorId,
      });
      reply.header("Cache-Control", "no-store"); // RFC 6749 5.1: token responses must not be cached
      return { access_token: token, token_type: "bearer", expires_in: expiresIn };
    },
  );
}
