import { Kysely, PostgresDialect, sql } from "kysely";
import { Pool, types as pgTypes } from "pg";
import { EngineError } from "../errors";

// The PostgreSQL side of openDatabase: URL checks, the pool, and connection errors that name
// the server without ever repeating its password.

/** Connections per engine: the API and job runners are I/O-bound and short; PG's default limit is 100. */
const POOL_SIZE = 10;
/** An unreachable host (dropped packets) fails within this instead of hanging the start. */
const CONNECT_TIMEOUT_MS = 10_000;

const INT8_OID = 20;

/** True for the URLs openDatabase hands to PostgreSQL. */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/**
 * The URL with its password removed (userinfo and `?password=`), for messages and logs.
 * An unparseable URL is not echoed at all: there is no telling where its password is.
 */
export function redactDatabaseUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "(an unparseable URL)";
  }
  const user = parsed.username ? `${parsed.username}@` : "";
  const params = [...parsed.searchParams.entries()]
    .map(([k, v]) => `${k}=${k.toLowerCase() === "password" ? "***" : v}`)
    .join("&");
  return `${parsed.protocol}//${user}${parsed.host}${parsed.pathname}${params ? `?${params}` : ""}`;
}

/** A Kysely instance on a pg Pool. Connects lazily: call checkConnection to fail early. */
export function createPostgresKysely<DB>(url: string): Kysely<DB> {
  requireValidUrl(url);
  const pool = new Pool({
    connectionString: url,
    max: POOL_SIZE,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    application_name: "imageportd",
    types: { getTypeParser: typeParser as typeof pgTypes.getTypeParser },
  });
  // An idle connection dropped by the server (restart, admin kill) is emitted here; without a
  // listener the 'error' event would crash the engine. The pool discards it and reconnects.
  pool.on("error", () => undefined);
  return new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
}

/** Runs a trivial query so a wrong URL, password or database fails the start with a clear message. */
export async function checkConnection(db: Kysely<any>, url: string): Promise<void> {
  try {
    await sql`select 1`.execute(db);
  } catch (err) {
    throw connectionFailed(url, err);
  }
}

/** True when the URL carries a password (in its userinfo or a `password=` parameter). */
export function urlHasPassword(url: string): boolean {
  return passwordsOf(url).length > 0;
}

/** Makes any error thrown by pg safe to show: the message never contains the URL's password. */
export function scrubPassword(url: string, text: string): string {
  let out = text;
  for (const secret of passwordsOf(url)) out = out.split(secret).join("***");
  return out;
}

function requireValidUrl(url: string): void {
  try {
    new URL(url);
  } catch {
    throw new EngineError(
      "INTERNAL",
      `The database URL is not a valid URL, so the engine cannot connect to PostgreSQL. ` +
        `Use postgres://user:password@host:5432/database (percent-encode special characters in the password) ` +
        `in IMAGEPORT_DATABASE_URL or --database.`,
    );
  }
}

function connectionFailed(url: string, err: unknown): EngineError {
  const e = err as { code?: string; message?: string };
  const reason = scrubPassword(url, e.message || String(err));
  const hint = HINTS[e.code ?? ""] ?? DEFAULT_HINT;
  // The pg error itself holds no password, but it is replaced by a scrubbed copy all the same in
  // case a future driver version echoes its connection settings.
  const cause = new Error(reason);
  return new EngineError(
    "INTERNAL",
    `Cannot connect to PostgreSQL at ${redactDatabaseUrl(url)}: ${reason}. ${hint} The engine did not start.`,
    undefined,
    { cause: Object.assign(cause, { code: e.code }) },
  );
}

const AUTH_HINT =
  "Check the user name and password in the database URL (IMAGEPORT_DATABASE_URL or --database) " +
  "and the server's pg_hba.conf.";
const UNREACHABLE_HINT =
  "Check that PostgreSQL is running and listening on that host and port, and that no firewall is in the way.";
const DEFAULT_HINT = "Check the database URL (IMAGEPORT_DATABASE_URL or --database) and the server's log.";
const HINTS: Record<string, string> = {
  "28P01": AUTH_HINT, // invalid_password
  "28000": AUTH_HINT, // invalid_authorization_specification (no pg_hba.conf entry)
  "3D000": "Create the database first (createdb <name>) or fix its name in the URL.",
  ECONNREFUSED: UNREACHABLE_HINT,
  ENOTFOUND: "Check the host name in the database URL.",
  EAI_AGAIN: "Check the host name in the database URL and the machine's DNS.",
  ETIMEDOUT: UNREACHABLE_HINT,
  EHOSTUNREACH: UNREACHABLE_HINT,
};

function passwordsOf(url: string): string[] {
  const found = new Set<string>();
  try {
    const parsed = new URL(url);
    for (const raw of [parsed.password, parsed.searchParams.get("password") ?? ""]) {
      if (!raw) continue;
      found.add(raw);
      try {
        found.add(decodeURIComponent(raw));
      } catch {
        // not percent-encoded validly: the raw form is enough
      }
    }
  } catch {
    // requireValidUrl reports unparseable URLs
  }
  return [...found].filter((s) => s.length > 0);
}

/**
 * bigint (int8) columns come back as numbers, as they do from SQLite, instead of pg's default
 * strings. Values beyond 2^53 would lose digits, so they fail loudly instead.
 */
function typeParser(oid: number, format?: string): (value: string) => unknown {
  if (oid === INT8_OID && format !== "binary") {
    return (value: string) => {
      const n = Number(value);
      if (!Number.isSafeInteger(n)) throw new RangeError(`bigint value ${value} does not fit in a JS number`);
      return n;
    };
  }
  return (pgTypes.getTypeParser as (oid: number, format?: string) => (value: string) => unknown)(oid, format);
}
