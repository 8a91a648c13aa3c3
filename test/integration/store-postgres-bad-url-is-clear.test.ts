import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { createEngine } from "../../engine";
import { EngineError } from "../../engine/errors";
import { openDatabase } from "../../engine/store/database";
import { makeDataDir } from "../helpers/engine-harness";
import { usePostgres } from "../helpers/postgres";

// A database URL that cannot be used stops the start with a message that names the server and
// the reason, and never the password.

const WRONG = `wrong-${randomBytes(8).toString("hex")}`;

/** Everything a user or a log could see of an error: message, stack and the causes'. */
function visible(err: unknown): string {
  const parts: string[] = [];
  for (let e = err as { message?: string; stack?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    parts.push(String(e.message), String(e.stack), JSON.stringify(e));
  }
  return parts.join("\n");
}

async function openError(url: string): Promise<EngineError> {
  try {
    const db = await openDatabase("/nonexistent-data-dir", { databaseUrl: url });
    await db.destroy();
  } catch (err) {
    assert.ok(err instanceof EngineError, String(err));
    return err;
  }
  throw new Error("openDatabase succeeded");
}

function unusedPort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

describe("store: unusable PostgreSQL URLs give clear errors without the password", function () {
  this.timeout(60_000);
  const pg = usePostgres();

  it("reports a wrong password with the URL minus its password", async () => {
    const err = await openError(pg.server.url("postgres", WRONG));
    assert.equal(err.code, "INTERNAL");
    assert.match(err.message, new RegExp(`Cannot connect to PostgreSQL at postgres://postgres@127\\.0\\.0\\.1:${pg.server.port}/postgres: `));
    assert.match(err.message, /password authentication failed/);
    assert.match(err.message, /Check the user name and password/);
    assert.ok(!visible(err).includes(WRONG), visible(err));
  });

  it("reports a server that is not listening", async () => {
    const port = await unusedPort();
    const err = await openError(`postgres://postgres:${WRONG}@127.0.0.1:${port}/imageport`);
    assert.match(err.message, new RegExp(`postgres://postgres@127\\.0\\.0\\.1:${port}/imageport: .*ECONNREFUSED`));
    assert.match(err.message, /Check that PostgreSQL is running/);
    assert.ok(!visible(err).includes(WRONG));
  });

  it("reports a database that does not exist", async () => {
    const err = await openError(pg.server.url("no_such_db"));
    assert.match(err.message, /database "no_such_db" does not exist/);
    assert.match(err.message, /Create the database first/);
    assert.ok(!visible(err).includes(pg.server.password));
  });

  it("refuses a non-PostgreSQL or unparseable URL without echoing its password", async () => {
    const other = await openError(`mysql://root:${WRONG}@127.0.0.1/imageport`);
    assert.match(other.message, /mysql:\/\/root@127\.0\.0\.1\/imageport is not a PostgreSQL URL/);
    const broken = await openError(`postgres://root:${WRONG}@[::1/imageport`);
    assert.match(broken.message, /not a valid URL/);
    for (const err of [other, broken]) assert.ok(!visible(err).includes(WRONG), visible(err));
  });

  it("stops createEngine with that error and keeps the password out of the engine log", async () => {
    const dataDir = makeDataDir();
    try {
      await assert.rejects(createEngine({ dataDir, port: 0, databaseUrl: pg.server.url("postgres", WRONG) }), (err: unknown) => {
        assert.ok(err instanceof EngineError && /password authentication failed/.test(err.message), String(err));
        assert.ok(!visible(err).includes(WRONG));
        return true;
      });
      assert.ok(!readFileSync(join(dataDir, "logs", "imageportd.log"), "utf8").includes(WRONG));
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
