import { Kysely, Selectable } from "kysely";
import { CredentialAlreadyExistsError, CredentialNotFoundError, secretUndecryptable } from "../errors";
import { SecretBox } from "../secrets/secret-box";
import { CredentialsTable, Database } from "./schema";

export type Fields = Record<string, string>;

export interface CredentialInput {
  id: string;
  type: string;
  name?: string;
  /** Shown in every view (username, accessKeyId, ...). */
  publicFields: Fields;
  /** Write-only: stored encrypted, returned only by getSecret. */
  secretFields: Fields;
}

/** A stored credential without its secret. */
export interface CredentialRecord {
  id: string;
  type: string;
  name?: string;
  publicFields: Fields;
  createdAt: string;
  updatedAt: string;
}

/** Credentials of one customer at a time. Kept to plain Kysely queries so PostgreSQL can follow. */
export interface CredentialStore {
  /** @throws CredentialAlreadyExistsError */
  create(customerId: string, input: CredentialInput): Promise<CredentialRecord>;
  /** @throws CredentialNotFoundError */
  get(customerId: string, id: string): Promise<CredentialRecord>;
  /** Sorted by id. */
  list(customerId: string, filter?: { type?: string }): Promise<CredentialRecord[]>;
  /** Full replacement of name and fields; the type never changes. @throws CredentialNotFoundError */
  update(customerId: string, input: CredentialInput): Promise<CredentialRecord>;
  /** @throws CredentialNotFoundError */
  delete(customerId: string, id: string): Promise<void>;
  /** The decrypted secret fields, for the engine's own use (job runners). Never exposed over HTTP. */
  getSecret(customerId: string, id: string): Promise<Fields>;
}

export class KyselyCredentialStore implements CredentialStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly box: SecretBox,
  ) {}

  async create(customerId: string, input: CredentialInput): Promise<CredentialRecord> {
    const now = new Date().toISOString();
    const sealed = this.seal(customerId, input);
    // ON CONFLICT DO NOTHING + row count detects duplicates the same way on SQLite and PostgreSQL.
    const result = await this.db
      .insertInto("credentials")
      .values({
        customer_id: customerId,
        id: input.id,
        type: input.type,
        name: input.name ?? null,
        public_fields: JSON.stringify(input.publicFields),
        secret_iv: sealed.iv,
        secret_tag: sealed.tag,
        secret_ciphertext: sealed.ciphertext,
        created_at: now,
        updated_at: now,
      })
      .onConflict((oc) => oc.columns(["customer_id", "id"]).doNothing())
      .executeTakeFirst();
    if (Number(result.numInsertedOrUpdatedRows ?? 0) === 0) throw new CredentialAlreadyExistsError(input.id);
    return this.get(customerId, input.id);
  }

  async get(customerId: string, id: string): Promise<CredentialRecord> {
    return toRecord(await this.row(customerId, id));
  }

  async list(customerId: string, filter: { type?: string } = {}): Promise<CredentialRecord[]> {
    let query = this.db.selectFrom("credentials").selectAll().where("customer_id", "=", customerId);
    if (filter.type !== undefined) query = query.where("type", "=", filter.type);
    // PostgreSQL will need COLLATE "C" here so both stores sort ids byte-wise alike.
    const rows = await query.orderBy("id").execute();
    return rows.map(toRecord);
  }

  async update(customerId: string, input: CredentialInput): Promise<CredentialRecord> {
    const sealed = this.seal(customerId, input);
    await this.db.transaction().execute(async (trx) => {
      const current = await trx
        .selectFrom("credentials")
        .select("updated_at")
        .where("customer_id", "=", customerId)
        .where("id", "=", input.id)
        .executeTakeFirst();
      if (!current) throw new CredentialNotFoundError(input.id);
      // Strictly later than the previous value even within one millisecond, so clients can
      // rely on updatedAt advancing on every update.
      const updatedAt = new Date(Math.max(Date.now(), Date.parse(current.updated_at) + 1)).toISOString();
      await trx
        .updateTable("credentials")
        .set({
          name: input.name ?? null,
          public_fields: JSON.stringify(input.publicFields),
          secret_iv: sealed.iv,
          secret_tag: sealed.tag,
          secret_ciphertext: sealed.ciphertext,
          updated_at: updatedAt,
        })
        .where("customer_id", "=", customerId)
        .where("id", "=", input.id)
        .execute();
    });
    return this.get(customerId, input.id);
  }

  async delete(customerId: string, id: string): Promise<void> {
    const result = await this.db
      .deleteFrom("credentials")
      .where("customer_id", "=", customerId)
      .where("id", "=", id)
      .executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw new CredentialNotFoundError(id);
  }

  async getSecret(customerId: string, id: string): Promise<Fields> {
    const row = await this.row(customerId, id);
    try {
      const plaintext = this.box.open(
        { iv: row.secret_iv, tag: row.secret_tag, ciphertext: row.secret_ciphertext },
        aad(customerId, id),
      );
      return JSON.parse(plaintext.toString("utf8")) as Fields;
    } catch (err) {
      throw secretUndecryptable(`credential '${id}'`, err);
    }
  }

  private seal(customerId: string, input: CredentialInput) {
    return this.box.seal(JSON.stringify(input.secretFields), aad(customerId, input.id));
  }

  private async row(customerId: string, id: string): Promise<Selectable<CredentialsTable>> {
    const row = await this.db
      .selectFrom("credentials")
      .selectAll()
      .where("customer_id", "=", customerId)
      .where("id", "=", id)
      .executeTakeFirst();
    if (!row) throw new CredentialNotFoundError(id);
    return row;
  }
}

/** Binds each ciphertext to its row: copying it into another credential makes it undecryptable. */
function aad(customerId: string, id: string): string {
  return `credential:${customerId}:${id}`;
}

function toRecord(row: Selectable<CredentialsTable>): CredentialRecord {
  const record: CredentialRecord = {
    id: row.id,
    type: row.type,
    publicFields: JSON.parse(row.public_fields) as Fields,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
  if (row.name !== null) record.name = row.name;
  return record;
}
