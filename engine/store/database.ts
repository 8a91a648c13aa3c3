import SqliteDatabase from "better-sqlite3";
import { Kysely, Migrator, SqliteDialect } from "kysely";
import { closeSync, openSync } from "node:fs";
import { join } from "node:path";
import { EngineError } from "../errors";
import { migrationProvider } from "./migrations";
import { Database } from "./schema";

export const DB_FILE = "imageport.db";

/** Opens (creating if needed) <dataDir>/imageport.db and brings its schema up to date. */
export async function openDatabase(dataDir: string): Promise<Kysely<Database>> {
  const file = join(dataDir, DB_FILE);
  // Create the file owner-only before SQLite does; its -wal and -shm files inherit this mode.
  closeSync(openSync(file, "a", 0o600));
  const sqlite = new SqliteDatabase(file);
  sqlite.pragma("journal_mode = WAL"); // readers never block the writer
  sqlite.pragma("busy_timeout = 5000"); // a CLI reading the same file waits instead of failing
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });

  const { error, results } = await new Migrator({ db, provider: migrationProvider }).migrateToLatest();
  if (error) {
    await db.destroy();
    const failed = results?.find((r) => r.status === "Error")?.migrationName ?? "unknown";
    throw new EngineError(
      "INTERNAL",
      500,
      `Database migration ${failed} failed in ${file}: ${String(error)}. The engine did not start; ` +
        `restore a backup of the data directory or report this error.`,
      undefined,
      { cause: error },
    );
  }
  return db;
}
