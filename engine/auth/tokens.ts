import { createHash, randomBytes } from "node:crypto";

export const TOKEN_LIFETIME_SECONDS = 3600;

export interface TokenGrant {
  customerId: string;
  clientId: string;
  role: "user" | "connector";
  connectorId?: string;
  /** Epoch milliseconds. */
  expiresAt: number;
}

/**
 * Opaque bearer tokens kept in memory only: a restart invalidates them and clients
 * re-authenticate on 401, as with Citrix Cloud. Keyed by sha256 so the map holds no usable token.
 */
export class TokenIssuer {
  readonly #grants = new Map<string, TokenGrant>();

  constructor(
    private readonly lifetimeSeconds = TOKEN_LIFETIME_SECONDS,
    private readonly now: () => number = Date.now,
  ) {}

  issue(
    customerId: string,
    clientId: string,
    scope: { role: "user" | "connector"; connectorId?: string } = { role: "user" },
  ): { token: string; expiresIn: number } {
    this.prune();
    const token = randomBytes(32).toString("base64url");
    const expiresAt = this.now() + this.lifetimeSeconds * 1000;
    this.#grants.set(digest(token), { customerId, clientId, ...scope, expiresAt });
    return { token, expiresIn: this.lifetimeSeconds };
  }

  /** The grant of a live token, or undefined for an unknown or expired one. */
  verify(token: string): TokenGrant | undefined {
    const key = digest(token);
    const grant = this.#grants.get(key);
    if (!grant) return undefined;
    if (grant.expiresAt <= this.now()) {
      this.#grants.delete(key);
      return undefined;
    }
    return grant;
  }

  /** Ends every token of a client (a deregistered connector). */
  revokeClient(clientId: string): void {
    for (const [key, grant] of this.#grants) if (grant.clientId === clientId) this.#grants.delete(key);
  }

  /** Drops expired grants so the map stays bounded by the tokens of the last hour. */
  private prune(): void {
    const now = this.now();
    for (const [key, grant] of this.#grants) if (grant.expiresAt <= now) this.#grants.delete(key);
  }
}

function digest(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}
