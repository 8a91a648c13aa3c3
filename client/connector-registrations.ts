import { AxiosInstance } from "axios";
import { ApiError } from "./errors";

export const CONNECTOR_STATUSES = ["HEALTHY", "UNHEALTHY"] as const;
export type ConnectorStatus = (typeof CONNECTOR_STATUSES)[number];

/** A connector as `/ips/connectors` shows it to users (never its code or its client secret). */
export interface ConnectorView {
  id: string;
  name: string;
  resourceLocationId: string;
  /** HEALTHY while the connector heartbeats (within the last 15 s on imageportd). */
  status: ConnectorStatus;
  /** The engine's own in-process connector. */
  embedded: boolean;
  /** The registration code was used: a connector process holds this registration. */
  registered: boolean;
  maxConcurrentJobs: number;
  lastHeartbeatAt?: string;
  registeredAt?: string;
  /** Until when the registration code works; absent once it was used. */
  registrationExpiresAt?: string;
  version?: string;
  hostname?: string;
  createdAt: string;
}

export interface NewConnectorRegistration {
  name: string;
  resourceLocationId: string;
  maxConcurrentJobs?: number;
}

/** A new registration and its one-time code (valid for an hour; shown only in this answer). */
export interface CreatedConnectorRegistration {
  connector: ConnectorView;
  registrationCode: string;
}

/**
 * Connector registrations, the user's side of `/ips/connectors`. The connector's own side
 * (register with the code, claim, report, heartbeat) is in connectors.ts.
 */
export class ConnectorRegistrationsApi {
  constructor(private readonly http: AxiosInstance) {}

  /** Not retried on failure (POST): a lost answer leaves a registration whose code nobody has. */
  async create(body: NewConnectorRegistration): Promise<CreatedConnectorRegistration> {
    const { registrationCode, ...connector } = (await this.http.post("/ips/connectors", body)).data;
    return { connector: connector as ConnectorView, registrationCode };
  }

  /** The connector, or undefined when there is none with this id. */
  async get(id: string): Promise<ConnectorView | undefined> {
    try {
      return (await this.http.get(path(id))).data;
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return undefined;
      throw e;
    }
  }

  async list(filter: { resourceLocationId?: string } = {}): Promise<ConnectorView[]> {
    const params = filter.resourceLocationId ? { resourceLocationId: filter.resourceLocationId } : {};
    return (await this.http.get("/ips/connectors", { params })).data.items;
  }

  /** Removes the registration (its connector stops working); true if it existed. */
  async delete(id: string): Promise<boolean> {
    try {
      await this.http.delete(path(id));
      return true;
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return false;
      throw e;
    }
  }
}

function path(id: string): string {
  return `/ips/connectors/${encodeURIComponent(id)}`;
}
