import { Kysely, Migration } from "kysely";

export const credentials: Migration = {
  async up(db: Kysely<any>): Promise<void> {
    await db.schema
      .createTable("credentials")
      .addColumn("customer_id", "text", (c) => c.notNull())
      .addColumn("id", "text", (c) => c.notNull())
      .addColumn("type", "text", (c) => c.notNull())
      .addColumn("name", "text")
      .addColumn("public_fields", "text", (c) => c.notNull())
      .addColumn("secret_iv", "blob", (c) => c.notNull())
      .addColumn("secret_tag", "blob", (c) => c.notNull())
      .addColumn("secret_ciphertext", "blob", (c) => c.notNull())
      .addColumn("created_at", "text", (c) => c.notNull())
      .addColumn("updated_at", "text", (c) => c.notNull())
      .addPrimaryKeyConstraint("credentials_pk", ["customer_id", "id"])
      .execute();
    // Holds the master-key check value that guards against starting with the wrong key.
    await db.schema
      .createTable("meta")
      .addColumn("key", "text", (c) => c.primaryKey())
      .addColumn("value", "text", (c) => c.notNull())
      .execute();
  },
  async down(db: Kysely<any>): Promise<void> {
    await db.schema.dropTable("meta").execute();
    await db.schema.dropTable("credentials").execute();
  },
};
