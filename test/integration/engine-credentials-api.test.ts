import assert from "node:assert/strict";
import { startTestEngine, TEST_CLIENT, TestEngine } from "../helpers/engine-harness";

// The credentials API and its authentication, against a real engine (fastify + SQLite in a temp dir).

const TOKEN_PATH = (customer: string) => `/cctrustoauth2/${customer}/tokens/clients`;
const FORM = { "content-type": "application/x-www-form-urlencoded" };
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

/** One credential of each type: the create body, a replacement body and the view fields expected. */
const FIXTURES = [
  {
    type: "UsernamePassword",
    create: { username: "svc-export", password: "pw-1", domain: "CORP" },
    replace: { username: "svc-export2", password: "pw-2" },
    view: { username: "svc-export", domain: "CORP" },
    replacedView: { username: "svc-export2" },
    secrets: ["password"],
  },
  {
    type: "Aws",
    create: { accessKeyId: "AKIAEXAMPLE", secretAccessKey: "aws-secret-1", sessionToken: "session-1" },
    replace: { accessKeyId: "AKIAEXAMPLE2", secretAccessKey: "aws-secret-2" },
    view: { accessKeyId: "AKIAEXAMPLE" },
    replacedView: { accessKeyId: "AKIAEXAMPLE2" },
    secrets: ["secretAccessKey", "sessionToken"],
  },
  {
    type: "Azure",
    create: { tenantId: "tenant-1", clientId: "app-1", clientSecret: "azure-secret-1" },
    replace: { tenantId: "tenant-2", clientId: "app-2", clientSecret: "azure-secret-2" },
    view: { tenantId: "tenant-1", clientId: "app-1" },
    replacedView: { tenantId: "tenant-2", clientId: "app-2" },
    secrets: ["clientSecret"],
  },
  {
    type: "Gcp",
    create: { serviceAccountKey: gcpKey("export@proj-1.iam.gserviceaccount.com", "proj-1") },
    replace: { serviceAccountKey: gcpKey("export@proj-2.iam.gserviceaccount.com", "proj-2") },
    view: { clientEmail: "export@proj-1.iam.gserviceaccount.com", projectId: "proj-1" },
    replacedView: { clientEmail: "export@proj-2.iam.gserviceaccount.com", projectId: "proj-2" },
    secrets: ["serviceAccountKey"],
  },
];

function gcpKey(clientEmail: string, projectId: string): string {
  return JSON.stringify({
    type: "service_account",
    project_id: projectId,
    client_email: clientEmail,
    private_key: "-----BEGIN PRIVATE KEY-----\nMIIfake\n-----END PRIVATE KEY-----\n",
  });
}

function assertError(res: { status: number; json: any; headers: Headers }, status: number, code: string): void {
  assert.equal(res.status, status, JSON.stringify(res.json));
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  assert.equal(res.json?.error?.code, code, JSON.stringify(res.json));
  assert.equal(typeof res.json.error.message, "string");
}

function fieldMessage(res: { json: any }, field: string): string {
  const entry = (res.json.error.fields ?? []).find((f: { field: string }) => f.field === field);
  assert.ok(entry, `expected a fields entry for '${field}' in ${JSON.stringify(res.json)}`);
  return entry.message as string;
}

describe("engine: credentials API", function () {
  this.timeout(20_000);
  let e: TestEngine;

  before(async () => {
    e = await startTestEngine();
  });
  after(async () => {
    await e?.close({ removeData: true });
  });

  describe("token endpoint", () => {
    it("issues a bearer token for the right client secret", async () => {
      const res = await e.request("POST", TOKEN_PATH(e.customerId), {
        headers: FORM,
        body: form({ grant_type: "client_credentials", client_id: TEST_CLIENT.clientId, client_secret: TEST_CLIENT.clientSecret }),
      });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.token_type, "bearer");
      assert.equal(res.json.expires_in, 3600);
      assert.match(res.json.access_token, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(res.headers.get("cache-control"), "no-store");
    });

    it("refuses a wrong secret, an unknown client and another customer's path with 401", async () => {
      const attempts = [
        { customer: e.customerId, id: TEST_CLIENT.clientId, secret: "wrong" },
        { customer: e.customerId, id: "no-such-client", secret: TEST_CLIENT.clientSecret },
        { customer: "other-customer", id: TEST_CLIENT.clientId, secret: TEST_CLIENT.clientSecret },
      ];
      for (const a of attempts) {
        const res = await e.request("POST", TOKEN_PATH(a.customer), {
          headers: FORM,
          body: form({ grant_type: "client_credentials", client_id: a.id, client_secret: a.secret }),
        });
        assertError(res, 401, "UNAUTHENTICATED");
        assert.ok(!res.text.includes(TEST_CLIENT.clientSecret));
      }
    });

    it("refuses a grant type other than client_credentials with 400 naming grant_type", async () => {
      const res = await e.request("POST", TOKEN_PATH(e.customerId), {
        headers: FORM,
        body: form({ grant_type: "password", client_id: TEST_CLIENT.clientId, client_secret: TEST_CLIENT.clientSecret }),
      });
      assertError(res, 400, "VALIDATION_FAILED");
      assert.match(fieldMessage(res, "grant_type"), /client_credentials/);
    });
  });

  describe("authentication", () => {
    it("refuses a call without a token with 401 and says how to get one", async () => {
      const res = await e.request("GET", "/ips/credentials", { headers: { "citrix-customerid": e.customerId } });
      assertError(res, 401, "UNAUTHENTICATED");
      assert.match(res.json.error.message, /\/cctrustoauth2\/\{customerId\}\/tokens\/clients/);
      assert.match(res.json.error.message, /CwsAuth Bearer=<token>/);
    });

    it("refuses an unknown token and a malformed Authorization header with 401", async () => {
      for (const authorization of ["CwsAuth Bearer=not-a-token", `Bearer ${await e.token()}`]) {
        const res = await e.request("GET", "/ips/credentials", {
          headers: { authorization, "citrix-customerid": e.customerId },
        });
        assertError(res, 401, "UNAUTHENTICATED");
      }
    });

    it("accepts the header scheme in any case (CWSAuth bearer=)", async () => {
      const res = await e.request("GET", "/ips/credentials", {
        headers: { authorization: `CWSAuth bearer=${await e.token()}`, "citrix-customerid": e.customerId },
      });
      assert.equal(res.status, 200, res.text);
    });

    it("refuses a missing or mismatched Citrix-CustomerId with 403", async () => {
      const authorization = `CwsAuth Bearer=${await e.token()}`;
      assertError(await e.request("GET", "/ips/credentials", { headers: { authorization } }), 403, "FORBIDDEN");
      const res = await e.request("GET", "/ips/credentials", {
        headers: { authorization, "citrix-customerid": "someone-else" },
      });
      assertError(res, 403, "FORBIDDEN");
      assert.match(res.json.error.message, /someone-else/);
    });

    it("serves /healthz and /ips/info/version without a token", async () => {
      const health = await e.request("GET", "/healthz");
      assert.equal(health.status, 200);
      assert.deepEqual(health.json, { status: "ok" });
      const info = await e.request("GET", "/ips/info/version");
      assert.equal(info.status, 200);
      assert.deepEqual(info.json, { service: "imageportd", version: "0.1.0", apiVersion: "1" });
    });

    it("answers an unknown route with 404 NOT_FOUND in the error body", async () => {
      assertError(await e.api("GET", "/ips/nothing-here"), 404, "NOT_FOUND");
    });
  });

  describe("round trip per type", () => {
    for (const f of FIXTURES) {
      it(`${f.type}: creates, reads, lists, replaces and deletes it without returning its secrets`, async () => {
        const id = `rt-${f.type.toLowerCase()}`;
        const created = await e.api("POST", "/ips/credentials", { id, type: f.type, name: "Round trip", ...f.create });
        assert.equal(created.status, 201, created.text);
        assert.equal(created.headers.get("location"), `/ips/credentials/${id}`);
        const { createdAt, updatedAt, ...rest } = created.json;
        assert.deepEqual(rest, { id, type: f.type, name: "Round trip", state: "Ok", ...f.view });
        assert.match(createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        assert.equal(updatedAt, createdAt);
        for (const secret of f.secrets) assert.ok(!(secret in created.json), `${secret} returned`);

        const got = await e.api("GET", `/ips/credentials/${id}`);
        assert.equal(got.status, 200);
        assert.deepEqual(got.json, created.json);

        const listed = await e.api("GET", `/ips/credentials?type=${f.type}`);
        assert.equal(listed.status, 200);
        assert.deepEqual(listed.json.items, [created.json]);

        const replaced = await e.api("PUT", `/ips/credentials/${id}`, { type: f.type, ...f.replace });
        assert.equal(replaced.status, 200, replaced.text);
        assert.deepEqual(
          { ...replaced.json, createdAt: undefined, updatedAt: undefined },
          { id, type: f.type, state: "Ok", ...f.replacedView, createdAt: undefined, updatedAt: undefined },
        );
        assert.equal(replaced.json.createdAt, createdAt);
        assert.ok(replaced.json.updatedAt > updatedAt, "updatedAt advanced");
        assert.deepEqual((await e.api("GET", `/ips/credentials/${id}`)).json, replaced.json);

        const deleted = await e.api("DELETE", `/ips/credentials/${id}`);
        assert.equal(deleted.status, 204);
        assert.equal(deleted.text, "");
        assertError(await e.api("GET", `/ips/credentials/${id}`), 404, "CREDENTIAL_NOT_FOUND");
      });
    }
  });

  describe("listing", () => {
    it("lists every credential sorted by id and filters by type", async () => {
      for (const id of ["list-c", "list-a", "list-b"]) {
        assert.equal((await e.api("POST", "/ips/credentials", { id, type: "Aws", accessKeyId: "AK", secretAccessKey: "s" })).status, 201);
      }
      await e.api("POST", "/ips/credentials", { id: "list-up", type: "UsernamePassword", username: "u", password: "p" });
      const all = await e.api("GET", "/ips/credentials");
      const ids = all.json.items.map((c: { id: string }) => c.id).filter((id: string) => id.startsWith("list-"));
      assert.deepEqual(ids, ["list-a", "list-b", "list-c", "list-up"]);
      const aws = await e.api("GET", "/ips/credentials?type=Aws");
      assert.ok(aws.json.items.every((c: { type: string }) => c.type === "Aws"));
      assert.ok(!aws.json.items.some((c: { id: string }) => c.id === "list-up"));
    });

    it("refuses an unknown type filter with 400 listing the allowed types", async () => {
      const res = await e.api("GET", "/ips/credentials?type=Vault");
      assertError(res, 400, "VALIDATION_FAILED");
      assert.equal(fieldMessage(res, "type"), "must be one of UsernamePassword, Aws, Azure, Gcp");
    });
  });

  describe("conflicts and missing credentials", () => {
    it("refuses a duplicate id with 409 CREDENTIAL_ALREADY_EXISTS", async () => {
      const body = { id: "dup", type: "UsernamePassword", username: "u", password: "p" };
      assert.equal((await e.api("POST", "/ips/credentials", body)).status, 201);
      const res = await e.api("POST", "/ips/credentials", body);
      assertError(res, 409, "CREDENTIAL_ALREADY_EXISTS");
      assert.match(res.json.error.message, /'dup'/);
    });

    it("answers 404 CREDENTIAL_NOT_FOUND naming the id for get, replace and delete", async () => {
      for (const [method, body] of [["GET"], ["PUT", { type: "Aws", accessKeyId: "a", secretAccessKey: "s" }], ["DELETE"]] as const) {
        const res = await e.api(method, "/ips/credentials/missing-one", body);
        assertError(res, 404, "CREDENTIAL_NOT_FOUND");
        assert.match(res.json.error.message, /'missing-one'/);
      }
    });
  });

  describe("validation", () => {
    it("refuses control characters in a name (PostgreSQL cannot store NUL)", async () => {
      const res = await e.api("POST", "/ips/credentials", { id: "v0", type: "UsernamePassword", username: "u", password: "p", name: "bad\u0000name" });
      assertError(res, 400, "VALIDATION_FAILED");
      assert.equal(fieldMessage(res, "name"), "must not contain control characters");
    });

    it("names field type and lists the allowed values for an unknown type", async () => {
      const res = await e.api("POST", "/ips/credentials", { id: "v1", type: "Vault", token: "x" });
      assertError(res, 400, "VALIDATION_FAILED");
      assert.equal(fieldMessage(res, "type"), "must be one of UsernamePassword, Aws, Azure, Gcp");
    });

    it("names each missing required field with its type", async () => {
      const res = await e.api("POST", "/ips/credentials", { id: "v2", type: "UsernamePassword", username: "u" });
      assertError(res, 400, "VALIDATION_FAILED");
      assert.equal(fieldMessage(res, "password"), "is required for type UsernamePassword");
      const azure = await e.api("POST", "/ips/credentials", { id: "v2", type: "Azure" });
      for (const field of ["tenantId", "clientId", "clientSecret"]) {
        assert.equal(fieldMessage(azure, field), "is required for type Azure");
      }
    });

    it("names an unknown property and lists the allowed ones", async () => {
      const res = await e.api("POST", "/ips/credentials", { id: "v3", type: "UsernamePassword", username: "u", passwd: "p", password: "p" });
      assertError(res, 400, "VALIDATION_FAILED");
      assert.equal(
        fieldMessage(res, "passwd"),
        "is not a known property of a UsernamePassword credential; allowed: id, type, name, username, password, domain",
      );
    });

    it("names the id when it does not match the id pattern, in the body and in the path", async () => {
      for (const id of ["-starts-with-dash", "has space", "x".repeat(129), ""]) {
        const res = await e.api("POST", "/ips/credentials", { id, type: "Aws", accessKeyId: "a", secretAccessKey: "s" });
        assertError(res, 400, "VALIDATION_FAILED");
        assert.match(fieldMessage(res, "id"), /letters, digits/);
      }
      const res = await e.api("GET", "/ips/credentials/.hidden");
      assertError(res, 400, "VALIDATION_FAILED");
      assert.match(fieldMessage(res, "id"), /letters, digits/);
    });

    it("refuses a type change on PUT, saying to delete and recreate", async () => {
      await e.api("POST", "/ips/credentials", { id: "fixed-type", type: "Aws", accessKeyId: "a", secretAccessKey: "s" });
      const res = await e.api("PUT", "/ips/credentials/fixed-type", { type: "Azure", tenantId: "t", clientId: "c", clientSecret: "s" });
      assertError(res, 400, "VALIDATION_FAILED");
      assert.match(fieldMessage(res, "type"), /cannot change from Aws to Azure.*delete/);
      assert.equal((await e.api("GET", "/ips/credentials/fixed-type")).json.type, "Aws");
    });

    it("refuses a PUT whose body id differs from the path id", async () => {
      await e.api("POST", "/ips/credentials", { id: "path-id", type: "Aws", accessKeyId: "a", secretAccessKey: "s" });
      const res = await e.api("PUT", "/ips/credentials/path-id", { id: "other-id", type: "Aws", accessKeyId: "a", secretAccessKey: "s" });
      assertError(res, 400, "VALIDATION_FAILED");
      assert.match(fieldMessage(res, "id"), /path/);
      const same = await e.api("PUT", "/ips/credentials/path-id", { id: "path-id", type: "Aws", accessKeyId: "b", secretAccessKey: "s" });
      assert.equal(same.status, 200, same.text);
    });

    it("refuses a Gcp key that is not a service-account key JSON", async () => {
      for (const serviceAccountKey of ["not json", "[]", JSON.stringify({ private_key: "k" })]) {
        const res = await e.api("POST", "/ips/credentials", { id: "gcp-bad", type: "Gcp", serviceAccountKey });
        assertError(res, 400, "VALIDATION_FAILED");
        assert.match(fieldMessage(res, "serviceAccountKey"), /service-account key/);
      }
    });

    it("refuses malformed JSON, a non-object body and an over-long name with 400", async () => {
      const headers = { authorization: `CwsAuth Bearer=${await e.token()}`, "citrix-customerid": e.customerId, "content-type": "application/json" };
      const malformed = await e.request("POST", "/ips/credentials", { headers, body: "{not json" });
      assertError(malformed, 400, "VALIDATION_FAILED");
      assert.match(fieldMessage(malformed, "body"), /not valid JSON/);
      assertError(await e.api("POST", "/ips/credentials", ["x"]), 400, "VALIDATION_FAILED");
      const long = await e.api("POST", "/ips/credentials", { id: "n", type: "Aws", accessKeyId: "a", secretAccessKey: "s", name: "n".repeat(257) });
      assert.equal(fieldMessage(long, "name"), "must be at most 256 characters");
    });
  });
});
