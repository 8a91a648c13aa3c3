import { Kysely } from "kysely";
import { Database } from "./schema";

export interface ApiClientRecord {
  clientId: string;
  customerId: string;
  secretHash: string;
}

/** API clients (client-credentials grant). Only a hash of each secret is stored. */
export interface ApiClientStore {
  find(clientId: string): Promise<ApiClientRecord | undefined>;
  /** Creates the client, or replaces its customer and secret hash. */
  put(client: ApiClientRecord): Promise<void>;
}

export class KyselyApiClientStore implements ApiClientStore {
  constructor(private readonly db: Kysely<Database>) {}

  async find(clientId: string): Promise<ApiClientRecord | undefined> {
    const row = await this.db
      .selectFrom("api_clients")
      .selectAll()
      .where("client_id", "=", clientId)
      .executeTakeFirst();
    return row && { clientId: row.client_id, customerId: row.customer_id, secretHash: row.secret_hash };
  }

  async put(client: ApiClientRecord): Promise<void> {
    await this.db
      .insertInto("api_clients")
      .values({
        client_id: client.clientId,
        customer_id: client.customerId,
        secret_hash: client.secretHash,
        created_at: new Date().toISOString(),
      })
      .onConflict((oc) =>
        oc.column("client_id").doUpdateSet({ customer_id: client.customerId, secret_hash: client.secretHash }),
      )
      .execute();
  }
}
