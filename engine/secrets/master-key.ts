import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { masterKeyInvalid } from "../errors";
import { KEY_BYTES } from "./secret-box";

export const MASTER_KEY_ENV = "IMAGEPORT_MASTER_KEY";

/**
 * The 32-byte master key: from IMAGEPORT_MASTER_KEY (base64) when set, else from
 * <dataDir>/master.key (base64 text, mode 0600), which is created on first start.
 */
export function loadMasterKey(dataDir: string, env: NodeJS.ProcessEnv = process.env): Buffer {
  const fromEnv = env[MASTER_KEY_ENV];
  if (fromEnv !== undefined && fromEnv.trim() !== "") {
    return decode(fromEnv, `${MASTER_KEY_ENV}`);
  }
  const file = join(dataDir, "master.key");
  if (existsSync(file)) return decode(readFileSync(file, "utf8"), file);

  const key = randomBytes(KEY_BYTES);
  // "wx": never overwrite a key another process created meanwhile; losing it loses every secret.
  writeFileSync(file, key.toString("base64") + "\n", { mode: 0o600, flag: "wx" });
  return key;
}

function decode(text: string, source: string): Buffer {
  const trimmed = text.trim();
  const key = Buffer.from(trimmed, "base64");
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) || key.length !== KEY_BYTES) {
    throw masterKeyInvalid(
      `${source} must hold ${KEY_BYTES} random bytes in base64 (e.g. the output of ` +
        `'openssl rand -base64 32'), but it decodes to ${key.length} bytes.`,
    );
  }
  return key;
}
