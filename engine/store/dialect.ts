import { ColumnDataType, Expression, Kysely, PostgresIntrospector, sql } from "kysely";

/** What `addColumn` accepts as a type. */
export type ColumnType = ColumnDataType | Expression<unknown>;

/** The SQL dialects the store runs on. */
export type DialectName = "sqlite" | "postgres";

/**
 * Which database `db` (or a transaction of it) talks to, for the few queries that differ,
 * e.g. `FOR UPDATE SKIP LOCKED`, which only PostgreSQL has.
 */
export function dialectOf(db: Kysely<any>): DialectName {
  // Public API only: each dialect brings its own introspector (this also works inside transactions).
  return db.introspection instanceof PostgresIntrospector ? "postgres" : "sqlite";
}

/** Column types that are spelled differently per dialect. */
export interface ColumnTypes {
  /** Bytes: `blob` on SQLite, `bytea` on PostgreSQL. Read back as a Buffer on both. */
  binary: ColumnType;
  /**
   * Text that is compared and sorted byte-wise on both, for ids and keys. SQLite compares text
   * byte-wise already; PostgreSQL would use the database's locale (where "_" < "a" < "B").
   */
  key: ColumnType;
  /** Plain text. */
  text: ColumnType;
  /** 32-bit integer (booleans are 0/1 integers, as SQLite has no boolean type). */
  integer: ColumnType;
  /** 64-bit integer, read back as a JS number on both (sizes, offsets, epoch milliseconds). */
  bigint: ColumnType;
}

const SQLITE_TYPES: ColumnTypes = { binary: "blob", key: "text", text: "text", integer: "integer", bigint: "bigint" };
const POSTGRES_TYPES: ColumnTypes = {
  binary: "bytea",
  key: sql`text collate "C"`,
  text: "text",
  integer: "integer",
  bigint: "bigint",
};

/** For migrations: `.addColumn("data", columnTypes(db).binary, ...)` works on both dialects. */
export function columnTypes(db: Kysely<any>): ColumnTypes {
  return dialectOf(db) === "postgres" ? POSTGRES_TYPES : SQLITE_TYPES;
}
