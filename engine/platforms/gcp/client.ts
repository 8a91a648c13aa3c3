// One job's GCP client: the service-account key from the Gcp credential, an OAuth access token
// obtained with a signed JWT (RS256, the key's private_key; cached until shortly before expiry),
// and JSON requests to GCS and Compute with errors turned into engine failures. Plain fetch:
// google-auth-library 9 (what @google-cloud/storage 7 brings) ignores the key's token_uri, and
// one small token path keeps the secret out of every SDK's logging and retry machinery.

import { createSign } from "node:crypto";
import { jobFailure } from "../../errors";
import { StorageCredential } from "../storage";
import { GcpHttpError, gcpFailure } from "./failures";
import { GcpEndpoints, gcpEndpoints, GCE_ENDPOINT_ENV, GCS_ENDPOINT_ENV, GCP_TOKEN_URL_ENV } from "./settings";

export const GCP_SCOPE = "https://www.googleapis.com/auth/cloud-platform";
const REQUEST_TIMEOUT_MS = 120_000;

export type GcpService = "gcs" | "gce";

export interface GcpClient {
  endpoints: GcpEndpoints;
  /** The key's project_id, when it has one. */
  keyProject?: string;
  clientEmail: string;
  /** An access token for the key (fetched once, reused until it nears expiry). */
  accessToken(signal: AbortSignal): Promise<string>;
  /** A JSON request; throws GcpHttpError on a non-2xx answer (network errors as thrown by fetch). */
  json<T>(service: GcpService, method: string, path: string, signal: AbortSignal, body?: unknown): Promise<T>;
  /** Where a service is, for messages: the URL and the setting that overrides it. */
  where(service: GcpService | "token"): string;
}

interface ServiceAccountKey {
  client_email: string;
  private_key: string;
  private_key_id?: string;
  project_id?: string;
}

export function openGcpClient(credential: StorageCredential): GcpClient {
  if (credential.type !== "Gcp") {
    throw jobFailure("CREDENTIAL_UNUSABLE", `Credential '${credential.id}' is of type ${credential.type}; GCP calls need a Gcp credential (platformCredentialId).`);
  }
  const key = parseKey(credential);
  const endpoints = gcpEndpoints();
  let cached: { token: string; expiresAt: number } | undefined;

  const where = (service: GcpService | "token"): string => {
    const [url, env] =
      service === "gcs" ? [endpoints.gcs, GCS_ENDPOINT_ENV] : service === "gce" ? [endpoints.gce, GCE_ENDPOINT_ENV] : [endpoints.tokenUrl, GCP_TOKEN_URL_ENV];
    return endpoints.overridden.includes(env) ? `${url} (${env})` : url;
  };

  const accessToken = async (signal: AbortSignal): Promise<string> => {
    if (cached && cached.expiresAt - 60_000 > Date.now()) return cached.token;
    const assertion = signedAssertion(key, endpoints.tokenUrl);
    let answer: Response;
    try {
      answer = await fetch(endpoints.tokenUrl, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion }).toString(),
        signal: AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
      });
    } catch (error) {
      throw signal.aborted ? signal.reason : gcpFailure("oauth2 token", `an access token for ${key.client_email}`, where("token"), error);
    }
    const text = await answer.text();
    let body: { access_token?: string; expires_in?: number; error?: string; error_description?: string } = {};
    try {
      body = JSON.parse(text);
    } catch {
      // reported below
    }
    if (!answer.ok || typeof body.access_token !== "string") {
      // 400 invalid_grant is how Google refuses a revoked or unknown key.
      const status = answer.ok ? 502 : answer.status === 400 ? 401 : answer.status;
      const why = body.error ? `${body.error}${body.error_description ? `: ${body.error_description}` : ""}` : `HTTP ${answer.status}`;
      throw gcpFailure("oauth2 token", `an access token for ${key.client_email}`, where("token"), new GcpHttpError(status, body.error, why.slice(0, 300)));
    }
    cached = { token: body.access_token, expiresAt: Date.now() + 1000 * (body.expires_in ?? 3600) };
    return cached.token;
  };

  const json = async <T>(service: GcpService, method: string, path: string, signal: AbortSignal, body?: unknown): Promise<T> => {
    const token = await accessToken(signal);
    const base = service === "gcs" ? endpoints.gcs : endpoints.gce;
    const answer = await fetch(base + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
    });
    return readJson<T>(answer);
  };

  return { endpoints, ...(key.project_id ? { keyProject: key.project_id } : {}), clientEmail: key.client_email, accessToken, json, where };
}

/** The JSON of a 2xx answer, or a GcpHttpError carrying Google's error message and reason. */
export async function readJson<T>(answer: Response): Promise<T> {
  const text = await answer.text();
  let parsed: any;
  try {
    parsed = text ? JSON.parse(text) : {};
  } catch {
    parsed = undefined;
  }
  if (answer.ok) {
    if (parsed === undefined) throw new GcpHttpError(answer.status, undefined, "the answer was not JSON");
    return parsed as T;
  }
  const e = parsed?.error;
  const reason = e?.errors?.[0]?.reason ?? (typeof e?.status === "string" ? e.status : undefined);
  const message = typeof e?.message === "string" ? e.message : (text.split(/\r?\n/)[0] ?? "").slice(0, 300) || answer.statusText;
  throw new GcpHttpError(answer.status, reason, message.slice(0, 500));
}

function parseKey(credential: StorageCredential): ServiceAccountKey {
  const invalid = (why: string) =>
    jobFailure("CREDENTIAL_UNUSABLE", `Credential '${credential.id}' holds no usable service-account key (${why}); replace it with PUT /ips/credentials/${credential.id}.`);
  let key: Partial<ServiceAccountKey>;
  try {
    key = JSON.parse(credential.fields.serviceAccountKey ?? "");
  } catch {
    throw invalid("serviceAccountKey is not JSON"); // never the parser's message: it quotes the key
  }
  if (typeof key.client_email !== "string" || typeof key.private_key !== "string") throw invalid("client_email or private_key is missing");
  return key as ServiceAccountKey;
}

/** The OAuth 2.0 JWT bearer assertion (RFC 7523) Google's token endpoint takes. */
function signedAssertion(key: ServiceAccountKey, audience: string): string {
  const now = Math.floor(Date.now() / 1000);
  const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const header = b64({ alg: "RS256", typ: "JWT", ...(key.private_key_id ? { kid: key.private_key_id } : {}) });
  const claims = b64({ iss: key.client_email, scope: GCP_SCOPE, aud: audience, iat: now, exp: now + 3600 });
  let signature: string;
  try {
    signature = createSign("RSA-SHA256").update(`${header}.${claims}`).sign(key.private_key, "base64url");
  } catch {
    throw jobFailure("PLATFORM_ACCESS_DENIED", `The private_key of the service-account key for ${key.client_email} is not a usable RSA key; replace the Gcp credential.`);
  }
  return `${header}.${claims}.${signature}`;
}
