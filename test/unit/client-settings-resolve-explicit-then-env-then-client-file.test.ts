import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ConfigurationError, EMBEDDED_ENDPOINT, resolveClientSettings, SETTING_ENVIRONMENT } from "../../client";
import { resolveSettings } from "../../provider/config";
import { configEnvironment } from "../../provider/schema";

// The one resolution of endpoint and credentials that the provider and the CLI share.

const FILE_CLIENT = { customerId: "local", clientId: "file-client", clientSecret: "file-secret" };

describe("client: settings resolution", () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "imageport-settings-"));
    fs.writeFileSync(path.join(dataDir, "client.json"), JSON.stringify(FILE_CLIENT));
  });
  afterEach(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it("lists the same environment variables as schema.json's provider config", () => {
    assert.deepEqual(configEnvironment(), SETTING_ENVIRONMENT);
  });

  it("prefers explicit values to environment variables, and the first variable to the second", () => {
    const env = { IMAGEPORT_ENDPOINT: "http://env:1", CITRIX_HOSTNAME: "http://citrix:2", IMAGEPORT_CUSTOMER_ID: "env-c", CITRIX_CLIENT_ID: "citrix-id", IMAGEPORT_CLIENT_SECRET: "env-s" };
    const s = resolveClientSettings({ values: { endpoint: "api-eu", customerId: "" }, env });
    assert.equal(s.endpoint, "https://api-eu.cloud.com");
    assert.deepEqual(s.credentials, { customerId: "env-c", clientId: "citrix-id", clientSecret: "env-s" });
    assert.equal(resolveClientSettings({ env }).endpoint, "http://env:1");
  });

  it("uses the embedded engine's client.json for the default endpoint when no client is set", () => {
    const s = resolveClientSettings({ env: { IMAGEPORT_DATA_DIR: dataDir } });
    assert.equal(s.endpoint, EMBEDDED_ENDPOINT);
    assert.deepEqual(s.credentials, FILE_CLIENT);
  });

  it("keeps a customer id that is set over the file's", () => {
    const s = resolveClientSettings({ env: { IMAGEPORT_DATA_DIR: dataDir, IMAGEPORT_CUSTOMER_ID: "other" } });
    assert.equal(s.credentials.customerId, "other");
    assert.equal(s.credentials.clientId, "file-client");
  });

  it("reads client.json for another endpoint only when the data directory is given explicitly", () => {
    const env = { IMAGEPORT_DATA_DIR: dataDir };
    assert.throws(() => resolveClientSettings({ values: { endpoint: "http://127.0.0.1:9" }, env }), ConfigurationError);
    const s = resolveClientSettings({ values: { endpoint: "http://127.0.0.1:9" }, env: {}, dataDir });
    assert.deepEqual(s.credentials, FILE_CLIENT);
  });

  it("names the missing setting the way the caller spells it", () => {
    assert.throws(
      () => resolveClientSettings({ values: { endpoint: "http://h:1" }, env: { IMAGEPORT_CLIENT_ID: "x", IMAGEPORT_CLIENT_SECRET: "y" }, settingName: (k) => `--${k}` }),
      (e: ConfigurationError) => e.setting === "--customerId" && /is not set; export IMAGEPORT_CUSTOMER_ID or CITRIX_CUSTOMER_ID/.test(e.message),
    );
    const missing = path.join(dataDir, "nope");
    assert.throws(
      () => resolveClientSettings({ values: { endpoint: "http://h:1" }, env: {}, dataDir: missing, dataDirName: "--data" }),
      (e: ConfigurationError) => e.setting === "--data" && e.message.includes(path.join(missing, "client.json")),
    );
  });

  describe("the provider's resolveSettings (unchanged behaviour)", () => {
    it("reads stack config, then environment, then client.json", () => {
      const env = { IMAGEPORT_DATA_DIR: dataDir, IMAGEPORT_CLIENT_SECRET: "env-secret" };
      const s = resolveSettings({ endpoint: "http://127.0.0.1:7", customerId: "cfg-c", clientId: "cfg-id" }, env);
      assert.deepEqual(s, { endpoint: "http://127.0.0.1:7", credentials: { customerId: "cfg-c", clientId: "cfg-id", clientSecret: "env-secret" } });
      assert.deepEqual(resolveSettings({}, { IMAGEPORT_DATA_DIR: dataDir }).credentials, FILE_CLIENT);
    });

    it("tells how to set a missing value with pulumi config, --secret for the secret", () => {
      assert.throws(
        () => resolveSettings({ endpoint: "http://h:1", customerId: "c", clientId: "i" }, {}),
        (e: ConfigurationError) =>
          e.setting === "imageport:clientSecret" &&
          e.message === "imageport:clientSecret: is not set; run `pulumi config set imageport:clientSecret ...` --secret or export IMAGEPORT_CLIENT_SECRET or CITRIX_CLIENT_SECRET",
      );
    });

    it("names the missing client file of the embedded engine and how to start it", () => {
      const env = { IMAGEPORT_DATA_DIR: path.join(dataDir, "empty") };
      assert.throws(
        () => resolveSettings({}, env),
        (e: ConfigurationError) =>
          e.setting === "imageport:endpoint" &&
          e.message.includes(path.join(dataDir, "empty", "client.json")) &&
          e.message.includes("configure imageport:endpoint, imageport:clientId and imageport:clientSecret"),
      );
    });

    it("refuses an endpoint that is neither a URL nor a region, naming imageport:endpoint", () => {
      assert.throws(() => resolveSettings({ endpoint: "ftp://x" }, {}), (e: ConfigurationError) => e.setting === "imageport:endpoint");
    });
  });
});
