import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { EngineError } from "../../engine/errors";
import { SecretBox } from "../../engine/secrets/secret-box";

describe("engine: SecretBox (AES-256-GCM)", () => {
  const key = randomBytes(32);
  const box = new SecretBox(key);

  it("decrypts what it encrypted, with its associated data", () => {
    const sealed = box.seal("s3cret: ünïcode", "credential:c:id");
    assert.equal(box.open(sealed, "credential:c:id").toString("utf8"), "s3cret: ünïcode");
    assert.equal(sealed.iv.length, 12);
    assert.equal(sealed.tag.length, 16);
    assert.equal(sealed.ciphertext.indexOf("s3cret"), -1);
  });

  it("uses a fresh IV per message, so equal plaintexts give different ciphertexts", () => {
    const a = box.seal("same");
    const b = box.seal("same");
    assert.notDeepEqual(a.iv, b.iv);
    assert.notDeepEqual(a.ciphertext, b.ciphertext);
  });

  it("detects tampering with the ciphertext, the tag or the IV", () => {
    const sealed = box.seal("payload to protect");
    const flip = (buf: Buffer) => {
      const copy = Buffer.from(buf);
      copy[0]! ^= 0x01;
      return copy;
    };
    assert.throws(() => box.open({ ...sealed, ciphertext: flip(sealed.ciphertext) }));
    assert.throws(() => box.open({ ...sealed, tag: flip(sealed.tag) }));
    assert.throws(() => box.open({ ...sealed, iv: flip(sealed.iv) }));
    assert.throws(() => box.open({ ...sealed, tag: sealed.tag.subarray(0, 8) }));
  });

  it("refuses to open with another key or other associated data", () => {
    const sealed = box.seal("payload", "credential:c:a");
    assert.throws(() => new SecretBox(randomBytes(32)).open(sealed, "credential:c:a"));
    assert.throws(() => box.open(sealed, "credential:c:b"));
  });

  it("refuses a key that is not 32 bytes with MASTER_KEY_INVALID", () => {
    assert.throws(
      () => new SecretBox(randomBytes(16)),
      (err: unknown) => err instanceof EngineError && err.code === "MASTER_KEY_INVALID",
    );
  });

  it("keeps its own copy of the key", () => {
    const k = randomBytes(32);
    const own = new SecretBox(k);
    const sealed = own.seal("x");
    k.fill(0);
    assert.equal(own.open(sealed).toString(), "x");
  });
});
