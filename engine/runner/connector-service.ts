import { createHash, randomBytes, randomUUID } from "node:crypto";
import { hashClientSecret, generateClientSecret } from "../auth/client-secret";
import { TokenIssuer } from "../auth/tokens";
import { EngineError, ValidationFailedError } from "../errors";
import { ApiClientStore } from "../store/api-client-store";
import { ConnectorRecord, ConnectorStore } from "../store/connector-store";
import { JobStore } from "../store/job-store";
import { LOCAL_LOCATION_ID, LocationStore } from "../store/location-store";
import { HEALTHY_WITHIN_MS } from "./work";

/** How long a registration code may wait to be used. */
export const REGISTRATION_CODE_TTL_MS = 60 * 60 * 1000;

export interface ConnectorView {
  id: string;
  name: string;
  resourceLocationId: string;
  status: "HEALTHY" | "UNHEALTHY";
  embedded: boolean;
  registered: boolean;
  maxConcurrentJobs: number;
  lastHeartbeatAt?: string;
  registeredAt?: string;
  registrationExpiresAt?: string;
  version?: string;
  hostname?: string;
  createdAt: string;
}

/** What a connector gets once for its one-time code: its own API client. */
export interface Registration {
  connectorId: string;
  customerId: string;
  resourceLocationId: string;
  clientId: string;
  clientSecret: string;
}

export class ConnectorService {
  constructor(
    private readonly deps: {
      connectors: ConnectorStore;
      locations: LocationStore;
      clients: ApiClientStore;
      jobs: JobStore;
      tokens: TokenIssuer;
    },
  ) {}

  /** A connector slot for a location, with a one-time code (shown only in this answer). */
  async create(
    customerId: string,
    input: { name: string; resourceLocationId: string; maxConcurrentJobs?: number },
  ): Promise<{ connector: ConnectorView; registrationCode: string }> {
    if (input.resourceLocationId === LOCAL_LOCATION_ID) {
      throw new ValidationFailedError([
        { field: "resourceLocationId", message: `cannot be '${LOCAL_LOCATION_ID}': the engine's own connector serves it; create a resource location for the connector first` },
      ]);
    }
    if (!(await this.deps.locations.find(customerId, input.resourceLocationId))) {
      throw new ValidationFailedError([
        { field: "resourceLocationId", message: `names '${input.resourceLocationId}', which does not exist; create it with POST /ips/resourceLocations` },
      ]);
    }
    const registrationCode = `ipr_${randomBytes(24).toString("base64url")}`;
    const record = await this.deps.connectors.create(customerId, {
      id: randomUUID(),
      name: input.name,
      resourceLocationId: input.resourceLocationId,
      embedded: false,
      maxConcurrentJobs: input.maxConcurrentJobs ?? 2,
      registrationCodeHash: hashCode(registrationCode),
      registrationExpiresAt: new Date(Date.now() + REGISTRATION_CODE_TTL_MS).toISOString(),
    });
    return { connector: toView(record), registrationCode };
  }

  /** Trades a one-time code for the connector's API client. */
  async register(code: string, meta: { version?: string; hostname?: string }): Promise<Registration> {
    const record = await this.deps.connectors.consumeCode(hashCode(code), meta);
    if (!record) {
      throw new EngineError(
        "REGISTRATION_CODE_INVALID",
        "The registration code is unknown, already used or expired (codes work once, within an hour). " +
          "Create a new one with POST /ips/connectors.",
      );
    }
    const clientSecret = generateClientSecret();
    const clientId = `connector-${record.id}`;
    await this.deps.clients.put({
      clientId,
      customerId: record.customerId,
      secretHash: await hashClientSecret(clientSecret),
      role: "connector",
      connectorId: record.id,
    });
    return { connectorId: record.id, customerId: record.customerId, resourceLocationId: record.resourceLocationId, clientId, clientSecret };
  }

  /** The embedded connector of the `local` location, created on first start. */
  async ensureEmbedded(customerId: string, slots: number): Promise<ConnectorRecord> {
    await this.deps.locations.ensure(customerId, { id: LOCAL_LOCATION_ID, name: "This engine's machine", maxConcurrentJobs: slots });
    return (
      (await this.deps.connectors.findEmbedded(customerId, LOCAL_LOCATION_ID)) ??
      (await this.deps.connectors.create(customerId, {
        id: randomUUID(),
        name: "embedded",
        resourceLocationId: LOCAL_LOCATION_ID,
        embedded: true,
        maxConcurrentJobs: slots,
      }))
    );
  }

  async get(customerId: string, id: string): Promise<ConnectorView> {
    return toView(await this.deps.connectors.get(customerId, id));
  }

  async list(customerId: string, filter: { resourceLocationId?: string }): Promise<ConnectorView[]> {
    return (await this.deps.connectors.list(customerId, filter)).map(toView);
  }

  /** Removes a connector: its client stops working and the jobs it ran are taken back. */
  async delete(customerId: string, id: string): Promise<void> {
    const record = await this.deps.connectors.get(customerId, id);
    if (record.embedded) {
      throw new ValidationFailedError([{ field: "id", message: "names the engine's own connector, which cannot be removed" }]);
    }
    await this.deps.clients.deleteForConnector(customerId, id);
    this.deps.tokens.revokeClient(`connector-${id}`);
    await this.deps.connectors.delete(customerId, id);
    await this.deps.jobs.takeBack(
      { connectorId: id },
      { code: "CONNECTOR_LOST", message: `Connector '${record.name}' was removed while it ran this job.` },
    );
  }
}

function hashCode(code: string): string {
  return createHash("sha256").update(code).digest("hex");
}

export function toView(record: ConnectorRecord): ConnectorView {
  const fresh = record.lastHeartbeatAt !== undefined && Date.now() - Date.parse(record.lastHeartbeatAt) < HEALTHY_WITHIN_MS;
  const view: ConnectorView = {
    id: record.id,
    name: record.name,
    resourceLocationId: record.resourceLocationId,
    status: fresh ? "HEALTHY" : "UNHEALTHY",
    embedded: record.embedded,
    registered: record.registered,
    maxConcurrentJobs: record.maxConcurrentJobs,
    createdAt: record.createdAt,
  };
  for (const key of ["lastHeartbeatAt", "registeredAt", "registrationExpiresAt", "version", "hostname"] as const) {
    if (record[key] !== undefined) view[key] = record[key];
  }
  return view;
}
