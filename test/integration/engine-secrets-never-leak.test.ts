import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ApiResponse, makeDataDir, startTestEngine, TestEngine } from "../helpers/engine-harness";
import { loadMasterKey } from "../../engine/secrets/master-key";
import { SecretBox } from "../../engine/secrets/secret-box";
import { KyselyCredentialStore } from "../../engine/store/credential-store";
import { openDatabase } from "../../engine/store/database";

// Secret fields are write-only: a unique canary put in every secret must never come back in
// any response, nor reach the database files or the log in clear, and must survive a restart
// still decryptable by the engine.

const CANARY = `canary-${randomUUID()}`;
const CANARY_2 = `canary2-${randomUUID()}`;

function gcpKey(privateKey: string): string {
  return JSON.stringify({
    type: "service_account",
    project_id: "leak-proj",
    client_email: "leak@leak-proj.iam.gserviceaccount.com",
    private_key: privateKey,
  });
}

const BODIES = (c: string) => [
  { id: "leak-up", type: "UsernamePassword", username: "svc", password: `pw-${c}` },
  { id: "leak-aws", type: "Aws", accessKeyId: "AKIALEAK", secretAccessKey: `sak-${c}`, sessionToken: `st-${c}` },
  { id: "leak-azure", type: "Azure", tenantId: "t", clientId: "c", clientSecret: `cs-${c}` },
  { id: "leak-gcp", type: "Gcp", serviceAccountKey: gcpKey(`-----BEGIN PRIVATE KEY-----\n${c}\n-----END PRIVATE KEY-----\n`) },
];

/** Every file under dir, recursively, as bytes. */
function filesUnder(dir: string): { path: string; bytes: Buffer }[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath ?? d.path, d.name))
    .map((path) => ({ path, bytes: readFileSync(path) }));
}

function assertNoCanaryInFiles(dir: string): void {
  const files = filesUnder(dir);
  assert.ok(files.some((f) => f.path.endsWith("imageport.db")));
  assert.ok(files.some((f) => f.path.endsWith("imageportd.log")));
  // Control: the scan does see stored data (a non-secret field is kept in clear).
  assert.ok(files.some((f) => f.bytes.includes("AKIALEAK")), "the scan should find the plain accessKeyId");
  for (const { path, bytes } of files) {
    for (const canary of [CANARY, CANARY_2]) {
      assert.equal(bytes.indexOf(canary), -1, `${canary} found in ${path}`);
      assert.equal(bytes.indexOf(Buffer.from(canary, "utf16le")), -1, `${canary} (utf-16) found in ${path}`);
    }
  }
}

describe("engine: secrets never leak", function () {
  this.timeout(20_000);
  const dataDir = makeDataDir();
  const responses: ApiResponse[] = [];
  let e: TestEngine;

  before(async () => {
    e = await startTestEngine({ dataDir });
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await e.api(method, path, body);
      responses.push(res);
      return res;
    };
    for (const body of BODIES(CANARY)) assert.equal((await call("POST", "/ips/credentials", body)).status, 201);
    for (const body of BODIES(CANARY)) {
      await call("GET", `/ips/credentials/${body.id}`);
      await call("GET", `/ips/credentials?type=${body.type}`);
      assert.equal((await call("POST", "/ips/credentials", body)).status, 409);
    }
    await call("GET", "/ips/credentials");
    // Replace every secret with a second canary, then provoke errors carrying secrets.
    for (const { id, ...body } of BODIES(CANARY_2)) {
      assert.equal((await call("PUT", `/ips/credentials/${id}`, body)).status, 200);
    }
    await call("PUT", "/ips/credentials/leak-up", { type: "Aws", accessKeyId: "a", secretAccessKey: CANARY });
    await call("POST", "/ips/credentials", { id: "bad", type: "UsernamePassword", username: "u", password: CANARY, extra: CANARY });
    await call("POST", "/ips/credentials", { id: "bad", type: "Gcp", serviceAccountKey: `{"private_key": "${CANARY}"` });
    await call("POST", "/ips/credentials", { id: "-bad", type: "Nope", password: CANARY });
    await call("PUT", "/ips/credentials/absent", { type: "Aws", accessKeyId: "a", secretAccessKey: CANARY });
    responses.push(
      await e.request("POST", "/ips/credentials", {
        headers: { authorization: `CwsAuth Bearer=${await e.token()}`, "citrix-customerid": e.customerId, "content-type": "application/json" },
        body: `{"id": "x", "type": "Aws", "secretAccessKey": "${CANARY}"`,
      }),
    );
  });

  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it("returns no secret value in any response, successful or not", () => {
    assert.ok(responses.length > 20);
    assert.ok(responses.some((r) => r.status >= 400));
    for (const res of responses) {
      assert.ok(!res.text.includes(CANARY) && !res.text.includes(CANARY_2), `secret in response: ${res.text}`);
    }
  });

  it("writes no secret in clear to any file of the data directory while running", () => {
    assertNoCanaryInFiles(dataDir);
  });

  it("writes no secret in clear to any file after the engine stops (WAL checkpointed)", async () => {
    await e.close();
    assertNoCanaryInFiles(dataDir);
  });

  it("keeps the credentials across a restart, their secrets still decryptable", async () => {
    const restarted = await startTestEngine({ dataDir });
    try {
      const list = await restarted.api("GET", "/ips/credentials");
      assert.deepEqual(
        list.json.items.map((c: { id: string }) => c.id),
        ["leak-aws", "leak-azure", "leak-gcp", "leak-up"],
      );
    } finally {
      await restarted.close();
    }

    // What a job runner will do: read the secret through the store, after the restart.
    const db = await openDatabase(dataDir);
    try {
      const store = new KyselyCredentialStore(db, new SecretBox(loadMasterKey(dataDir)));
      assert.deepEqual(await store.getSecret(e.customerId, "leak-up"), { password: `pw-${CANARY_2}` });
      assert.deepEqual(await store.getSecret(e.customerId, "leak-aws"), { secretAccessKey: `sak-${CANARY_2}`, sessionToken: `st-${CANARY_2}` });
      assert.deepEqual(await store.getSecret(e.customerId, "leak-azure"), { clientSecret: `cs-${CANARY_2}` });
      assert.deepEqual(await store.getSecret(e.customerId, "leak-gcp"), { serviceAccountKey: BODIES(CANARY_2)[3]!.serviceAccountKey });
    } finally {
      await db.destroy();
    }
  });
});
