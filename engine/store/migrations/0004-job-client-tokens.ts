import { Kysely, Migration } from "kysely";
import { columnTypes } from "../dialect";

// Idempotent submission: a client token names one live job per customer, so a client that
// lost the answer (an interrupted `pulumi up`) gets the same job back instead of a second one.
export const jobClientTokens: Migration = {
  async up(db: Kysely<any>): Promise<void> {
    await db.schema.alterTable("jobs").addColumn("client_token", columnTypes(db).key).execute();
    await db.schema.createIndex("jobs_client_token").unique().on("jobs").columns(["customer_id", "client_token"]).execute();
  },
  async down(db: Kysely<any>): Promise<void> {
    await db.schema.dropIndex("jobs_client_token").execute();
    await db.schema.alterTable("jobs").dropColumn("client_token").execute();
  },
};
