import { Kysely } from "kysely";
import { masterKeyInvalid } from "../errors";
import { SecretBox } from "../secrets/secret-box";
import { Database } from "./schema";

const KEY = "master_key_check";
const PLAINTEXT = "imageport master key check";

/**
 * Refuses to start with a master key other than the one the data directory was created with.
 * Without this, a lost master.key would be silently recreated and every stored secret would
 * fail later, one job at a time.
 */
export async function verifyMasterKey(db: Kysely<Database>, box: SecretBox): Promise<void> {
  const read = () => db.selectFrom("meta").select("value").where("key", "=", KEY).executeTakeFirst();
  let row = await read();
  if (!row) {
    const { iv, tag, ciphertext } = box.seal(PLAINTEXT, KEY);
    const value = JSON.stringify({
      iv: iv.toString("base64"),
      tag: tag.toString("base64"),
      ciphertext: ciphertext.toString("base64"),
    });
    // Engines starting together on one PostgreSQL database can all get here: the first insert
    // wins and every engine, this one included, checks its key against the stored value.
    await db.insertInto("meta").values({ key: KEY, value }).onConflict((oc) => oc.column("key").doNothing()).execute();
    row = await read();
    if (!row) throw new Error("the master key check value vanished right after it was stored");
  }
  const stored = JSON.parse(row.value) as { iv: string; tag: string; ciphertext: string };
  try {
    box.open(
      {
        iv: Buffer.from(stored.iv, "base64"),
        tag: Buffer.from(stored.tag, "base64"),
        ciphertext: Buffer.from(stored.ciphertext, "base64"),
      },
      KEY,
    );
  } catch {
    throw masterKeyInvalid(
      "it is not the key this data directory was created with, so its stored secrets cannot be decrypted. " +
        "Restore the original key (IMAGEPORT_MASTER_KEY or <dataDir>/master.key) and start again.",
    );
  }
}
