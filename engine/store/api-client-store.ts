import { Kysely } from "kysely";
import { Database } from "./schema";

export type ClientRole = "user" | "connector";

export interface ApiClientRecord {
  clientId: string;
  customerId: string;
  secretHash: string;
  /** Default "user". A connector client may call only the connector routes of its connector. */
  role?: ClientRole;
  connectorId?: string;
}

/** API clients (client-credentials grant). Only a hash of each secret is stored. */
export interface ApiClientStore {
  find(clientId: string): Promise<ApiClientRecord | undefined>;
  /** Creates the client, or replaces its customer and secret hash. */
  put(client: ApiClientRecord): Promise<void>;
  /** Removes the clients of a connector (deregistration). */
  deleteForConnector(customerId: string, connectorId: string): Promise<void>;
}

export class KyselyApiClientStore implements ApiClientStore {
  constructor(private readonly db: Kysely<Database>) {}

  async find(clientId: string): Promise<ApiClientRecord | undefined> {
    const row = await this.db
      .selectFrom("api_clients")
      .selectAll()
      .where("client_id", "=", clientId)
      .executeTakeFirst();
    if (!row) return undefined;
    const record: ApiClientRecord = {
      clientId: row.client_id,
      customerId: row.customer_id,
      secretHash: row.secret_hash,
      role: row.role === "connector" ? "connector" : "user",
    };
    if (row.connector_id) record.connectorId = row.connector_id;
    return record;
  }

  async put(client: ApiClientRecord): Promise<void> {
    await this.db
      .insertInto("api_clients")
      .values({
        client_id: client.clientId,
        customer_id: client.customerId,
        secret_hash: client.secretHash,
        created_at: new Date().toISOString(),
        role: client.role ?? "user",
        connector_id: client.connectorId ?? null,
      })
      .onConflict((oc) =>
        oc.column("client_id").doUpdateSet({
          customer_id: client.customerId,
          secret_hash: client.secretHash,
          role: client.role ?? "user",
          connector_id: client.connectorId ?? null,
        }),
      )
      .execute();
  }

  async deleteForConnector(customerId: string, connectorId: string): Promise<void> {
    await this.db
      .deleteFrom("api_clients")
      .where("customer_id", "=", customerId)
      .where("connector_id", "=", connectorId)
      .execute();
  }
}
