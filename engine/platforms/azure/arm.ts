// A small Azure Resource Manager client: bearer-authenticated JSON requests and long-running
// operations (Azure-AsyncOperation / Location polling). Our own rather than @azure/arm-compute
// because the SDK's bearer policy refuses plain-http endpoints, which the tests' fake is.

import { setTimeout as sleep } from "node:timers/promises";
import { jobFailure } from "../../errors";
import { StorageCredential } from "../storage";
import { AzureCallError, azureFailure, CallTarget } from "./failures";
import { ARM_ENDPOINT_ENV, azureEndpoints, AzureEndpoints } from "./settings";
import { TokenSource } from "./token";

const REQUEST_TIMEOUT_MS = 60_000;
const MAX_POLL_DELAY_MS = 5_000;

export interface ArmAnswer {
  status: number;
  headers: Headers;
  json: any;
}

export class ArmClient {
  readonly target: CallTarget;

  constructor(
    readonly endpoints: AzureEndpoints,
    private readonly tokens: TokenSource,
  ) {
    this.target = { url: endpoints.armEndpoint, ...(endpoints.overridden.armEndpoint ? { setting: ARM_ENDPOINT_ENV } : {}) };
  }

  /** One request; a non-2xx answer throws AzureCallError (callers map it with fail()). */
  async send(method: string, pathOrUrl: string, body: unknown, signal: AbortSignal): Promise<ArmAnswer> {
    const url = pathOrUrl.startsWith("/") ? this.endpoints.armEndpoint + pathOrUrl : pathOrUrl;
    // The bearer token goes to the ARM endpoint only (a polling URL elsewhere is refused).
    if (new URL(url).origin !== new URL(this.endpoints.armEndpoint).origin) {
      throw new AzureCallError(0, "UnexpectedPollingUrl", `ARM answered with a polling URL outside ${this.endpoints.armEndpoint}`);
    }
    const token = await this.tokens.token(signal);
    const res = await fetch(url, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        accept: "application/json",
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
      signal: AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
    });
    const text = await res.text();
    let json: any;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const error = json?.error ?? json;
      throw new AzureCallError(res.status, error?.code, error?.message ?? `HTTP ${res.status}`);
    }
    return { status: res.status, headers: res.headers, json };
  }

  /**
   * A long-running operation: the first answer, then polling of Azure-AsyncOperation (or
   * Location) until it ends. Returns the first answer's body and the operation's output
   * (beginGetAccess puts its accessSAS there). Bounded by `signal` (the job's deadline).
   */
  async longRunning(method: string, path: string, body: unknown, signal: AbortSignal): Promise<{ first: any; output?: any }> {
    const first = await this.send(method, path, body, signal);
    const operation = first.headers.get("azure-asyncoperation");
    const location = first.headers.get("location");
    if (operation && (first.status === 200 || first.status === 201 || first.status === 202)) {
      for (let delay = 100; ; delay = Math.min(delay * 2, MAX_POLL_DELAY_MS)) {
        const polled = await this.send("GET", operation, undefined, signal);
        const status = String(polled.json?.status ?? "");
        if (status === "Succeeded") return { first: first.json, output: polled.json?.properties?.output ?? polled.json?.output };
        if (status === "Failed" || status === "Canceled") {
          const e = polled.json?.error;
          throw new AzureCallError(200, e?.code ?? status, e?.message ?? `the operation ended ${status}`);
        }
        await sleep(retryAfter(polled.headers) ?? delay, undefined, { signal });
      }
    }
    if (location && first.status === 202) {
      for (let delay = 100; ; delay = Math.min(delay * 2, MAX_POLL_DELAY_MS)) {
        const polled = await this.send("GET", location, undefined, signal);
        if (polled.status !== 202) return { first: first.json, output: polled.json };
        await sleep(retryAfter(polled.headers) ?? delay, undefined, { signal });
      }
    }
    return { first: first.json };
  }

  /** Proves Entra ID answers and accepts the credential (a token for ARM). */
  async probe(signal: AbortSignal): Promise<void> {
    await this.tokens.token(signal);
  }

  /** The coded failure for a call that threw (the job's abort reason when it was aborted). */
  fail(call: string, what: string, error: unknown, signal: AbortSignal): unknown {
    return signal.aborted ? signal.reason : azureFailure(call, what, this.target, error);
  }
}

function retryAfter(headers: Headers): number | undefined {
  const seconds = Number(headers.get("retry-after"));
  return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds * 1000, MAX_POLL_DELAY_MS) : undefined;
}

/** An ARM client for the wallet's Azure credential and the engine's endpoint settings. */
export function openArmClient(credential: StorageCredential): ArmClient {
  if (credential.type !== "Azure") {
    throw jobFailure("CREDENTIAL_UNUSABLE", `Credential '${credential.id}' is of type ${credential.type}; Azure calls need an Azure credential (platformCredentialId).`);
  }
  const { tenantId, clientId, clientSecret } = credential.fields;
  if (!tenantId || !clientId || !clientSecret) {
    throw jobFailure("CREDENTIAL_UNUSABLE", `Credential '${credential.id}' lacks tenantId, clientId or clientSecret; replace it with PUT /ips/credentials/${credential.id}.`);
  }
  const endpoints = azureEndpoints();
  return new ArmClient(endpoints, new TokenSource({ tenantId, clientId, clientSecret }, endpoints));
}
