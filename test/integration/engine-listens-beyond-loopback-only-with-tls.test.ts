import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ImageportClient } from "../../client";
import { registerConnector } from "../../client/connectors";
import { createEngine, Engine } from "../../engine";
import { TEST_CLIENT } from "../helpers/engine-harness";

describe("the engine listens beyond loopback only with TLS, and connectors trust it by CA or pinned fingerprint", function () {
  this.timeout(120_000);
  let dir: string;
  let engine: Engine;
  let cert: string;
  let fingerprint: string;
  const customerId = "tls-customer";

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "engine-tls-"));
    const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" }).toString();
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-days", "2", "-subj", "/CN=imageportd test", "-addext", "subjectAltName=IP:127.0.0.1");
    cert = readFileSync(join(dir, "cert.pem"), "utf8");
    fingerprint = /=([0-9A-F:]+)/.exec(openssl("x509", "-in", "cert.pem", "-noout", "-fingerprint", "-sha256"))![1]!;
    engine = await createEngine({
      dataDir: join(dir, "data"),
      port: 0,
      customerId,
      bootstrapClient: TEST_CLIENT,
      tls: { cert, key: readFileSync(join(dir, "key.pem"), "utf8") },
    });
  });
  after(async () => {
    await engine?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses a non-loopback address without TLS before it touches the data directory", async () => {
    const data = join(dir, "plain");
    await assert.rejects(createEngine({ dataDir: data, host: "0.0.0.0", port: 0 }), (e: { code?: string; message: string }) => {
      assert.equal(e.code, "TLS_REQUIRED");
      assert.match(e.message, /--tls-cert cert\.pem --tls-key key\.pem/);
      return true;
    });
    assert.ok(!existsSync(data) || readdirSync(data).length === 0, "nothing was created");
  });

  it("serves HTTPS; a client pinned to another certificate sends nothing, the right pin or the CA works", async () => {
    assert.match(engine.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const credentials = { customerId, ...TEST_CLIENT };
    const trusted = new ImageportClient({ endpoint: engine.url, credentials, retries: 0, tls: { caCertificate: cert } });
    await trusted.locations.create("branch-office", { name: "Branch office" });
    const { registrationCode } = await trusted.connectorRegistrations.create({ name: "remote-1", resourceLocationId: "branch-office" });

    const wrong = "AA".repeat(32);
    await assert.rejects(registerConnector(engine.url, registrationCode, {}, { fingerprint: wrong }), (e: Error) => {
      assert.match(e.message, /not trusted: its certificate does not match the pinned fingerprint/);
      assert.match(e.message, new RegExp(`SHA-256 fingerprint ${fingerprint}`));
      return true;
    });
    await assert.rejects(registerConnector(engine.url, registrationCode, {}), /not trusted: its certificate is not issued by a trusted CA/, "no pin, no CA: the system CAs do not know it");
    // The refused attempts sent nothing: the one-time code still works.
    const registration = await registerConnector(engine.url, registrationCode, {}, { fingerprint });
    assert.equal(registration.customerId, customerId);
  });
});
