import assert from "node:assert/strict";
import { ChildProcess, spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { makeSparseDisk, qemuCompare } from "../helpers/disks";
import { JobWorld, startJobWorld } from "../helpers/job-world";
import { eventually } from "../helpers/processes";
import { REPO_ROOT } from "../helpers/paths";

const MIB = 1024 * 1024;

interface ConnectorProcess {
  child: ChildProcess;
  output: () => string;
}

function startConnector(engineUrl: string, code: string, dataDir: string): ConnectorProcess {
  let output = "";
  const child = spawn(process.execPath, [join(REPO_ROOT, "dist/cli/main.js"), "connector", "--engine", engineUrl, "--code", code, "--data", dataDir, "--slots", "2"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (output += c.toString()));
  return { child, output: () => output };
}

async function stop(p: ConnectorProcess): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = new Promise((r) => p.child.once("exit", r));
  process.kill(p.child.pid!, "SIGTERM");
  const timer = setTimeout(() => p.child.exitCode === null && process.kill(p.child.pid!, "SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

describe("remote connectors (`imageport connector`, one process each)", function () {
  this.timeout(180_000);
  let world: JobWorld;
  const connectors: ConnectorProcess[] = [];

  before(async () => {
    world = await startJobWorld();
    await makeSparseDisk({ path: join(world.inputDir, "src.qcow2"), format: "qcow2", virtualSize: 32 * MIB, dataBytes: 6 * MIB, seed: 5 });
  });
  after(async () => {
    await Promise.all(connectors.map(stop));
    await world?.close();
  });

  it("register with one-time codes, report HEALTHY, and split a location's jobs without running any twice", async () => {
    const location = await world.engine.api("POST", "/ips/resourceLocations", { id: "branch-office", name: "Branch office", maxConcurrentJobs: 3 });
    assert.equal(location.status, 201);

    for (const name of ["conn-a", "conn-b"]) {
      const reg = await world.engine.api("POST", "/ips/connectors", { name, resourceLocationId: "branch-office" });
      assert.equal(reg.status, 201);
      assert.match(reg.json.registrationCode, /^ipr_/);
      assert.equal(reg.json.status, "UNHEALTHY", "not registered yet");
      const dataDir = join(world.root, name);
      mkdirSync(dataDir);
      connectors.push(startConnector(world.engine.engine.url, reg.json.registrationCode, dataDir));
      // The code works once.
      const again = await eventually(`${name} to register`, 20_000, async () => {
        const list = await world.engine.api("GET", "/ips/connectors?resourceLocationId=branch-office");
        return list.json.items.find((c: { name: string; registered: boolean }) => c.name === name && c.registered);
      });
      assert.ok(again);
      const reuse = await world.engine.request("POST", "/ips/connectors/$register", { body: { registrationCode: reg.json.registrationCode } });
      assert.equal(reuse.status, 401);
      assert.equal(reuse.json.error.code, "REGISTRATION_CODE_INVALID");
    }

    await eventually("both connectors HEALTHY", 20_000, async () => {
      const list = await world.engine.api("GET", "/ips/connectors?resourceLocationId=branch-office");
      return list.json.items.length === 2 && list.json.items.every((c: { status: string }) => c.status === "HEALTHY") ? true : undefined;
    });

    const ids: string[] = [];
    for (let i = 0; i < 8; i++) {
      const res = await world.submit("export", {
        resourceLocationId: "branch-office",
        inputStorageLocation: { location: world.fileLocation(world.inputDir) },
        inputImageFilename: "src.qcow2",
        outputStorageLocation: { location: world.fileLocation(world.outputDir) },
        outputImageFilename: `out-${i}.vhdx`,
      });
      assert.equal(res.status, 202, JSON.stringify(res.json));
      ids.push(res.json.id);
    }
    const jobs = [];
    for (const id of ids) jobs.push(await world.wait(id, 120_000));
    assert.deepEqual(jobs.map((j) => j.status), ids.map(() => "complete"), JSON.stringify(jobs.map((j) => j.error)));

    const list = (await world.engine.api("GET", "/ips/connectors?resourceLocationId=branch-office")).json.items as { id: string }[];
    const connectorIds = new Set(list.map((c) => c.id));
    assert.ok(jobs.every((j) => j.connectorId && connectorIds.has(j.connectorId)), "every job ran on a branch-office connector");
    assert.ok(jobs.every((j) => j.attempt === 1), "no job was run twice");

    // Each connector logs "job started" per job it ran: across both processes, each job exactly once.
    const started = connectors
      .flatMap((c) => c.output().split("\n"))
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as { msg: string; jobId?: string })
      .filter((e) => e.msg === "job started")
      .map((e) => e.jobId);
    assert.deepEqual([...started].sort(), [...ids].sort());
    assert.equal(readdirSync(world.outputDir).length, 8);
    assert.ok(await qemuCompare(join(world.inputDir, "src.qcow2"), "qcow2", join(world.outputDir, "out-7.vhdx"), "vhdx"));
    // The connector keeps its registration (with its secret) owner-only.
    const saved = join(world.root, "conn-a", "connector.json");
    assert.equal((await import("node:fs")).statSync(saved).mode & 0o777, 0o600);
    assert.ok(JSON.parse(readFileSync(saved, "utf8")).clientSecret);
  });

  it("refuses connector routes to user tokens, so credentials reach connectors only", async () => {
    const list = (await world.engine.api("GET", "/ips/connectors?resourceLocationId=branch-office")).json.items as { id: string }[];
    const claim = await world.engine.api("POST", `/ips/connectors/${list[0]!.id}/$claim`, {});
    assert.equal(claim.status, 403);
    assert.match(claim.json.error.message, /Only connectors/);
  });
});
