// Kysely table types. Timestamps are ISO-8601 UTC text so SQLite and PostgreSQL read the same.

export interface CredentialsTable {
  customer_id: string;
  id: string;
  type: string;
  name: string | null;
  /** JSON object of the non-secret fields shown in the credential view. */
  public_fields: string;
  /** AES-256-GCM parts of the JSON of the secret fields; the plaintext is never stored. */
  secret_iv: Buffer;
  secret_tag: Buffer;
  secret_ciphertext: Buffer;
  created_at: string;
  updated_at: string;
}

export interface ApiClientsTable {
  client_id: string;
  customer_id: string;
  /** See auth/client-secret.ts; the secret itself is never stored. */
  secret_hash: string;
  created_at: string;
  /** "user" (the whole API) or "connector" (connector routes only, for connector_id). */
  role: string;
  connector_id: string | null;
}

export interface ResourceLocationsTable {
  customer_id: string;
  id: string;
  name: string;
  max_concurrent_jobs: number;
  created_at: string;
  updated_at: string;
}

export interface ConnectorsTable {
  customer_id: string;
  id: string;
  name: string;
  resource_location_id: string;
  /** 1 for the engine's own in-process connector. */
  embedded: number;
  max_concurrent_jobs: number;
  registration_code_hash: string | null;
  registration_expires_at: string | null;
  registered_at: string | null;
  last_heartbeat_at: string | null;
  version: string | null;
  hostname: string | null;
  created_at: string;
}

export interface JobsTable {
  customer_id: string;
  id: string;
  type: string;
  status: string;
  resource_location_id: string;
  /** JSON: the request body as accepted. Holds credential ids, never secrets. */
  parameters: string;
  progress: number;
  /** JSON arrays. */
  steps: string;
  warnings: string;
  error_code: string | null;
  error_message: string | null;
  /** JSON object of the job's outputs. */
  artifacts: string;
  timeout_seconds: number;
  connector_id: string | null;
  attempt: number;
  /** While inProgress: the connector must report before this time or the job is taken back. */
  lease_expires_at: string | null;
  cancel_requested: number;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  finished_at: string | null;
  /** Idempotency: at most one job per customer holds a given token (released when it fails, or its outputs are gone). */
  client_token: string | null;
}

/** Small engine-wide facts, e.g. the master-key check value. */
export interface MetaTable {
  key: string;
  value: string;
}

export interface Database {
  credentials: CredentialsTable;
  api_clients: ApiClientsTable;
  meta: MetaTable;
  resource_locations: ResourceLocationsTable;
  connectors: ConnectorsTable;
  jobs: JobsTable;
}
