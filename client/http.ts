import axios, { AxiosError, AxiosInstance, InternalAxiosRequestConfig } from "axios";
import axiosRetry, { exponentialDelay, isNetworkError } from "axios-retry";
import { ClientCredentials, TokenSource } from "./auth";
import { ApiError, ConnectionError, FieldProblem } from "./errors";
import { describePresented, trustingAgent, TrustOptions } from "./tls-trust";

export interface HttpOptions {
  /** Base URL of the API (see resolveEndpoint). */
  endpoint: string;
  credentials: ClientCredentials;
  /** Attempts after the first for transient failures. */
  retries?: number;
  /** Base delay of the exponential backoff, in ms. */
  retryBaseDelayMs?: number;
  /** Per-request timeout, in ms. */
  timeoutMs?: number;
  userAgent?: string;
  /** How to trust an https:// engine beyond the system CAs: its CA, or its certificate's fingerprint. */
  tls?: TrustOptions;
}

const IDEMPOTENT = new Set(["get", "head", "options", "put", "delete"]);

/**
 * Transient failures worth another attempt: 429 on any request; 5xx and dropped
 * connections only where repeating the request cannot do the work twice (idempotent
 * methods, or a request marked `idempotent`, like a job carrying a clientToken); a refused
 * connection always (nothing reached the server). Other 4xx never.
 */
export function isTransient(error: AxiosError): boolean {
  const status = error.response?.status;
  if (status === 429) return true;
  const method = (error.config?.method ?? "get").toLowerCase();
  const repeatable = IDEMPOTENT.has(method) || error.config?.idempotent === true;
  if (error.code === "ECONNREFUSED") return true;
  if (status !== undefined) return status >= 500 && repeatable;
  return isNetworkError(error) && repeatable;
}

/**
 * The one HTTP client of imageport. Cross-cutting steps are interceptors, in order:
 * auth (bearer token + customer header, one re-authentication on 401), retry with
 * exponential backoff and jitter (honours Retry-After), then error mapping into
 * ApiError / ConnectionError.
 */
export function createHttp(options: HttpOptions): { http: AxiosInstance; tokens: TokenSource } {
  const http = axios.create({
    baseURL: options.endpoint,
    // https:// engines: verified in the agent's hook, so a refusal says which option trusts it.
    ...(options.endpoint.startsWith("https:") ? { httpsAgent: engineAgent(options.endpoint, options.tls ?? {}) } : {}),
    timeout: options.timeoutMs ?? 60_000,
    headers: {
      Accept: "application/json",
      "User-Agent": options.userAgent ?? "pulumi-imageport",
    },
  });
  const tokens = new TokenSource(http, options.credentials);

  http.interceptors.request.use(async (config: InternalAxiosRequestConfig) => {
    if (config.skipAuth) return config;
    config.headers.set("Authorization", `CwsAuth Bearer=${await tokens.token()}`);
    config.headers.set("Citrix-CustomerId", tokens.customerId);
    return config;
  });

  const baseDelay = options.retryBaseDelayMs ?? 500;
  axiosRetry(http, {
    retries: options.retries ?? 3,
    retryCondition: isTransient,
    retryDelay: (attempt, error) => exponentialDelay(attempt, error, baseDelay),
  });

  http.interceptors.response.use(undefined, async (error: unknown) => {
    if (!axios.isAxiosError(error)) throw error;
    const config = error.config;
    // An expired or revoked token: get a new one and try once more.
    if (error.response?.status === 401 && config && !config.skipAuth && !config.authRetried) {
      tokens.invalidate();
      config.authRetried = true;
      return http.request(config);
    }
    throw toImageportError(error, options.endpoint);
  });

  return { http, tokens };
}

function toImageportError(error: AxiosError, endpoint: string): Error {
  const res = error.response;
  const method = (error.config?.method ?? "GET").toUpperCase();
  const path = error.config?.url ?? "";
  if (!res) return new ConnectionError(endpoint, error);
  const body = res.data as { error?: { code?: string; message?: string; fields?: FieldProblem[] } } | undefined;
  const e = body && typeof body === "object" ? body.error : undefined;
  return new ApiError({
    status: res.status,
    code: e?.code ?? `HTTP_${res.status}`,
    message: e?.message ?? (typeof res.data === "string" && res.data ? res.data : res.statusText || "no details"),
    fields: e?.fields,
    method,
    path,
  });
}

/** The agent for an engine behind TLS: a refused certificate fails before the token or any body is sent. */
function engineAgent(endpoint: string, trust: TrustOptions) {
  return trustingAgent(
    trust,
    (reason, presented) =>
      new Error(
        `the engine at ${endpoint} was not trusted: ${reason}.${describePresented(presented)} Nothing was sent to it. ` +
          `Give the CA that issued its certificate (--engine-ca), or pin the certificate's SHA-256 fingerprint (--engine-fingerprint)`,
      ),
  );
}
