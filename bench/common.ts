// Small tools the upload and API benchmarks share: time, medians and series of rounds, /proc
// figures of a process (peak RSS, CPU seconds), a cleanup list run once (also on a deadline or
// a signal), and the engine's job submission timed from submit to complete.

import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { Job } from "../client/jobs";
import { waitForJob } from "../client/waiter";
import { EngineProcess } from "../test/helpers/engine-process";

/**
 * The engine client benchmarks use: the client's default retries, as a user's would have. The
 * baselines block this process (execFileSync) for seconds, past the HTTP agent's 5 s idle
 * timeout, so a kept-alive socket can close just as the next request reuses it.
 */
export const BENCH_CLIENT = { retries: 3 };

export const KIB = 1024;
export const MIB = 1024 * KIB;
export const GIB = 1024 * MIB;

export function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** An environment knob: a number, or the default when unset or empty. */
export function numberKnob(name: string, fallback: number): number {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name}=${raw} is not a non-negative number`);
  return value;
}

export type Figures = Record<string, number>;

/** The figures of one measured thing, one entry per round. */
export class Series {
  readonly rounds: Figures[] = [];
  add(f: Figures): void {
    this.rounds.push(f);
  }
  values(key: string): number[] {
    return this.rounds.map((r) => r[key]).filter((v): v is number => v !== undefined && !Number.isNaN(v));
  }
  med(key: string): number {
    return median(this.values(key));
  }
  list(key: string, digits = 2): string {
    return this.values(key).map((v) => v.toFixed(digits)).join(", ");
  }
}

export function peakRssMiB(pid: number): number {
  try {
    const kb = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return Number(kb) / 1024;
  } catch {
    return NaN;
  }
}

/** Resets a process's VmHWM (proc(5): clear_refs "5"), so the next reading is one job's peak. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

export const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;

/** CPU seconds of a process and of its waited-for children (qemu-img under the engine). */
export function cpuOf(pid: number | "self"): { self: number; children: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number);
    // fields 14-17 of proc(5): utime stime cutime cstime; f[0] is field 3.
    return { self: (f[11]! + f[12]!) / CLK_TCK, children: (f[13]! + f[14]!) / CLK_TCK };
  } catch {
    return { self: NaN, children: NaN };
  }
}

/** Things to stop or remove, run once in reverse order (finally, deadline, SIGINT/SIGTERM). */
export class Cleanups {
  private readonly steps: Array<{ what: string; run: () => Promise<void> | void }> = [];
  private done = false;

  add(what: string, run: () => Promise<void> | void): void {
    this.steps.push({ what, run });
  }

  async run(): Promise<void> {
    if (this.done) return;
    this.done = true;
    for (const step of this.steps.reverse()) {
      try {
        await step.run();
      } catch (error) {
        console.error(`cleanup (${step.what}): ${(error as Error).message}`);
      }
    }
  }

  /** Runs main, then the cleanups; a deadline or a signal runs them too and exits. */
  main(name: string, deadlineMs: number, body: () => Promise<void>): void {
    const watchdog = setTimeout(() => {
      console.error(`${name}: past the ${deadlineMs / 1000} s deadline (BENCH_DEADLINE_S); stopping everything`);
      void this.run().finally(() => process.exit(2));
    }, deadlineMs);
    for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => void this.run().finally(() => process.exit(130)));
    body()
      .catch((err) => {
        console.error(err);
        process.exitCode = 1;
      })
      .finally(async () => {
        clearTimeout(watchdog);
        await this.run();
        process.exit();
      });
  }
}

export interface TimedJob {
  job: Job;
  /** Submit -> the poll that saw `complete`, seconds. */
  total: number;
  /** Each step's startedAt -> finishedAt, seconds: step.<name>. */
  steps: Figures;
}

/** Submits a job to the engine and polls it (50-200 ms) until it ends; throws unless it completes. */
export async function runJob(engine: EngineProcess, type: "upload" | "export" | "prepare", body: Record<string, unknown>, maxWaitMs: number): Promise<TimedJob> {
  const client = engine.client(BENCH_CLIENT);
  const t = process.hrtime.bigint();
  // A clientToken makes the start repeatable, so the client retries it like any idempotent call.
  const job = (await client.jobs.start(type, { clientToken: randomUUID(), ...body })) as Job;
  const result = await waitForJob(client.jobs, job.id, { maxWaitMs, minDelayMs: 50, maxDelayMs: 200 });
  const total = seconds(t);
  const done = result.last;
  if (done?.status !== "complete") throw new Error(`engine ${type} job ${job.id} ${done?.status ?? result.state}: ${JSON.stringify(done?.error ?? result.reason)}`);
  const steps: Figures = {};
  for (const s of done.steps) if (s.startedAt && s.finishedAt) steps[`step.${s.name}`] = (Date.parse(s.finishedAt) - Date.parse(s.startedAt)) / 1000;
  return { job: done, total, steps };
}
