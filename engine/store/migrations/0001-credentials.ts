import { Kysely, Migration } from "kysely";
import { columnTypes } from "../dialect";

export const credentials: Migration = {
  async up(db: Kysely<any>): Promise<void> {
    const t = columnTypes(db);
    await db.schema
      .createTable("credentials")
      .addColumn("customer_id", t.key, (c) => c.notNull())
      .addColumn("id", t.key, (c) => c.notNull()) // listed in id order, byte-wise on both dialects
      .addColumn("type", t.text, (c) => c.notNull())
      .addColumn("name", t.text)
      .addColumn("public_fields", t.text, (c) => c.notNull())
      .addColumn("secret_iv", t.binary, (c) => c.notNull())
      .addColumn("secret_tag", t.binary, (c) => c.notNull())
      .addColumn("secret_ciphertext", t.binary, (c) => c.notNull())
      .addColumn("created_at", t.text, (c) => c.notNull())
      .addColumn("updated_at", t.text, (c) => c.notNull())
      .addPrimaryKeyConstraint("credentials_pk", ["customer_id", "id"])
      .execute();
    // Holds the master-key check value that guards against starting with the wrong key.
    await db.schema
      .createTable("meta")
      .addColumn("key", t.key, (c) => c.primaryKey())
      .addColumn("value", t.text, (c) => c.notNull())
      .execute();
  },
  async down(db: Kysely<any>): Promise<void> {
    await db.schema.dropTable("meta").execute();
    await db.schema.dropTable("credentials").execute();
  },
};
