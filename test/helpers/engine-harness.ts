import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createEngine, Engine, EngineOptions } from "../../engine";

// Starts a real engine on 127.0.0.1:<random port> over a temporary data directory, for tests
// (engine tests today; client and CLI tests can use it too). Not used by the engine itself.

export const TEST_CUSTOMER_ID = "test-customer";
export const TEST_CLIENT = { clientId: "test-client", clientSecret: "test-client-secret-0123456789" };

export interface ApiResponse {
  status: number;
  headers: Headers;
  /** The raw body, for "never contains" assertions. */
  text: string;
  json: any;
}

export interface TestEngine {
  engine: Engine;
  dataDir: string;
  customerId: string;
  /** Raw request: no auth header unless `headers` has one. */
  request(method: string, path: string, init?: { body?: unknown; headers?: Record<string, string> }): Promise<ApiResponse>;
  /** Authenticated request (gets and caches a token first). */
  api(method: string, path: string, body?: unknown): Promise<ApiResponse>;
  token(): Promise<string>;
  /** Stops the engine; the data directory stays (for restarts) unless `removeData`. */
  close(options?: { removeData?: boolean }): Promise<void>;
}

export function makeDataDir(): string {
  return mkdtempSync(join(tmpdir(), "imageport-engine-test-"));
}

export async function startTestEngine(options: Partial<EngineOptions> = {}): Promise<TestEngine> {
  const dataDir = options.dataDir ?? makeDataDir();
  const customerId = options.customerId ?? TEST_CUSTOMER_ID;
  const engine = await createEngine({
    port: 0,
    customerId,
    bootstrapClient: TEST_CLIENT,
    ...options,
    dataDir,
  });
  let cachedToken: string | undefined;

  const request: TestEngine["request"] = async (method, path, init = {}) => {
    const headers: Record<string, string> = { ...init.headers };
    let body: string | undefined;
    if (typeof init.body === "string") body = init.body;
    else if (init.body !== undefined) {
      body = JSON.stringify(init.body);
      headers["content-type"] ??= "application/json";
    }
    const res = await fetch(engine.url + path, { method, headers, body, signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
  };

  const token = async () => {
    if (cachedToken) return cachedToken;
    const res = await request("POST", `/cctrustoauth2/${customerId}/tokens/clients`, {
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "client_credentials", client_id: TEST_CLIENT.clientId, client_secret: TEST_CLIENT.clientSecret }).toString(),
    });
    if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${res.text}`);
    return (cachedToken = res.json.access_token as string);
  };

  return {
    engine,
    dataDir,
    customerId,
    request,
    token,
    async api(method, path, body) {
      const headers = { authorization: `CwsAuth Bearer=${await token()}`, "citrix-customerid": customerId };
      return request(method, path, { body, headers });
    },
    async close({ removeData = false } = {}) {
      await engine.close();
      if (removeData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
