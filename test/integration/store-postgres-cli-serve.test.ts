import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Client } from "pg";
import { usePostgres } from "../helpers/postgres";

// `imageport serve --database URL` / IMAGEPORT_DATABASE_URL, through the committed bin script.

const BIN = resolve(__dirname, "../../../bin/imageport");

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The listening URL if it got that far (the server is then stopped with SIGTERM). */
  url?: string;
}

/** Runs `imageport serve`; once it prints its listening line, checks health and stops it. */
function serve(args: string[], env: Record<string, string>): Promise<Run> {
  const child = spawn(BIN, ["serve", "--port", "0", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, IMAGEPORT_DATABASE_URL: "", PGPASSWORD: "", ...env },
  });
  const run: Run = { code: null, stdout: "", stderr: "" };
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  child.stderr.on("data", (c: Buffer) => (run.stderr += c.toString()));
  child.stdout.on("data", async (c: Buffer) => {
    run.stdout += c.toString();
    const m = /listening on (http:\/\/\S+)/.exec(run.stdout);
    if (m && !run.url) {
      run.url = m[1];
      const health = await fetch(`${run.url}/healthz`).catch(() => undefined);
      if (health?.status !== 200) run.stderr += `healthz answered ${health?.status}`;
      child.kill("SIGTERM");
    }
  });
  return new Promise((done) =>
    child.on("exit", (code) => {
      clearTimeout(timer);
      done({ ...run, code });
    }),
  );
}

async function apiClientCount(url: string): Promise<number> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<{ n: number }>("select count(*)::int as n from api_clients")).rows[0]!.n;
  } finally {
    await client.end();
  }
}

describe("engine: imageport serve on PostgreSQL", function () {
  this.timeout(60_000);
  const pg = usePostgres();
  let dataDir: string;
  beforeEach(() => (dataDir = mkdtempSync(join(tmpdir(), "imageport-cli-pg-"))));
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it("takes the URL from IMAGEPORT_DATABASE_URL and shows it without the password", async () => {
    const url = await pg.newDatabase();
    const run = await serve(["--data", dataDir], { IMAGEPORT_DATABASE_URL: url });
    assert.equal(run.code, 0, run.stderr);
    assert.ok(run.url, run.stdout + run.stderr);
    assert.match(run.stdout, new RegExp(`database: postgres://postgres@127\\.0\\.0\\.1:${pg.server.port}/test_\\d+\\)`));
    assert.ok(!(run.stdout + run.stderr).includes(pg.server.password));
    assert.equal(await apiClientCount(url), 1, "the bootstrap client is stored in PostgreSQL");
  });

  it("takes --database with the password in PGPASSWORD, and warns when the flag itself holds a password", async () => {
    const url = await pg.newDatabase();
    const withoutPassword = url.replace(`:${pg.server.password}@`, "@");
    const quiet = await serve(["--data", dataDir, "--database", withoutPassword], { PGPASSWORD: pg.server.password });
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.ok(quiet.url);
    assert.doesNotMatch(quiet.stderr, /warning/);
    assert.equal(await apiClientCount(url), 1);

    const loud = await serve(["--data", dataDir, "--database", url], {});
    assert.equal(loud.code, 0, loud.stderr);
    assert.match(loud.stderr, /warning: --database contains a password.*IMAGEPORT_DATABASE_URL/);
    assert.ok(!(loud.stdout + loud.stderr).includes(pg.server.password));
  });

  it("exits 1 with a clear message, free of the password, when the password is wrong", async () => {
    const wrong = "wrong-cli-password-4821";
    const run = await serve(["--data", dataDir], { IMAGEPORT_DATABASE_URL: pg.server.url("postgres", wrong) });
    assert.equal(run.code, 1);
    assert.equal(run.url, undefined);
    assert.match(run.stderr, /Cannot connect to PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres: password authentication failed/);
    assert.ok(!run.stderr.includes(wrong), run.stderr);
  });
});
