import { Kysely, Migration, sql } from "kysely";
import { columnTypes } from "../dialect";

// Resource locations, connectors and jobs. Only text/integer columns, so the same migration
// runs on SQLite and PostgreSQL. JSON documents (parameters, steps, ...) are text.
export const jobs: Migration = {
  async up(db: Kysely<any>): Promise<void> {
    const t = columnTypes(db);
    await db.schema
      .createTable("resource_locations")
      .addColumn("customer_id", t.key, (c) => c.notNull())
      .addColumn("id", t.key, (c) => c.notNull())
      .addColumn("name", t.text, (c) => c.notNull())
      .addColumn("max_concurrent_jobs", t.integer, (c) => c.notNull())
      .addColumn("created_at", t.key, (c) => c.notNull())
      .addColumn("updated_at", t.text, (c) => c.notNull())
      .addPrimaryKeyConstraint("resource_locations_pk", ["customer_id", "id"])
      .execute();

    await db.schema
      .createTable("connectors")
      .addColumn("customer_id", t.key, (c) => c.notNull())
      .addColumn("id", t.key, (c) => c.notNull())
      .addColumn("name", t.text, (c) => c.notNull())
      .addColumn("resource_location_id", t.key, (c) => c.notNull())
      .addColumn("embedded", t.integer, (c) => c.notNull())
      .addColumn("max_concurrent_jobs", t.integer, (c) => c.notNull())
      // sha256 of the one-time registration code; null once used.
      .addColumn("registration_code_hash", t.key)
      .addColumn("registration_expires_at", t.text)
      .addColumn("registered_at", t.text)
      .addColumn("last_heartbeat_at", t.text)
      .addColumn("version", t.text)
      .addColumn("hostname", t.text)
      .addColumn("created_at", t.key, (c) => c.notNull())
      .addPrimaryKeyConstraint("connectors_pk", ["customer_id", "id"])
      .execute();

    await db.schema
      .createTable("jobs")
      .addColumn("customer_id", t.key, (c) => c.notNull())
      .addColumn("id", t.key, (c) => c.notNull())
      .addColumn("type", t.key, (c) => c.notNull())
      .addColumn("status", t.key, (c) => c.notNull())
      .addColumn("resource_location_id", t.key, (c) => c.notNull())
      .addColumn("parameters", t.text, (c) => c.notNull())
      .addColumn("progress", t.integer, (c) => c.notNull())
      .addColumn("steps", t.text, (c) => c.notNull())
      .addColumn("warnings", t.text, (c) => c.notNull())
      .addColumn("error_code", t.text)
      .addColumn("error_message", t.text)
      .addColumn("artifacts", t.text, (c) => c.notNull())
      .addColumn("timeout_seconds", t.integer, (c) => c.notNull())
      .addColumn("connector_id", t.key)
      .addColumn("attempt", t.integer, (c) => c.notNull())
      .addColumn("lease_expires_at", t.text)
      .addColumn("cancel_requested", t.integer, (c) => c.notNull())
      .addColumn("created_at", t.key, (c) => c.notNull())
      .addColumn("updated_at", t.text, (c) => c.notNull())
      .addColumn("started_at", t.text)
      .addColumn("finished_at", t.text)
      .addPrimaryKeyConstraint("jobs_pk", ["customer_id", "id"])
      .execute();
    // The claim query: the oldest waiting job of a location.
    await db.schema.createIndex("jobs_queue").on("jobs").columns(["status", "resource_location_id", "created_at"]).execute();
    // The list query: newest first, paged by (created_at, id).
    await db.schema.createIndex("jobs_by_created").on("jobs").columns(["customer_id", "created_at", "id"]).execute();

    // Connectors authenticate with their own API client, which may only do connector work.
    await db.schema
      .alterTable("api_clients")
      .addColumn("role", t.text, (c) => c.notNull().defaultTo(sql`'user'`))
      .execute();
    await db.schema.alterTable("api_clients").addColumn("connector_id", t.key).execute();
  },
  async down(db: Kysely<any>): Promise<void> {
    await db.schema.alterTable("api_clients").dropColumn("connector_id").execute();
    await db.schema.alterTable("api_clients").dropColumn("role").execute();
    await db.schema.dropTable("jobs").execute();
    await db.schema.dropTable("connectors").execute();
    await db.schema.dropTable("resource_locations").execute();
  },
};
