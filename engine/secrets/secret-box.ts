import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { masterKeyInvalid } from "../errors";

/** What gets stored: each part in its own column, never the plaintext. */
export interface Sealed {
  iv: Buffer;
  tag: Buffer;
  ciphertext: Buffer;
}

export const KEY_BYTES = 32;
const IV_BYTES = 12; // the GCM standard nonce size
const TAG_BYTES = 16;

/**
 * AES-256-GCM with a fresh random IV per message. `aad` binds a ciphertext to its owner
 * (e.g. the credential id), so a row's secret cannot be swapped into another row.
 */
export class SecretBox {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== KEY_BYTES) {
      throw masterKeyInvalid(`it must be ${KEY_BYTES} bytes, got ${key.length}.`);
    }
    this.#key = Buffer.from(key); // own copy: the caller may reuse or wipe its buffer
  }

  seal(plaintext: string | Buffer, aad = ""): Sealed {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(aad, "utf8"));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return { iv, tag: cipher.getAuthTag(), ciphertext };
  }

  /** Throws (node's "Unsupported state or unable to authenticate data") on a wrong key, aad or altered data. */
  open(sealed: Sealed, aad = ""): Buffer {
    const decipher = createDecipheriv("aes-256-gcm", this.#key, sealed.iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(aad, "utf8"));
    decipher.setAuthTag(sealed.tag);
    return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]);
  }
}
