import { strict as assert } from "assert";
import { diffInputs } from "../../provider/diff";
import { UNKNOWN } from "../../provider/properties";
import { resourceSpec } from "../../provider/schema";

describe("provider: diff from schema.json", () => {
  const spec = resourceSpec("imageport:index:Credential")!;
  const base = { credentialId: "c1", type: "UsernamePassword", username: "u", password: "p" };

  it("finds no change when the inputs are equal", () => {
    assert.deepEqual(diffInputs(spec, base, { ...base }), { changes: {}, replaces: [] });
  });

  it("updates in place for a changed secret", () => {
    const d = diffInputs(spec, base, { ...base, password: "q" });
    assert.deepEqual(d.changes, { password: { kind: "update", replace: false } });
    assert.deepEqual(d.replaces, []);
  });

  it("replaces exactly for the properties schema.json marks replaceOnChanges", () => {
    const d = diffInputs(spec, base, { ...base, type: "Aws", credentialId: "c2", username: "v" });
    assert.deepEqual(d.replaces.sort(), ["credentialId", "type"]);
    assert.equal(d.changes.username.replace, false);
  });

  it("counts an unknown value as a change, and a replace where it replaces", () => {
    const d = diffInputs(spec, base, { ...base, credentialId: UNKNOWN });
    assert.deepEqual(d.replaces, ["credentialId"]);
  });

  it("tells added and removed properties apart", () => {
    const d = diffInputs(spec, base, { ...base, domain: "CORP", username: undefined });
    assert.equal(d.changes.domain.kind, "add");
    assert.equal(d.changes.username.kind, "delete");
  });
});
