import SqliteDatabase from "better-sqlite3";
import { Kysely, Migrator, SqliteDialect } from "kysely";
import { closeSync, openSync } from "node:fs";
import { join } from "node:path";
import { EngineError } from "../errors";
import { migrationProvider } from "./migrations";
import { checkConnection, createPostgresKysely, isPostgresUrl, redactDatabaseUrl, scrubPassword } from "./postgres";
import { Database } from "./schema";

export { dialectOf } from "./dialect";
export type { DialectName } from "./dialect";

export const DB_FILE = "imageport.db";

export interface DatabaseOptions {
  /**
   * A postgres:// or postgresql:// URL: the store lives in that PostgreSQL database instead of
   * <dataDir>/imageport.db. Unset (or empty): SQLite.
   */
  databaseUrl?: string;
}

/**
 * Opens the engine's database and brings its schema up to date: <dataDir>/imageport.db (created
 * if needed), or the PostgreSQL database named by `databaseUrl`. Several engines may start on one
 * PostgreSQL database at once: Kysely's migrator serializes them with an advisory lock.
 */
export async function openDatabase(dataDir: string, options: DatabaseOptions = {}): Promise<Kysely<Database>> {
  const url = options.databaseUrl?.trim();
  if (!url) return migrate(openSqlite(dataDir), join(dataDir, DB_FILE));
  if (!isPostgresUrl(url)) {
    throw new EngineError(
      "INTERNAL",
      `The database URL ${redactDatabaseUrl(url)} is not a PostgreSQL URL. Use postgres://user:password@host:5432/database, ` +
        `or leave IMAGEPORT_DATABASE_URL / --database unset to use ${join(dataDir, DB_FILE)}.`,
    );
  }
  const db = createPostgresKysely<Database>(url);
  try {
    await checkConnection(db, url);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return migrate(db, `PostgreSQL database ${redactDatabaseUrl(url)}`, url);
}

function openSqlite(dataDir: string): Kysely<Database> {
  const file = join(dataDir, DB_FILE);
  // Create the file owner-only before SQLite does; its -wal and -shm files inherit this mode.
  closeSync(openSync(file, "a", 0o600));
  const sqlite = new SqliteDatabase(file);
  sqlite.pragma("journal_mode = WAL"); // readers never block the writer
  sqlite.pragma("busy_timeout = 5000"); // a CLI reading the same file waits instead of failing
  return new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
}

async function migrate(db: Kysely<Database>, where: string, url?: string): Promise<Kysely<Database>> {
  const { error, results } = await new Migrator({ db, provider: migrationProvider }).migrateToLatest();
  if (!error) return db;
  await db.destroy();
  const failed = results?.find((r) => r.status === "Error")?.migrationName ?? "unknown";
  const reason = url ? scrubPassword(url, String(error)) : String(error);
  const backup = url ? "the database" : "the data directory";
  throw new EngineError(
    "INTERNAL",
    `Database migration ${failed} failed in ${where}: ${reason}. The engine did not start; ` +
      `restore a backup of ${backup} or report this error.`,
    undefined,
    { cause: url ? new Error(reason) : error },
  );
}
