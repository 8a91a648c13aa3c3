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

/**
 * Failed token requests one address may make per minute. Checking a secret costs CPU on purpose
 * (scrypt), so guessing is bounded per address, whatever client ids it tries; a caller with the
 * right secret is never slowed down.
 */
export const FAILED_TOKEN_REQUESTS_PER_MINUTE = 20;

/** OAuth2 client-credentials grant at Citrix Cloud's path. */
export function registerTokenRoutes(
  app: FastifyInstance,
  deps: { clients: ApiClientStore; tokens: TokenIssuer },
): void {
  const failures = new FailureWindow(FAILED_TOKEN_REQUESTS_PER_MINUTE, 60_000);
  app.post<TokenRequest>(
    "/cctrustoauth2/:customerId/tokens/clients",
    { config: { public: true }, schema: { body: tokenRequestBody } },
    async (request, reply) => {
      const { customerId } = request.params;
      const { client_id, client_secret } = request.body;
      const wait = failures.retryAfter(request.ip);
      if (wait !== undefined) {
        reply.header("Retry-After", String(wait));
        throw new EngineError(
          "TOO_MANY_REQUESTS",
          `Too many failed token requests from ${request.ip} (at most ${FAILED_TOKEN_REQUESTS_PER_MINUTE} a minute); the secret was not checked. Use the right client id and secret; try again in ${wait} s.`,
        );
      }
      const client = await deps.clients.find(client_id);
      const valid = await verifyClientSecret(client_secret, client?.secretHash);
      if (!client || !valid || client.customerId !== customerId) {
        failures.add(request.ip);
        throw badClientCredentials(customerId);
      }

      const { token, expiresIn } = deps.tokens.issue(customerId, client.clientId, {
        role: client.role ?? "user",
        connectorId: client.connectorId,
      });
      reply.header("Cache-Control", "no-store"); // RFC 6749 5.1: token responses must not be cached
      return { access_token: token, token_type: "bearer", expires_in: expiresIn };
    },
  );
}

/** Failures per address in fixed one-minute windows (addresses with no failure cost nothing). */
class FailureWindow {
  private readonly counts = new Map<string, { since: number; count: number }>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** Seconds to wait when the address is over its limit, else undefined. */
  retryAfter(address: string, now = Date.now()): number | undefined {
    const entry = this.counts.get(address);
    if (!entry) return undefined;
    if (now - entry.since >= this.windowMs) {
      this.counts.delete(address);
      return undefined;
    }
    return entry.count >= this.limit ? Math.ceil((entry.since + this.windowMs - now) / 1000) : undefined;
  }

  add(address: string, now = Date.now()): void {
    const entry = this.counts.get(address);
    if (!entry || now - entry.since >= this.windowMs) this.counts.set(address, { since: now, count: 1 });
    else entry.count++;
    // Bounded memory: an address's entry outlives its window only until it is seen again or swept here.
    if (this.counts.size > 10_000) for (const [a, e] of this.counts) if (now - e.since >= this.windowMs) this.counts.delete(a);
  }
}
