import { AxiosInstance } from "axios";
import { ApiError } from "./errors";
import { createHttp } from "./http";
import { TrustOptions } from "./tls-trust";

/** What a connector receives once for its one-time registration code. */
export interface ConnectorRegistration {
  connectorId: string;
  customerId: string;
  resourceLocationId: string;
  clientId: string;
  clientSecret: string;
}

/**
 * Trades a one-time code for the connector's API client (`POST /ips/connectors/$register`).
 * Unauthenticated: the code is the credential. Not retried: a code works once.
 */
export async function registerConnector(
  endpoint: string,
  registrationCode: string,
  meta: { version?: string; hostname?: string },
  tls?: TrustOptions,
): Promise<ConnectorRegistration> {
  const { http } = createHttp({ endpoint, credentials: { customerId: "-", clientId: "-", clientSecret: "-" }, retries: 0, tls });
  const res = await http.post<ConnectorRegistration>("/ips/connectors/$register", { registrationCode, ...meta }, { skipAuth: true });
  return res.data;
}

/**
 * The connector side of the work protocol, over HTTP with the connector's own client: claim
 * the next job, report on it, heartbeat. Job and report bodies pass through unchanged.
 */
export class ConnectorApi {
  private readonly http: AxiosInstance;

  constructor(
    endpoint: string,
    private readonly registration: ConnectorRegistration,
    tls?: TrustOptions,
  ) {
    this.http = createHttp({
      endpoint,
      tls,
      credentials: { customerId: registration.customerId, clientId: registration.clientId, clientSecret: registration.clientSecret },
      userAgent: "imageport-connector",
    }).http;
  }

  get connectorId(): string {
    return this.registration.connectorId;
  }

  /** The next job with the credentials it needs, or undefined when there is none. */
  async claim<Work>(): Promise<Work | undefined> {
    const res = await this.http.post<Work>(`/ips/connectors/${this.connectorId}/$claim`, {});
    return res.status === 204 ? undefined : res.data;
  }

  /** undefined when the engine says this connector no longer holds the job. */
  async report(jobId: string, report: object): Promise<{ cancelRequested: boolean } | undefined> {
    try {
      const res = await this.http.post<{ cancelRequested: boolean }>(`/ips/jobs/${encodeURIComponent(jobId)}/$report`, report);
      return res.data;
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) return undefined;
      throw err;
    }
  }

  async heartbeat(runningJobIds: string[]): Promise<string[]> {
    const res = await this.http.post<{ stopJobIds: string[] }>(`/ips/connectors/${this.connectorId}/$heartbeat`, { runningJobIds });
    return res.data.stopJobIds;
  }
}

