import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { promisify } from "node:util";

const scryptAsync = promisify(scrypt) as (
  password: string,
  salt: Buffer,
  keylen: number,
  options: object,
) => Promise<Buffer>;

// scrypt because a caller-chosen secret (bootstrapClient) may be weak; generated ones are 32 random bytes.
const N = 16384, R = 8, P = 1, KEY_LEN = 32;

/** "scrypt$N$r$p$salt$hash" (base64 parts): self-describing, so the cost can rise later. */
export async function hashClientSecret(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scryptAsync(secret, salt, KEY_LEN, { N, r: R, p: P });
  return ["scrypt", N, R, P, salt.toString("base64"), hash.toString("base64")].join("$");
}

/** Spends the same scrypt work for an unknown client (stored undefined), so timing does not reveal client ids. */
export async function verifyClientSecret(secret: string, stored: string | undefined): Promise<boolean> {
  if (stored === undefined) {
    await scryptAsync(secret, Buffer.alloc(16), KEY_LEN, { N, r: R, p: P });
    return false;
  }
  const [scheme, n, r, p, salt, hash] = stored.split("$");
  if (scheme !== "scrypt" || !salt || !hash) return false;
  const expected = Buffer.from(hash, "base64");
  const actual = await scryptAsync(secret, Buffer.from(salt, "base64"), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
  });
  return timingSafeEqual(actual, expected);
}

export function generateClientSecret(): string {
  return randomBytes(32).toString("base64url");
}
