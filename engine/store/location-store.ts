import { Kysely, Selectable } from "kysely";
import { EngineError } from "../errors";
import { Database, ResourceLocationsTable } from "./schema";

export interface ResourceLocation {
  id: string;
  name: string;
  /** Jobs of this location that may run at once, across all its connectors. */
  maxConcurrentJobs: number;
  createdAt: string;
  updatedAt: string;
}

export interface NewLocation {
  id: string;
  name: string;
  maxConcurrentJobs: number;
}

/** The location the engine creates for itself: its in-process connector runs these jobs. */
export const LOCAL_LOCATION_ID = "local";

export class LocationStore {
  constructor(private readonly db: Kysely<Database>) {}

  /** Creates the location unless it exists (the built-in `local` one, at every start). */
  async ensure(customerId: string, location: NewLocation): Promise<void> {
    await this.insert(customerId, location);
  }

  async create(customerId: string, location: NewLocation): Promise<ResourceLocation> {
    if (!(await this.insert(customerId, location))) {
      throw new EngineError(
        "RESOURCE_LOCATION_ALREADY_EXISTS",
        `Resource location '${location.id}' already exists. Change it with PUT /ips/resourceLocations/${location.id}, or choose another id.`,
      );
    }
    return this.get(customerId, location.id);
  }

  /** Inserts unless the id exists; true when it inserted. */
  private async insert(customerId: string, location: NewLocation): Promise<boolean> {
    const now = new Date().toISOString();
    const result = await this.db
      .insertInto("resource_locations")
      .values({
        customer_id: customerId,
        id: location.id,
        name: location.name,
        max_concurrent_jobs: location.maxConcurrentJobs,
        created_at: now,
        updated_at: now,
      })
      .onConflict((oc) => oc.columns(["customer_id", "id"]).doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async find(customerId: string, id: string): Promise<ResourceLocation | undefined> {
    const row = await this.db
      .selectFrom("resource_locations")
      .selectAll()
      .where("customer_id", "=", customerId)
      .where("id", "=", id)
      .executeTakeFirst();
    return row && toLocation(row);
  }

  async get(customerId: string, id: string): Promise<ResourceLocation> {
    const found = await this.find(customerId, id);
    if (!found) throw locationNotFound(id);
    return found;
  }

  async list(customerId: string): Promise<ResourceLocation[]> {
    const rows = await this.db
      .selectFrom("resource_locations")
      .selectAll()
      .where("customer_id", "=", customerId)
      .orderBy("id")
      .execute();
    return rows.map(toLocation);
  }

  async update(customerId: string, id: string, change: { name: string; maxConcurrentJobs: number }): Promise<ResourceLocation> {
    const result = await this.db
      .updateTable("resource_locations")
      .set({ name: change.name, max_concurrent_jobs: change.maxConcurrentJobs, updated_at: new Date().toISOString() })
      .where("customer_id", "=", customerId)
      .where("id", "=", id)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) throw locationNotFound(id);
    return this.get(customerId, id);
  }

  async delete(customerId: string, id: string): Promise<void> {
    const result = await this.db
      .deleteFrom("resource_locations")
      .where("customer_id", "=", customerId)
      .where("id", "=", id)
      .executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw locationNotFound(id);
  }
}

export function locationNotFound(id: string): EngineError {
  return new EngineError(
    "RESOURCE_LOCATION_NOT_FOUND",
    `Resource location '${id}' does not exist. List them with GET /ips/resourceLocations; the engine's own is '${LOCAL_LOCATION_ID}'.`,
  );
}

function toLocation(row: Selectable<ResourceLocationsTable>): ResourceLocation {
  return {
    id: row.id,
    name: row.name,
    maxConcurrentJobs: row.max_concurrent_jobs,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
