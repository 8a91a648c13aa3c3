import { AxiosInstance } from "axios";
import { ApiError } from "./errors";

export const CREDENTIAL_TYPES = ["UsernamePassword", "Aws", "Azure", "Gcp"] as const;
export type CredentialType = (typeof CREDENTIAL_TYPES)[number];

/** Fields of each credential type; `secret` ones are write-only on the wire. */
export const CREDENTIAL_FIELDS: Record<CredentialType, { required: string[]; optional: string[]; secret: string[] }> = {
  UsernamePassword: { required: ["username", "password"], optional: ["domain"], secret: ["password"] },
  Aws: { required: ["accessKeyId", "secretAccessKey"], optional: ["sessionToken"], secret: ["secretAccessKey", "sessionToken"] },
  Azure: { required: ["tenantId", "clientId", "clientSecret"], optional: [], secret: ["clientSecret"] },
  Gcp: { required: ["serviceAccountKey"], optional: [], secret: ["serviceAccountKey"] },
};

/** What the API returns for a credential: metadata and non-secret fields only. */
export interface CredentialView {
  id: string;
  type: CredentialType;
  name?: string;
  state: string;
  createdAt: string;
  updatedAt: string;
  username?: string;
  domain?: string;
  accessKeyId?: string;
  tenantId?: string;
  clientId?: string;
  clientEmail?: string;
  projectId?: string;
}

/** A credential as written: its type's fields, secrets included. */
export type CredentialBody = { type: CredentialType; name?: string } & Record<string, string | undefined>;

/** The credential wallet: `/ips/credentials`. */
export class CredentialsApi {
  constructor(private readonly http: AxiosInstance) {}

  async create(id: string, body: CredentialBody): Promise<CredentialView> {
    return (await this.http.post("/ips/credentials", { id, ...body })).data;
  }

  /** The credential, or undefined when there is none with this id. */
  async get(id: string): Promise<CredentialView | undefined> {
    try {
      return (await this.http.get(`/ips/credentials/${encodeURIComponent(id)}`)).data;
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return undefined;
      throw e;
    }
  }

  async list(type?: CredentialType): Promise<CredentialView[]> {
    return (await this.http.get("/ips/credentials", { params: type ? { type } : {} })).data.items;
  }

  async update(id: string, body: CredentialBody): Promise<CredentialView> {
    return (await this.http.put(`/ips/credentials/${encodeURIComponent(id)}`, body)).data;
  }

  /** Deletes the credential; true if it existed. */
  /**
   * Whether these secret fields equal the ones the wallet holds; the secrets are never returned.
   * Undefined when the API has no such check (Citrix Cloud) or the credential does not exist.
   */
  async verify(id: string, secrets: Record<string, string>): Promise<boolean | undefined> {
    try {
      return (await this.http.post(`/ips/credentials/${encodeURIComponent(id)}/$verify`, secrets)).data.matches === true;
    } catch (e) {
      if (e instanceof ApiError && (e.status === 404 || e.status === 405)) return undefined;
      throw e;
    }
  }

  async delete(id: string): Promise<boolean> {
    try {
      await this.http.delete(`/ips/credentials/${encodeURIComponent(id)}`);
      return true;
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return false;
      throw e;
    }
  }
}
