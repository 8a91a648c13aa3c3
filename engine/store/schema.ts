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
}
