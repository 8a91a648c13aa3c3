import assert from "node:assert/strict";
import { startTestEngine, TestEngine } from "../helpers/engine-harness";

describe("the engine's OpenAPI document", () => {
  let engine: TestEngine;
  before(async () => {
    engine = await startTestEngine();
  });
  after(async () => engine?.close({ removeData: true }));

  it("is served without a token and lists exactly the routes the engine serves, with their request schemas", async () => {
    const res = await engine.request("GET", "/ips/info/openapi.json");
    assert.equal(res.status, 200);
    const doc = res.json as { openapi: string; paths: Record<string, Record<string, any>> };
    assert.match(doc.openapi, /^3\./);

    const documented = new Set<string>();
    for (const [path, ops] of Object.entries(doc.paths)) for (const method of Object.keys(ops)) documented.add(`${method.toUpperCase()} ${path}`);
    const served = new Set(
      engine.engine.routes
        .filter((r) => !r.endsWith("/ips/info/openapi.json") && !r.endsWith("*"))
        .map((r) => r.replace(/:([A-Za-z]+)/g, "{$1}")),
    );
    assert.deepEqual([...served].filter((r) => !documented.has(r)), [], "served but undocumented");
    assert.deepEqual([...documented].filter((r) => !served.has(r)), [], "documented but not served");

    for (const type of ["export", "upload", "prepare", "prepareAndPublish", "publish", "delete", "inspect"]) {
      const op = doc.paths[`/ips/images/$${type}`]!.post;
      const schema = op.requestBody.content["application/json"].schema;
      assert.ok(schema.properties.resourceLocationId, `${type} documents its body`);
      assert.equal(schema.additionalProperties, false);
    }
  });
});
