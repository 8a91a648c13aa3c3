import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { makeSparseDisk } from "../helpers/disks";
import { makeDataDir, startTestEngine, TestEngine } from "../helpers/engine-harness";
import { usePostgres } from "../helpers/postgres";
import { eventually } from "../helpers/processes";

const MIB = 1024 * 1024;

// A client (the Pulumi provider) submits with a deterministic clientToken. A complete job keeps
// its token, so the same request re-attaches to it; once its outputs are gone (deleted by
// $delete {jobId}, or found missing by $inspect {jobId}) the same request must run a new job.
function tokenReleaseCases(store: "SQLite" | "PostgreSQL", databaseUrl: () => Promise<string | undefined>) {
  describe(`a complete job gives its clientToken up once its outputs are gone (${store} store)`, function () {
    this.timeout(120_000);
    let engine: TestEngine;
    let root: string;
    let outDir: string;

    before(async () => {
      root = mkdtempSync(join(tmpdir(), "imageport-token-release-"));
      outDir = join(root, "out");
      for (const d of ["in", "out"]) mkdirSync(join(root, d));
      await makeSparseDisk({ path: join(root, "in", "src.qcow2"), format: "qcow2", virtualSize: 16 * MIB, dataBytes: 2 * MIB, seed: 41 });
      engine = await startTestEngine({ dataDir: makeDataDir(), databaseUrl: await databaseUrl() });
    });
    after(async () => {
      await engine?.close({ removeData: true });
      if (root) rmSync(root, { recursive: true, force: true });
    });

    const exportBody = (clientToken: string, outputImageFilename: string) => ({
      clientToken,
      inputStorageLocation: { location: pathToFileURL(join(root, "in")).href + "/" },
      inputImageFilename: "src.qcow2",
      outputStorageLocation: { location: pathToFileURL(outDir).href + "/" },
      outputImageFilename,
    });
    const submit = async (type: string, body: object) => {
      const res = await engine.api("POST", `/ips/images/$${type}`, body);
      assert.ok(res.status === 200 || res.status === 202, `${type}: ${res.status} ${res.text}`);
      return res;
    };
    const finished = (id: string) =>
      eventually(`job ${id} to finish`, 60_000, async () => {
        const job = (await engine.api("GET", `/ips/jobs/${id}`)).json;
        return ["complete", "failed", "cancelled"].includes(job.status) ? job : undefined;
      });
    const runToEnd = async (type: string, body: object) => {
      const res = await submit(type, body);
      assert.equal(res.status, 202);
      const job = await finished(res.json.id);
      assert.equal(job.status, "complete", JSON.stringify(job.error));
      return job;
    };

    it("re-attaches while the outputs exist, and runs a new job after $delete {jobId}", async () => {
      const first = await runToEnd("export", exportBody("urn-delete", "d.vhdx"));
      const again = await submit("export", exportBody("urn-delete", "d.vhdx"));
      assert.equal(again.status, 200);
      assert.equal(again.json.id, first.id);

      await runToEnd("delete", { jobId: first.id });
      assert.equal(existsSync(join(outDir, "d.vhdx")), false);

      const fresh = await submit("export", exportBody("urn-delete", "d.vhdx"));
      assert.equal(fresh.status, 202, "the same request after a destroy starts a new job");
      assert.notEqual(fresh.json.id, first.id);
      assert.equal((await finished(fresh.json.id)).status, "complete");
      assert.ok(existsSync(join(outDir, "d.vhdx")), "the new job wrote the output again");
      const replay = await submit("export", exportBody("urn-delete", "d.vhdx"));
      assert.equal(replay.json.id, fresh.json.id, "the new job holds the token now");
    });

    it("keeps the token when $inspect {jobId} finds every file, and gives it up when one is missing", async () => {
      const first = await runToEnd("export", exportBody("urn-inspect", "i.vhdx"));
      await runToEnd("inspect", { jobId: first.id });
      const kept = await submit("export", exportBody("urn-inspect", "i.vhdx"));
      assert.equal(kept.status, 200);
      assert.equal(kept.json.id, first.id);

      rmSync(join(outDir, "i.vhdx"));
      const inspected = await runToEnd("inspect", { jobId: first.id });
      assert.equal(inspected.additionalInfo.artifacts.files[0].exists, false);

      const fresh = await submit("export", exportBody("urn-inspect", "i.vhdx"));
      assert.equal(fresh.status, 202, "the same request after the outputs vanished starts a new job");
      assert.notEqual(fresh.json.id, first.id);
      assert.equal((await finished(fresh.json.id)).status, "complete");
    });

    it("keeps the token when only other files are deleted (the explicit form names no job)", async () => {
      const first = await runToEnd("export", exportBody("urn-explicit", "e.vhdx"));
      await runToEnd("delete", { storageLocation: { location: pathToFileURL(outDir).href + "/" }, filenames: ["e.vhdx"] });
      const again = await submit("export", exportBody("urn-explicit", "e.vhdx"));
      assert.equal(again.status, 200);
      assert.equal(again.json.id, first.id);
    });
  });
}

tokenReleaseCases("SQLite", async () => undefined);

describe("on PostgreSQL", function () {
  const pg = usePostgres();
  tokenReleaseCases("PostgreSQL", () => pg.newDatabase());
});
