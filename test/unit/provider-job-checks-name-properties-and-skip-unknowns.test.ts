import { strict as assert } from "assert";
import { CheckContext } from "../../provider/handler";
import { clientToken, requestBody } from "../../provider/jobs/request";
import { UNKNOWN } from "../../provider/properties";
import { handlers } from "../../provider/resources";
import { parseDuration, timeoutMs } from "../../provider/timeouts";
import { validateInputs } from "../../provider/validate";

const EXPORT = "imageport:index:ExportJob";
const ctx = (secretKeys: string[] = []): CheckContext => ({ urn: "urn:x", name: "disk", randomSeed: Buffer.alloc(0), secretKeys: new Set(secretKeys) });
const good = {
  inputStorageLocation: { location: "file:///images/source/" },
  inputImageFilename: "golden.qcow2",
  outputStorageLocation: { location: "smb://nas/share/exports/", credentialId: "nas" },
  outputImageFilename: "golden.vhdx",
};
/** Every check failure of the ExportJob handler plus the schema-driven ones, as the server reports them. */
function check(inputs: Record<string, unknown>, secretKeys: string[] = []) {
  const own = handlers[EXPORT].check(inputs, {}, ctx(secretKeys)).failures;
  return [...own, ...validateInputs(EXPORT, inputs)];
}

describe("job resource checks name the property and leave unknown values alone", () => {
  it("accepts a complete, well-formed request", () => {
    assert.deepEqual(check(good), []);
  });

  it("names a wrong enum value with the allowed ones, a missing input and a nested property", () => {
    const failures = check({ ...good, outputDiskType: "sparse", inputImageFilename: undefined, inputStorageLocation: { location: "file:///x/", extra: 1 } });
    const byProperty = Object.fromEntries(failures.map((f) => [f.property, f.reason]));
    assert.match(byProperty.outputDiskType, /must be one of dynamic, fixed; got "sparse"/);
    assert.match(byProperty.inputImageFilename, /is required/);
    assert.match(byProperty["inputStorageLocation.extra"], /not a known property; use location, credentialId/);
  });

  it("refuses storage locations of the wrong shape and credentials where they do not belong", () => {
    const failures = check({
      ...good,
      inputStorageLocation: { location: "file:///x/", credentialId: "nas" },
      outputStorageLocation: { location: "smb://nas/share/" },
    });
    assert.deepEqual(failures.map((f) => f.property).sort(), ["inputStorageLocation.credentialId", "outputStorageLocation.credentialId"]);
  });

  it("refuses a secret in any job input, since job parameters are kept in plain text", () => {
    const failures = check(good, ["outputImageFilename"]);
    assert.equal(failures.length, 1);
    assert.match(failures[0].reason, /outputImageFilename must be a plain value, not a secret/);
  });

  it("does not judge values that are unknown during preview", () => {
    const inputs = { ...good, inputStorageLocation: UNKNOWN, inputImageFilename: UNKNOWN, outputStorageLocation: { location: UNKNOWN, credentialId: UNKNOWN } };
    assert.deepEqual(check(inputs), []);
  });

  it("reads timeouts as durations, the customTimeouts option first", () => {
    assert.equal(parseDuration("1h30m"), 5_400_000);
    assert.equal(parseDuration("90s"), 90_000);
    assert.equal(parseDuration("soon"), undefined);
    assert.equal(timeoutMs("create", { timeouts: { create: "30m" } }, 0, 1), 1_800_000);
    assert.equal(timeoutMs("create", { timeouts: { create: "30m" } }, 60, 1), 60_000);
    assert.equal(timeoutMs("delete", {}, 0, 42), 42);
    const failures = check({ ...good, timeouts: { create: "2 hours" } });
    assert.match(failures[0].reason, /timeouts.create "2 hours" is not a duration/);
  });

  it("gives the same resource and request the same client token, and anything else another", () => {
    const body = requestBody(good, Object.keys(good));
    const token = clientToken("urn:a", "export", body);
    assert.equal(clientToken("urn:a", "export", { ...body }), token);
    assert.equal(clientToken("urn:a", "export", Object.fromEntries(Object.entries(body).reverse())), token, "key order does not matter");
    assert.notEqual(clientToken("urn:b", "export", body), token);
    assert.notEqual(clientToken("urn:a", "export", { ...body, outputImageFilename: "other.vhdx" }), token);
    assert.match(token, /^[A-Za-z0-9._:-]{1,128}$/, "fits the engine's clientToken pattern");
  });

  it("deletes before replacing only when the replacement writes the same file", () => {
    const dbr = handlers[EXPORT].deleteBeforeReplace!;
    assert.equal(dbr(good, { ...good, outputDiskType: "fixed" }), true);
    assert.equal(dbr(good, { ...good, outputImageFilename: "golden-v2.vhdx" }), false);
    assert.equal(handlers["imageport:index:UploadJob"].deleteBeforeReplace!({ platform: "aws" }, { platform: "aws" }), false);
  });
});
