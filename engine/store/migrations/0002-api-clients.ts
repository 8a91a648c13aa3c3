import { Kysely, Migration } from "kysely";

export const apiClients: Migration = {
  async up(db: Kysely<any>): Promise<void> {
    await db.schema
      .createTable("api_clients")
      .addColumn("client_id", "text", (c) => c.primaryKey())
      .addColumn("customer_id", "text", (c) => c.notNull())
      .addColumn("secret_hash", "text", (c) => c.notNull())
      .addColumn("created_at", "text", (c) => c.notNull())
      .execute();
  },
  async down(db: Kysely<any>): Promise<void> {
    await db.schema.dropTable("api_clients").execute();
  },
};
