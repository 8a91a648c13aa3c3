import { strict as assert } from "assert";
import * as http from "http";
import { AddressInfo } from "net";
import { ApiError, ConnectionError, ImageportClient } from "../../client";

/** A scripted API on 127.0.0.1: each route answers from its queue of [status, body]. */
class ScriptedApi {
  readonly calls: string[] = [];
  tokensIssued = 0;
  private readonly script = new Map<string, [number, unknown][]>();
  private server = http.createServer((req, res) => this.handle(req, res));

  async start(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  stop(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
  on(route: string, ...answers: [number, unknown][]): void {
    this.script.set(route, answers);
  }
  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    req.resume();
    if (req.url!.startsWith("/cctrustoauth2/")) {
      this.tokensIssued++;
      res.setHeader("Content-Type", "application/json");
      res.end(JSON.stringify({ access_token: `t${this.tokensIssued}`, token_type: "bearer", expires_in: 3600 }));
      return;
    }
    const route = `${req.method} ${req.url}`;
    this.calls.push(`${route} ${req.headers.authorization}`);
    const [status, body] = this.script.get(route)?.shift() ?? [404, { error: { code: "NOT_FOUND", message: "no such route" } }];
    res.statusCode = status;
    res.setHeader("Content-Type", "application/json");
    res.end(JSON.stringify(body));
  }
}

const VIEW = { id: "c1", type: "Aws", state: "Ok", createdAt: "2026-01-01T00:00:00Z", updatedAt: "2026-01-01T00:00:00Z" };
const UNAVAILABLE: [number, unknown] = [503, { error: { code: "INTERNAL", message: "busy" } }];

describe("client: retries, re-authentication and error mapping", () => {
  let api: ScriptedApi;
  let client: ImageportClient;

  beforeEach(async () => {
    api = new ScriptedApi();
    const endpoint = await api.start();
    client = new ImageportClient({ endpoint, credentials: { customerId: "local", clientId: "id", clientSecret: "s" }, retryBaseDelayMs: 1 });
  });
  afterEach(() => api.stop());

  it("retries a GET through 5xx answers and returns the eventual success", async () => {
    api.on("GET /ips/credentials/c1", UNAVAILABLE, UNAVAILABLE, [200, VIEW]);
    assert.equal((await client.credentials.get("c1"))?.id, "c1");
    assert.equal(api.calls.length, 3);
  });

  it("gives up after the bounded number of retries with the service's code", async () => {
    api.on("GET /ips/credentials/c1", UNAVAILABLE, UNAVAILABLE, UNAVAILABLE, UNAVAILABLE, UNAVAILABLE);
    await assert.rejects(client.credentials.get("c1"), (e: ApiError) => e.status === 503 && e.code === "INTERNAL");
    assert.equal(api.calls.length, 4, "one attempt and three retries");
  });

  it("never retries a POST on 5xx, where a retry could do the work twice", async () => {
    api.on("POST /ips/credentials", UNAVAILABLE, [201, VIEW]);
    await assert.rejects(client.credentials.create("c1", { type: "Aws" }), (e: ApiError) => e.status === 503);
    assert.equal(api.calls.length, 1);
  });

  it("retries a job submission on 5xx when it carries a clientToken, which makes it idempotent", async () => {
    const job = { id: "j1", status: "notStarted" };
    api.on("POST /ips/images/$export", UNAVAILABLE, [202, job]);
    assert.equal((await client.jobs.start("export", { clientToken: "t-1" })).id, "j1");
    assert.equal(api.calls.length, 2);
    api.on("POST /ips/images/$export", UNAVAILABLE, [202, job]);
    await assert.rejects(client.jobs.start("export", {}), (e: ApiError) => e.status === 503, "without a token it is not repeated");
    assert.equal(api.calls.length, 3);
  });

  it("retries any method on 429", async () => {
    api.on("POST /ips/credentials", [429, { error: { code: "RATE_LIMITED", message: "slow down" } }], [201, VIEW]);
    assert.equal((await client.credentials.create("c1", { type: "Aws" })).id, "c1");
    assert.equal(api.calls.length, 2);
  });

  it("never retries other 4xx and keeps the fields the service named", async () => {
    const fields = [{ field: "type", message: "must be one of UsernamePassword, Aws, Azure, Gcp" }];
    api.on("POST /ips/credentials", [400, { error: { code: "VALIDATION_FAILED", message: "bad", fields } }], [201, VIEW]);
    await assert.rejects(client.credentials.create("c1", { type: "Aws" }), (e: ApiError) => {
      assert.equal(e.code, "VALIDATION_FAILED");
      assert.deepEqual(e.fields, fields);
      assert.match(e.message, /type: must be one of/);
      return true;
    });
    assert.equal(api.calls.length, 1);
  });

  it("gets a new token once on 401 and repeats the call with it", async () => {
    api.on("GET /ips/credentials/c1", [401, { error: { code: "UNAUTHENTICATED", message: "expired" } }], [200, VIEW]);
    assert.equal((await client.credentials.get("c1"))?.id, "c1");
    assert.equal(api.tokensIssued, 2);
    assert.deepEqual(api.calls.map((c) => c.split(" ").pop()), ["Bearer=t1", "Bearer=t2"]);
  });

  it("reports a second 401 instead of looping", async () => {
    const denied: [number, unknown] = [401, { error: { code: "UNAUTHENTICATED", message: "no" } }];
    api.on("GET /ips/credentials/c1", denied, denied, denied);
    await assert.rejects(client.credentials.get("c1"), (e: ApiError) => e.code === "UNAUTHENTICATED");
    assert.equal(api.calls.length, 2);
  });

  it("maps an unreachable endpoint to CONNECTION_FAILED naming the endpoint", async () => {
    await api.stop();
    const endpoint = "http://127.0.0.1:9"; // discard port: nothing listens
    const offline = new ImageportClient({ endpoint, credentials: { customerId: "local", clientId: "id", clientSecret: "s" }, retries: 1, retryBaseDelayMs: 1 });
    await assert.rejects(offline.credentials.list(), (e: ConnectionError) => e.code === "CONNECTION_FAILED" && e.message.includes(endpoint));
    api = new ScriptedApi();
    await api.start();
  });
});
