import { Kysely, Migration } from "kysely";
import { columnTypes } from "../dialect";

export const apiClients: Migration = {
  async up(db: Kysely<any>): Promise<void> {
    const t = columnTypes(db);
    await db.schema
      .createTable("api_clients")
      .addColumn("client_id", t.key, (c) => c.primaryKey())
      .addColumn("customer_id", t.key, (c) => c.notNull())
      .addColumn("secret_hash", t.text, (c) => c.notNull())
      .addColumn("created_at", t.text, (c) => c.notNull())
      .execute();
  },
  async down(db: Kysely<any>): Promise<void> {
    await db.schema.dropTable("api_clients").execute();
  },
};
