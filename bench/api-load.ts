// Benchmark (not a test): load on the engine's API. autocannon (in this process) sends
// `GET /ips/jobs/{id}` (what every waiter polls: the provider, `jobs watch`, the tests) to an
// engine in its own process (`imageport serve`, EngineProcess) on 127.0.0.1, over a fixed number
// of keep-alive connections for a fixed time, with one bearer token got beforehand from the
// token endpoint (POST /cctrustoauth2/{customerId}/tokens/clients, as client/auth.ts does) and
// sent as `Authorization: CwsAuth Bearer=<token>` with `Citrix-CustomerId`. Two phases:
//   (a) idle: no job runs; the id is that of a small export that completed;
//   (b) busy: two local `$export` jobs (a 4 GiB qcow2 holding 1.5 GiB of data, to dynamic VHDX)
//       run in the engine (its embedded connector runs 2 at once, in the engine process); the
//       load starts once both are inProgress, GETs the first of them, and a watcher (250 ms)
//       starts another export whenever one ends, so two stay running for the whole phase.
// Prints requests/s, latency p50/p99/max, errors and non-2xx of each phase, how many exports
// ran and for what share of the phase two were running, the engine's CPU and peak RSS, and the
// target (p99 < 50 ms at >= 500 req/s with 2 exports running).
//
// Run: `npx tsc -p tsconfig.json && npm run bench:api` (after scripts/setup).
// Settings: BENCH_API_DURATION_S (10, each phase), BENCH_API_CONNECTIONS (10), BENCH_API_WARMUP_S
// (2, unmeasured load before phase a), BENCH_EXPORT_VIRTUAL_MIB (4096), BENCH_EXPORT_DATA_MIB
// (1536), BENCH_DEADLINE_S (600: everything is stopped and the run fails after this),
// BENCH_CPU_PROF (a directory: the engine writes a V8 CPU profile of the whole run there).

import { mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ImageportClient } from "../client";
import { createHttp } from "../client/http";
import { Job } from "../client/jobs";
import { makeSparseDisk } from "../test/helpers/disks";
import { EngineProcess } from "../test/helpers/engine-process";
import { BENCH_CLIENT, Cleanups, cpuOf, MIB, numberKnob, peakRssMiB, resetPeakRss, runJob, seconds } from "./common";

const DURATION_S = numberKnob("BENCH_API_DURATION_S", 10);
const CONNECTIONS = Math.max(1, Math.floor(numberKnob("BENCH_API_CONNECTIONS", 10)));
const WARMUP_S = numberKnob("BENCH_API_WARMUP_S", 2);
const EXPORT_VIRTUAL = numberKnob("BENCH_EXPORT_VIRTUAL_MIB", 4096) * MIB;
const EXPORT_DATA = numberKnob("BENCH_EXPORT_DATA_MIB", 1536) * MIB;
const DEADLINE_MS = numberKnob("BENCH_DEADLINE_S", 600) * 1000;
const TARGET = { p99Ms: 50, rps: 500 };
const BUSY_EXPORTS = 2;

// autocannon 9 ships no types: the part of its programmatic API used here.
interface Percentiles {
  average: number;
  mean: number;
  stddev: number;
  min: number;
  max: number;
  p50: number;
  p90: number;
  p97_5: number;
  p99: number;
}
interface AutocannonResult {
  latency: Percentiles;
  requests: Percentiles & { total: number; sent: number };
  throughput: Percentiles & { total: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  "2xx": number;
  statusCodeStats: Record<string, { count: number }>;
  duration: number;
}
interface AutocannonOptions {
  url: string;
  connections: number;
  duration: number;
  method?: string;
  headers?: Record<string, string>;
  timeout?: number;
}
const autocannon = require("autocannon") as (options: AutocannonOptions) => Promise<AutocannonResult>;

interface Phase {
  name: string;
  result: AutocannonResult;
  engineCpu: number;
  engineRssMiB: number;
  loadAvg: number;
  /** Busy phase only. */
  exports?: { started: number; finished: number; twoRunningShare: number; samples: number };
}

function exportBody(inputDir: string, outputDir: string, input: string, output: string): Record<string, unknown> {
  return {
    inputStorageLocation: { location: pathToFileURL(inputDir).href + "/" },
    inputImageFilename: input,
    outputStorageLocation: { location: pathToFileURL(outputDir).href + "/" },
    outputImageFilename: output,
    outputImageFormat: "vhdx",
  };
}

/** Two exports kept running: started, replaced when one ends, cancelled and waited for at stop(). */
class ExportPool {
  private readonly running = new Map<string, string>(); // job id -> output file
  private started = 0;
  private finished = 0;
  private twoRunning = 0;
  private samples = 0;
  private sampling = false;
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<void>;
  private failure?: Error;
  private readonly client: ImageportClient;

  constructor(
    private readonly engine: EngineProcess,
    private readonly inputDir: string,
    private readonly outputDir: string,
    private readonly input: string,
  ) {
    this.client = engine.client(BENCH_CLIENT);
  }

  get ids(): string[] {
    return [...this.running.keys()];
  }

  private async startOne(): Promise<void> {
    const output = `load-${++this.started}.vhdx`;
    const job = (await this.client.jobs.start("export", exportBody(this.inputDir, this.outputDir, this.input, output))) as Job;
    this.running.set(job.id, output);
  }

  /** Starts two and waits (bounded) until both are inProgress. */
  async fill(maxWaitMs: number): Promise<void> {
    while (this.running.size < BUSY_EXPORTS) await this.startOne();
    const deadline = Date.now() + maxWaitMs;
    for (;;) {
      const jobs = await Promise.all(this.ids.map((id) => this.client.jobs.get(id)));
      if (jobs.every((j) => j?.status === "inProgress")) return;
      const ended = jobs.find((j) => j && j.status !== "inProgress" && j.status !== "notStarted");
      if (ended) throw new Error(`export ${ended.id} ended (${ended.status}: ${JSON.stringify(ended.error)}) before the load began: make BENCH_EXPORT_DATA_MIB larger`);
      if (Date.now() > deadline) throw new Error(`the exports were not both inProgress within ${maxWaitMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Every 250 ms: replaces ended exports, counts how often two run. */
  watch(): void {
    this.sampling = true;
    const tick = async () => {
      try {
        const jobs = await Promise.all(this.ids.map(async (id) => [id, await this.client.jobs.get(id)] as const));
        let inProgress = 0;
        for (const [id, job] of jobs) {
          if (job?.status === "inProgress") inProgress++;
          else if (job && job.status !== "notStarted") {
            if (job.status !== "complete") throw new Error(`export ${id} ${job.status}: ${JSON.stringify(job.error)}`);
            rmSync(join(this.outputDir, this.running.get(id)!), { force: true });
            this.running.delete(id);
            this.finished++;
          }
        }
        if (this.sampling) {
          this.samples++;
          if (inProgress >= BUSY_EXPORTS) this.twoRunning++;
        }
        while (this.sampling && this.running.size < BUSY_EXPORTS) await this.startOne();
      } catch (error) {
        this.failure ??= error as Error;
      }
      if (this.sampling) this.timer = setTimeout(() => (this.ticking = tick()), 250);
    };
    this.timer = setTimeout(() => (this.ticking = tick()), 250);
  }

  /** Stops replacing, and returns what the phase saw. */
  async stopWatching(): Promise<NonNullable<Phase["exports"]>> {
    this.sampling = false;
    clearTimeout(this.timer);
    await this.ticking;
    if (this.failure) throw this.failure;
    return { started: this.started, finished: this.finished, twoRunningShare: this.samples ? this.twoRunning / this.samples : NaN, samples: this.samples };
  }

  /** Cancels what still runs and waits (bounded) for it to end. */
  async cancelAll(maxWaitMs: number): Promise<void> {
    const deadline = Date.now() + maxWaitMs;
    for (const id of this.ids) await this.client.jobs.cancel(id).catch(() => undefined);
    while (Date.now() < deadline) {
      const jobs = await Promise.all(this.ids.map((id) => this.client.jobs.get(id).catch(() => undefined)));
      if (jobs.every((j) => !j || ["complete", "failed", "cancelled"].includes(j.status))) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    this.running.clear();
  }
}

async function load(name: string, engine: EngineProcess, url: string, headers: Record<string, string>, durationS: number): Promise<Phase> {
  const pid = engine.child.pid!;
  const rssReset = resetPeakRss(pid);
  const cpu0 = cpuOf(pid).self;
  const result = await autocannon({ url, connections: CONNECTIONS, duration: durationS, method: "GET", headers, timeout: 10 });
  return { name, result, engineCpu: cpuOf(pid).self - cpu0, engineRssMiB: rssReset ? peakRssMiB(pid) : NaN, loadAvg: loadavg()[0]! };
}

function rps(p: Phase): number {
  return p.result["2xx"] / p.result.duration;
}

function printPhases(phases: Phase[]): void {
  console.log(`\n## api-load (\`npm run bench:api\`): GET /ips/jobs/{id}, ${CONNECTIONS} connections, ${DURATION_S} s per phase`);
  console.log("| phase | requests/s (2xx) | p50 | p99 | max | requests | errors (timeouts) | non-2xx | engine CPU | engine peak RSS | load avg |");
  console.log("|---|---|---|---|---|---|---|---|---|---|---|");
  for (const p of phases) {
    const r = p.result;
    console.log(
      `| ${p.name} | ${rps(p).toFixed(0)} | ${r.latency.p50.toFixed(1)} ms | ${r.latency.p99.toFixed(1)} ms | ${r.latency.max.toFixed(1)} ms | ${r.requests.total} | ` +
        `${r.errors} (${r.timeouts}) | ${r.non2xx} | ${p.engineCpu.toFixed(1)} s (${((100 * p.engineCpu) / r.duration).toFixed(0)} % of a core) | ${p.engineRssMiB.toFixed(0)} MiB | ${p.loadAvg.toFixed(2)} |`,
    );
  }
  for (const p of phases) {
    const other = Object.entries(p.result.statusCodeStats).filter(([code]) => !code.startsWith("2"));
    if (other.length > 0) console.log(`(${p.name}: status codes other than 2xx: ${other.map(([c, s]) => `${c} x${s.count}`).join(", ")})`);
    if (p.exports) {
      console.log(
        `(${p.name}: ${p.exports.started} exports started in all, ${p.exports.finished} finished during the phase and were replaced; ` +
          `two were inProgress in ${(100 * p.exports.twoRunningShare).toFixed(0)} % of ${p.exports.samples} samples)`,
      );
    }
  }
  const busy = phases.find((p) => p.exports);
  if (busy) {
    const ok = busy.result.latency.p99 < TARGET.p99Ms && rps(busy) >= TARGET.rps && busy.result.errors === 0 && busy.result.non2xx === 0;
    console.log(
      `target: p99 < ${TARGET.p99Ms} ms at >= ${TARGET.rps} req/s with 2 exports running: ${ok ? "MET" : "NOT MET"} ` +
        `(p99 ${busy.result.latency.p99.toFixed(1)} ms at ${rps(busy).toFixed(0)} req/s)`,
    );
  }
}

async function main(cleanups: Cleanups): Promise<void> {
  const runStart = process.hrtime.bigint();
  console.log(`machine: ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(" ")} at start; Node ${process.version}; autocannon ${require("autocannon/package.json").version}`);
  const root = mkdtempSync(join(tmpdir(), "imageport-bench-api-"));
  cleanups.add("temp dir", () => rmSync(root, { recursive: true, force: true }));
  const inputDir = join(root, "in");
  const outputDir = join(root, "out");
  for (const d of [inputDir, outputDir]) mkdirSync(d);

  let t = process.hrtime.bigint();
  await makeSparseDisk({ path: join(inputDir, "small.qcow2"), format: "qcow2", virtualSize: 64 * MIB, dataBytes: 4 * MIB, seed: "bench-api-small", chunk: MIB });
  await makeSparseDisk({ path: join(inputDir, "big.qcow2"), format: "qcow2", virtualSize: EXPORT_VIRTUAL, dataBytes: EXPORT_DATA, seed: "bench-api", chunk: MIB });
  console.log(`export source: big.qcow2, ${EXPORT_VIRTUAL / MIB} MiB virtual, ${EXPORT_DATA / MIB} MiB of data, file ${(statSync(join(inputDir, "big.qcow2")).size / MIB).toFixed(0)} MiB (made in ${seconds(t).toFixed(1)} s)`);

  // BENCH_CPU_PROF=<dir>: the engine writes a V8 CPU profile of the whole run there when it stops.
  const profile = process.env.BENCH_CPU_PROF ? { NODE_OPTIONS: `--require ${join(__dirname, "cpu-profile-preload.js")}` } : {};
  const engine = await EngineProcess.start(undefined, profile);
  cleanups.add("engine", () => engine.stop());
  const { tokens } = createHttp({ endpoint: engine.url, credentials: engine.credentials, retries: 0 });
  t = process.hrtime.bigint();
  const token = await tokens.token();
  console.log(`engine ${engine.url} (pid ${engine.child.pid}); one token from the token endpoint in ${(seconds(t) * 1000).toFixed(0)} ms`);
  const headers = { authorization: `CwsAuth Bearer=${token}`, "citrix-customerid": engine.credentials.customerId, accept: "application/json" };

  // A finished job for the idle phase.
  const small = await runJob(engine, "export", exportBody(inputDir, outputDir, "small.qcow2", "small.vhdx"), 120_000);
  const jobUrl = (id: string) => `${engine.url}/ips/jobs/${encodeURIComponent(id)}`;
  const probe = await fetch(jobUrl(small.job.id), { headers });
  if (probe.status !== 200) throw new Error(`GET /ips/jobs/${small.job.id} with the token: HTTP ${probe.status} ${await probe.text()}`);
  console.log(`GET /ips/jobs/{id} answers 200 (${(await probe.arrayBuffer()).byteLength} B for the finished small export)`);

  const phases: Phase[] = [];
  if (WARMUP_S > 0) await load("warm-up", engine, jobUrl(small.job.id), headers, WARMUP_S);
  phases.push(await load("(a) idle engine", engine, jobUrl(small.job.id), headers, DURATION_S));
  console.log(`(a) idle: ${rps(phases[0]!).toFixed(0)} req/s, p99 ${phases[0]!.result.latency.p99.toFixed(1)} ms`);

  const pool = new ExportPool(engine, inputDir, outputDir, "big.qcow2");
  cleanups.add("exports", () => pool.cancelAll(30_000));
  t = process.hrtime.bigint();
  await pool.fill(60_000);
  const target = pool.ids[0]!;
  console.log(`two exports inProgress after ${seconds(t).toFixed(1)} s; loading GET /ips/jobs/${target} (a running export)`);
  pool.watch();
  const busy = await load(`(b) ${BUSY_EXPORTS} exports running`, engine, jobUrl(target), headers, DURATION_S);
  busy.exports = await pool.stopWatching();
  phases.push(busy);
  await pool.cancelAll(30_000);

  printPhases(phases);
  console.log(`\nwhole run: ${seconds(runStart).toFixed(0)} s; load average at end ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
}

const cleanups = new Cleanups();
cleanups.main("bench/api-load", DEADLINE_MS, () => main(cleanups));
