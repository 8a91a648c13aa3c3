import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Kysely } from "kysely";
import { openDatabase } from "../../engine/store/database";
import { DialectName } from "../../engine/store/dialect";
import { Database } from "../../engine/store/schema";
import { PostgresServer, usePostgres } from "./postgres";

// Runs one store test body on every backend the engine supports, with identical assertions:
//
//   forEachBackend("credential store", (backend) => {
//     it("...", async () => { const db = await (await backend.fresh()).open(); ... });
//   });

/** A fresh, empty store for one test. Its data dir and open databases are cleaned up after the test. */
export interface StoreTarget {
  /** A new temporary data dir (master key, client.json; the SQLite file too on SQLite). */
  dataDir: string;
  /** Set on PostgreSQL: a new, empty database. Pass it to openDatabase/createEngine. */
  databaseUrl?: string;
  /** openDatabase(dataDir, { databaseUrl }); closed after the test if the test did not. */
  open(): Promise<Kysely<Database>>;
}

export interface Backend {
  /** "SQLite" or "PostgreSQL", for messages. */
  readonly title: string;
  readonly dialect: DialectName;
  fresh(): Promise<StoreTarget>;
  /** The PostgreSQL server of this describe block; throws on SQLite. */
  readonly postgres: PostgresServer;
}

/** `describe(title (SQLite))` and `describe(title (PostgreSQL))`, each running `body`. */
export function forEachBackend(title: string, body: (backend: Backend) => void): void {
  describe(`${title} (SQLite)`, function () {
    this.timeout(30_000);
    body(backendFor("sqlite", undefined));
  });
  describe(`${title} (PostgreSQL)`, function () {
    this.timeout(30_000);
    const pg = usePostgres();
    body(backendFor("postgres", pg));
  });
}

function backendFor(dialect: DialectName, pg: ReturnType<typeof usePostgres> | undefined): Backend {
  let dirs: string[] = [];
  let opened: Kysely<Database>[] = [];
  afterEach(async () => {
    await Promise.all(opened.map((db) => db.destroy())); // destroy is idempotent
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    dirs = [];
    opened = [];
  });
  return {
    title: dialect === "postgres" ? "PostgreSQL" : "SQLite",
    dialect,
    get postgres(): PostgresServer {
      if (!pg) throw new Error("this backend is SQLite: there is no PostgreSQL server");
      return pg.server;
    },
    async fresh() {
      const dataDir = mkdtempSync(join(tmpdir(), "imageport-store-test-"));
      dirs.push(dataDir);
      const databaseUrl = pg ? await pg.newDatabase() : undefined;
      return {
        dataDir,
        databaseUrl,
        async open() {
          const db = await openDatabase(dataDir, { databaseUrl });
          opened.push(db);
          return db;
        },
      };
    },
  };
}
