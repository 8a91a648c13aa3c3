import { AxiosInstance } from "axios";
import { ConfigurationError } from "./errors";

export interface ClientCredentials {
  customerId: string;
  clientId: string;
  clientSecret: string;
}

interface CachedToken {
  value: string;
  expiresAt: number;
}

/**
 * Gets bearer tokens with the OAuth2 client-credentials flow of Citrix Cloud
 * (`POST /cctrustoauth2/{customerId}/tokens/clients`) and reuses each one until a
 * minute before it expires. Tokens cannot be refreshed; a 401 means "get a new one".
 */
export class TokenSource {
  private cached?: CachedToken;
  private pending?: Promise<string>;

  constructor(
    private readonly http: AxiosInstance,
    private readonly credentials: ClientCredentials,
  ) {
    for (const key of ["customerId", "clientId", "clientSecret"] as const) {
      if (!credentials[key]) {
        throw new ConfigurationError(key, "is required to authenticate; set it in the provider configuration or its environment variable");
      }
    }
  }

  get customerId(): string {
    return this.credentials.customerId;
  }

  async token(): Promise<string> {
    if (this.cached && Date.now() < this.cached.expiresAt) return this.cached.value;
    // One request in flight at a time, however many calls need a token.
    this.pending ??= this.fetch().finally(() => (this.pending = undefined));
    return this.pending;
  }

  invalidate(): void {
    this.cached = undefined;
  }

  private async fetch(): Promise<string> {
    const { customerId, clientId, clientSecret } = this.credentials;
    const form = new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret });
    const res = await this.http.post(`/cctrustoauth2/${encodeURIComponent(customerId)}/tokens/clients`, form, {
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      skipAuth: true,
      // Asking again is harmless (a second token), so a connection lost on the way is retried,
      // e.g. a kept-alive socket that closed just as it was reused.
      idempotent: true,
    });
    const lifetimeSeconds = Number(res.data.expires_in ?? 3600);
    this.cached = { value: String(res.data.access_token), expiresAt: Date.now() + Math.max(0, lifetimeSeconds - 60) * 1000 };
    return this.cached.value;
  }
}

// Requests the token source makes itself must not ask for a token.
declare module "axios" {
  interface AxiosRequestConfig {
    skipAuth?: boolean;
    authRetried?: boolean;
    /** Safe to repeat after a 5xx or a dropped connection (e.g. a POST carrying a clientToken). */
    idempotent?: boolean;
  }
}
