// Access tokens for ARM from Microsoft Entra ID with the client-credentials grant (the same
// request ClientSecretCredential sends). Our own, because @azure/identity (MSAL) refuses a
// plain-http authority, and the tests point the authority at a local fake. The client secret
// goes only into the POST body, never into a URL, a log line or an error message.

import { jobFailure } from "../../errors";
import { AzureCallError, azureFailure } from "./failures";
import { AUTHORITY_HOST_ENV, AzureEndpoints } from "./settings";

const REQUEST_TIMEOUT_MS = 30_000;
const REFRESH_MARGIN_MS = 120_000;

export interface AzureSecret {
  tenantId: string;
  clientId: string;
  clientSecret: string;
}

export class TokenSource {
  private cached?: { token: string; until: number };

  constructor(
    private readonly secret: AzureSecret,
    private readonly endpoints: AzureEndpoints,
  ) {
    if (!/^[A-Za-z0-9.-]{1,253}$/.test(secret.tenantId)) {
      throw jobFailure("CREDENTIAL_UNUSABLE", "The Azure credential's tenantId is neither a GUID nor a domain name; replace the credential (PUT /ips/credentials/<id>).");
    }
  }

  /** The scope ARM tokens are asked for: the ARM endpoint's audience. */
  get scope(): string {
    return `${this.endpoints.armEndpoint}/.default`;
  }

  async token(signal: AbortSignal): Promise<string> {
    if (this.cached && Date.now() < this.cached.until) return this.cached.token;
    const url = `${this.endpoints.authorityHost}/${encodeURIComponent(this.secret.tenantId)}/oauth2/v2.0/token`;
    const target = { url: this.endpoints.authorityHost, ...(this.endpoints.overridden.authorityHost ? { setting: AUTHORITY_HOST_ENV } : {}) };
    const what = `a token for client ${this.secret.clientId} in tenant ${this.secret.tenantId}`;
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
        body: new URLSearchParams({
          grant_type: "client_credentials",
          client_id: this.secret.clientId,
          client_secret: this.secret.clientSecret,
          scope: this.scope,
        }).toString(),
        signal: AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
      });
      const body = (await res.json().catch(() => ({}))) as { access_token?: string; expires_in?: number | string; error?: string; error_description?: string };
      if (!res.ok || !body.access_token) {
        // error_description is Entra's text (e.g. "AADSTS7000215: Invalid client secret provided"); it never echoes the secret.
        throw new AzureCallError(res.status, body.error, body.error_description ?? `HTTP ${res.status} without an access token`);
      }
      const seconds = Number(body.expires_in ?? 3600);
      this.cached = { token: body.access_token, until: Date.now() + Math.max(0, seconds * 1000 - REFRESH_MARGIN_MS) };
      return body.access_token;
    } catch (error) {
      throw signal.aborted ? signal.reason : azureFailure("token request", what, target, error);
    }
  }
}
