import { strict as assert } from "assert";
import { CheckContext, CheckFailure } from "../../provider/handler";
import { UNKNOWN } from "../../provider/properties";
import { connectorRegistrationHandler } from "../../provider/resources/connector-registration";
import { resourceLocationHandler } from "../../provider/resources/resource-location";

function ctx(secretKeys: string[] = []): CheckContext {
  return { urn: "urn:pulumi:s::p::t::loc", name: "loc", randomSeed: Buffer.from("seed"), secretKeys: new Set(secretKeys) };
}

function properties(failures: CheckFailure[]): string[] {
  return failures.map((f) => f.property).sort();
}

describe("provider: ResourceLocation check", () => {
  const check = (news: Record<string, unknown>, olds: Record<string, unknown> = {}, c = ctx()) => resourceLocationHandler.check(news, olds, c);

  it("fills the defaults: auto-named id, name = id, 2 jobs", () => {
    const { inputs, failures } = check({});
    assert.deepEqual(failures, []);
    assert.match(inputs.resourceLocationId as string, /^loc-[0-9a-f]{7}$/);
    assert.equal(inputs.name, inputs.resourceLocationId);
    assert.equal(inputs.maxConcurrentJobs, 2);
  });

  it("keeps the auto-name chosen before, so it is stable across updates", () => {
    const { inputs } = check({}, { resourceLocationId: "loc-1234567" }, { ...ctx(), randomSeed: Buffer.from("other") });
    assert.equal(inputs.resourceLocationId, "loc-1234567");
  });

  for (const bad of [0, 65, 2.5, "3"]) {
    it(`refuses maxConcurrentJobs ${JSON.stringify(bad)}, naming the property and the range`, () => {
      const { failures } = check({ resourceLocationId: "dc1", maxConcurrentJobs: bad });
      assert.deepEqual(properties(failures), ["maxConcurrentJobs"]);
      assert.match(failures[0].reason, /maxConcurrentJobs must be a whole number from 1 to 64/);
    });
  }

  it("refuses a bad id, an empty name and the engine's own 'local' location", () => {
    assert.deepEqual(properties(check({ resourceLocationId: "-bad id" }).failures), ["resourceLocationId"]);
    assert.match(check({ resourceLocationId: "dc1", name: "" }).failures[0].reason, /name "" is not valid: use 1-256 characters/);
    const local = check({ resourceLocationId: "local" }).failures;
    assert.deepEqual(properties(local), ["resourceLocationId"]);
    assert.match(local[0].reason, /engine's own location/);
  });

  it("refuses a secret id: it becomes the resource id, kept in plain text", () => {
    const { failures } = check({ resourceLocationId: "dc1" }, {}, ctx(["resourceLocationId"]));
    assert.deepEqual(properties(failures), ["resourceLocationId"]);
    assert.match(failures[0].reason, /must be a plain value, not a secret/);
  });

  it("passes unknown values (preview of values computed by other resources)", () => {
    const { inputs, failures } = check({ resourceLocationId: UNKNOWN, name: UNKNOWN, maxConcurrentJobs: UNKNOWN });
    assert.deepEqual(failures, []);
    assert.equal(inputs.maxConcurrentJobs, UNKNOWN);
  });
});

describe("provider: ConnectorRegistration check", () => {
  const check = (news: Record<string, unknown>, c = ctx()) => connectorRegistrationHandler.check(news, {}, c);

  it("accepts a name and a location, defaulting to 2 jobs", () => {
    const { inputs, failures } = check({ name: "worker-1", resourceLocationId: "dc1" });
    assert.deepEqual(failures, []);
    assert.deepEqual(inputs, { name: "worker-1", resourceLocationId: "dc1", maxConcurrentJobs: 2 });
  });

  it("names a missing name and a missing resourceLocationId", () => {
    const { failures } = check({});
    assert.deepEqual(properties(failures), ["name", "resourceLocationId"]);
    assert.match(failures.find((f) => f.property === "name")!.reason, /name is required/);
    assert.match(failures.find((f) => f.property === "resourceLocationId")!.reason, /resourceLocationId is required/);
  });

  it("refuses maxConcurrentJobs out of range, and the 'local' location", () => {
    const { failures } = check({ name: "w", resourceLocationId: "local", maxConcurrentJobs: 100 });
    assert.deepEqual(properties(failures), ["maxConcurrentJobs", "resourceLocationId"]);
    assert.match(failures.find((f) => f.property === "resourceLocationId")!.reason, /create a ResourceLocation for this connector/);
  });

  it("refuses a secret resourceLocationId", () => {
    const { failures } = check({ name: "w", resourceLocationId: "dc1" }, ctx(["resourceLocationId"]));
    assert.deepEqual(properties(failures), ["resourceLocationId"]);
  });

  it("passes unknown values (a location created in the same up)", () => {
    const { failures } = check({ name: UNKNOWN, resourceLocationId: UNKNOWN, maxConcurrentJobs: UNKNOWN });
    assert.deepEqual(failures, []);
  });
});
