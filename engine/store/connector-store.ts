import { Kysely, Selectable } from "kysely";
import { EngineError } from "../errors";
import { ConnectorsTable, Database } from "./schema";

export interface ConnectorRecord {
  customerId: string;
  id: string;
  name: string;
  resourceLocationId: string;
  embedded: boolean;
  maxConcurrentJobs: number;
  registered: boolean;
  registrationExpiresAt?: string;
  registeredAt?: string;
  lastHeartbeatAt?: string;
  version?: string;
  hostname?: string;
  createdAt: string;
}

export interface NewConnector {
  id: string;
  name: string;
  resourceLocationId: string;
  embedded: boolean;
  maxConcurrentJobs: number;
  /** sha256 of the one-time registration code (absent for the embedded connector). */
  registrationCodeHash?: string;
  registrationExpiresAt?: string;
}

export class ConnectorStore {
  constructor(private readonly db: Kysely<Database>) {}

  async create(customerId: string, connector: NewConnector): Promise<ConnectorRecord> {
    const now = new Date().toISOString();
    await this.db
      .insertInto("connectors")
      .values({
        customer_id: customerId,
        id: connector.id,
        name: connector.name,
        resource_location_id: connector.resourceLocationId,
        embedded: connector.embedded ? 1 : 0,
        max_concurrent_jobs: connector.maxConcurrentJobs,
        registration_code_hash: connector.registrationCodeHash ?? null,
        registration_expires_at: connector.registrationExpiresAt ?? null,
        registered_at: connector.embedded ? now : null,
        last_heartbeat_at: null,
        version: null,
        hostname: null,
        created_at: now,
      })
      .execute();
    return this.get(customerId, connector.id);
  }

  /** The embedded connector of a location, if the engine made one before. */
  async findEmbedded(customerId: string, locationId: string): Promise<ConnectorRecord | undefined> {
    const row = await this.db
      .selectFrom("connectors")
      .selectAll()
      .where("customer_id", "=", customerId)
      .where("resource_location_id", "=", locationId)
      .where("embedded", "=", 1)
      .executeTakeFirst();
    return row && toRecord(row);
  }

  /**
   * Uses up a registration code: returns its connector once, then never again (the code's hash
   * is cleared in the same conditional update, so two registrations racing cannot both win).
   */
  async consumeCode(codeHash: string, meta: { version?: string; hostname?: string }): Promise<ConnectorRecord | undefined> {
    const row = await this.db
      .selectFrom("connectors")
      .selectAll()
      .where("registration_code_hash", "=", codeHash)
      .executeTakeFirst();
    if (!row || !row.registration_expires_at || Date.parse(row.registration_expires_at) <= Date.now()) return undefined;
    const now = new Date().toISOString();
    const result = await this.db
      .updateTable("connectors")
      .set({
        registration_code_hash: null,
        registration_expires_at: null,
        registered_at: now,
        last_heartbeat_at: now,
        version: meta.version ?? null,
        hostname: meta.hostname ?? null,
      })
      .where("customer_id", "=", row.customer_id)
      .where("id", "=", row.id)
      .where("registration_code_hash", "=", codeHash)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) return undefined;
    return this.get(row.customer_id, row.id);
  }

  async heartbeat(customerId: string, id: string, meta: { version?: string; hostname?: string } = {}): Promise<void> {
    const result = await this.db
      .updateTable("connectors")
      .set({
        last_heartbeat_at: new Date().toISOString(),
        ...(meta.version ? { version: meta.version } : {}),
        ...(meta.hostname ? { hostname: meta.hostname } : {}),
      })
      .where("customer_id", "=", customerId)
      .where("id", "=", id)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) throw connectorNotFound(id);
  }

  async find(customerId: string, id: string): Promise<ConnectorRecord | undefined> {
    const row = await this.db
      .selectFrom("connectors")
      .selectAll()
      .where("customer_id", "=", customerId)
      .where("id", "=", id)
      .executeTakeFirst();
    return row && toRecord(row);
  }

  async get(customerId: string, id: string): Promise<ConnectorRecord> {
    const found = await this.find(customerId, id);
    if (!found) throw connectorNotFound(id);
    return found;
  }

  async list(customerId: string, filter: { resourceLocationId?: string } = {}): Promise<ConnectorRecord[]> {
    let query = this.db.selectFrom("connectors").selectAll().where("customer_id", "=", customerId);
    if (filter.resourceLocationId) query = query.where("resource_location_id", "=", filter.resourceLocationId);
    return (await query.orderBy("created_at").orderBy("id").execute()).map(toRecord);
  }

  async countForLocation(customerId: string, locationId: string): Promise<number> {
    const row = await this.db
      .selectFrom("connectors")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("customer_id", "=", customerId)
      .where("resource_location_id", "=", locationId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async delete(customerId: string, id: string): Promise<void> {
    const result = await this.db
      .deleteFrom("connectors")
      .where("customer_id", "=", customerId)
      .where("id", "=", id)
      .executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw connectorNotFound(id);
  }
}

export function connectorNotFound(id: string): EngineError {
  return new EngineError(
    "CONNECTOR_NOT_FOUND",
    `Connector '${id}' does not exist (or was deregistered). List connectors with GET /ips/connectors.`,
  );
}

function toRecord(row: Selectable<ConnectorsTable>): ConnectorRecord {
  const record: ConnectorRecord = {
    customerId: row.customer_id,
    id: row.id,
    name: row.name,
    resourceLocationId: row.resource_location_id,
    embedded: row.embedded === 1,
    maxConcurrentJobs: row.max_concurrent_jobs,
    registered: row.registered_at !== null,
    createdAt: row.created_at,
  };
  if (row.registration_expires_at) record.registrationExpiresAt = row.registration_expires_at;
  if (row.registered_at) record.registeredAt = row.registered_at;
  if (row.last_heartbeat_at) record.lastHeartbeatAt = row.last_heartbeat_at;
  if (row.version) record.version = row.version;
  if (row.hostname) record.hostname = row.hostname;
  return record;
}
