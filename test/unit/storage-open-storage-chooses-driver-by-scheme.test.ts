import assert from "node:assert/strict";
import { EngineError } from "../../engine/errors";
import { LocalStorage, openStorage, SmbStorage } from "../../engine/platforms";

describe("storage: openStorage chooses the driver by scheme", () => {
  const cred = { id: "k", type: "UsernamePassword", fields: { username: "u", password: "p" } };

  it("gives a LocalStorage for file:// and an SmbStorage for smb://, with normalized URIs", () => {
    const local = openStorage("file:///srv/images", undefined);
    assert.ok(local instanceof LocalStorage);
    assert.equal(local.uri, "file:///srv/images/");
    const smb = openStorage("smb://H:4445/s", cred);
    assert.ok(smb instanceof SmbStorage);
    assert.equal(smb.uri, "smb://h:4445/s/");
  });

  it("insists on a UsernamePassword credential for smb:// and refuses other schemes", () => {
    assert.throws(() => openStorage("smb://h/s/", undefined), (e: EngineError) => e.code === "SHARE_ACCESS_DENIED" && /needs a credential/.test(e.message));
    assert.throws(
      () => openStorage("smb://h/s/", { id: "aws1", type: "Aws", fields: {} }),
      (e: EngineError) => e.code === "SHARE_ACCESS_DENIED" && /'aws1' is of type Aws/.test(e.message),
    );
    assert.throws(() => openStorage("ftp://h/s/", undefined), (e: EngineError) => e.code === "VALIDATION_FAILED" && e.fields?.[0]?.field === "location");
  });
});
