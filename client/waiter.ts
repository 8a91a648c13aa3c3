import { ApiError, ConnectionError } from "./errors";
import { Job, JobsApi } from "./jobs";

// The one waiter of imageport (provider, CLI and tests), after smithy-typescript's util-waiter:
// a small state machine that knows nothing about the API it polls.

/** What one poll concluded. */
export type CheckState = "SUCCESS" | "FAILURE" | "RETRY";
/** How a wait ended. */
export type WaitState = "SUCCESS" | "FAILURE" | "TIMEOUT" | "ABORTED";

export interface CheckResult<T> {
  state: CheckState;
  reason?: string;
  /** What the poll observed (kept as the result's `last` when set). */
  value?: T;
}

export interface WaitResult<T> {
  state: WaitState;
  reason: string;
  /** The last value a poll observed, if any. */
  last?: T;
}

export interface PollEvent<T> {
  /** 1 for the first poll. */
  attempt: number;
  result: CheckResult<T>;
  elapsedMs: number;
}

export interface WaitOptions<T> {
  /**
   * One poll. Its signal aborts when the wait is aborted or reaches its deadline; a check that
   * throws ends the wait with that error (classify transient failures as RETRY yourself).
   */
  check(signal: AbortSignal): Promise<CheckResult<T>>;
  /** Shortest pause between polls. */
  minDelayMs: number;
  /** Longest pause between polls. */
  maxDelayMs: number;
  /** Hard deadline from the start of the wait; Infinity for none. */
  maxWaitMs: number;
  signal?: AbortSignal;
  onPoll?(event: PollEvent<T>): void;
}

// setTimeout fires at once for longer delays than this.
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The pause before poll `attempt + 1`: exponential growth from minDelayMs, capped at
 * maxDelayMs, with full jitter over [minDelayMs, ceiling] so many waiters spread out.
 */
export function backoffDelay(attempt: number, minDelayMs: number, maxDelayMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxDelayMs, minDelayMs * 2 ** Math.min(attempt, 30));
  return minDelayMs + random() * (ceiling - minDelayMs);
}

/**
 * Polls `check` until it reports SUCCESS or FAILURE, the deadline passes (TIMEOUT) or the
 * signal aborts (ABORTED). The first poll is immediate. The deadline is checked before every
 * pause and bounds the pause and the poll itself, so the wait never runs past it; an abort
 * ends the wait at once and leaves no timer behind.
 */
export async function waitUntil<T>(options: WaitOptions<T>): Promise<WaitResult<T>> {
  const { minDelayMs, maxDelayMs, maxWaitMs, signal } = options;
  if (!(minDelayMs >= 0) || !(maxDelayMs >= minDelayMs)) {
    throw new RangeError(`waitUntil: need 0 <= minDelayMs (${minDelayMs}) <= maxDelayMs (${maxDelayMs})`);
  }
  if (!(maxWaitMs >= 0)) throw new RangeError(`waitUntil: maxWaitMs must be >= 0, not ${maxWaitMs}`);

  const start = Date.now();
  const deadline = start + maxWaitMs;
  let last: T | undefined;
  const aborted = (): WaitResult<T> => ({ state: "ABORTED", reason: abortReason(signal), last });
  const timedOut = (): WaitResult<T> => ({ state: "TIMEOUT", reason: `still waiting after ${maxWaitMs} ms`, last });

  for (let attempt = 1; ; attempt++) {
    if (signal?.aborted) return aborted();
    if (Date.now() >= deadline) return timedOut();

    const outcome = await race(deadline, signal, (s) => options.check(s));
    if (outcome === "aborted") return aborted();
    if (outcome === "deadline") return timedOut();
    const result = outcome.value;
    if (result.value !== undefined) last = result.value;
    options.onPoll?.({ attempt, result, elapsedMs: Date.now() - start });
    if (result.state !== "RETRY") return { state: result.state, reason: result.reason ?? result.state.toLowerCase(), last };

    // Never pause past the deadline: a pause that would end after it is cut to end at it (then TIMEOUT).
    const remaining = deadline - Date.now();
    if (remaining <= 0) return timedOut();
    if ((await sleep(Math.min(backoffDelay(attempt, minDelayMs, maxDelayMs), remaining), signal)) === "aborted") return aborted();
  }
}

/**
 * Runs `fn` with a signal that aborts on the caller's abort or at the deadline, and settles as
 * soon as either happens even if `fn` ignores its signal (its late outcome is dropped).
 */
function race<R>(deadline: number, signal: AbortSignal | undefined, fn: (s: AbortSignal) => Promise<R>): Promise<{ value: R } | "aborted" | "deadline"> {
  const inner = new AbortController();
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    const onAbort = () => {
      done();
      inner.abort(signal?.reason);
      resolve("aborted");
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    const remaining = deadline - Date.now();
    if (remaining <= MAX_TIMER_MS) {
      timer = setTimeout(() => {
        done();
        inner.abort(new Error("the wait reached its deadline"));
        resolve("deadline");
      }, remaining);
    }
    fn(inner.signal).then(
      (value) => {
        done();
        resolve({ value });
      },
      (error: unknown) => {
        done();
        reject(error);
      },
    );
  });
}

/** Sleeps `ms`, or less when the signal aborts; clears its timer either way. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<"slept" | "aborted"> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve("aborted");
    const onAbort = () => {
      clearTimeout(timer);
      resolve("aborted");
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve("slept");
    }, Math.min(ms, MAX_TIMER_MS));
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function abortReason(signal: AbortSignal | undefined): string {
  const r: unknown = signal?.reason;
  if (r instanceof Error) return r.message;
  return r === undefined ? "aborted" : String(r);
}

// --- jobs --------------------------------------------------------------------------------------

export interface WaitForJobOptions {
  signal?: AbortSignal;
  /** Hard deadline; Infinity for none. */
  maxWaitMs: number;
  /** Default 500 ms. */
  minDelayMs?: number;
  /** Default 5 s. */
  maxDelayMs?: number;
  /** Called with the first job seen and each time its status, progress or steps change. */
  onProgress?(job: Job): void;
  /** Called when a poll failed transiently (5xx, 429, connection lost); the wait goes on. */
  onTransientError?(error: Error): void;
}

/**
 * Waits for job `id` to finish: complete is SUCCESS; failed or cancelled is FAILURE with the
 * job's error code and message as reason; a job that no longer exists (404) is FAILURE too.
 * Transient API failures are retried until the deadline; other API errors end the wait (reject).
 */
export function waitForJob(jobs: JobsApi, id: string, options: WaitForJobOptions): Promise<WaitResult<Job>> {
  let seen: string | undefined;
  return waitUntil<Job>({
    minDelayMs: options.minDelayMs ?? 500,
    maxDelayMs: options.maxDelayMs ?? 5_000,
    maxWaitMs: options.maxWaitMs,
    signal: options.signal,
    async check(signal) {
      let job: Job | undefined;
      try {
        job = await jobs.get(id, { signal });
      } catch (e) {
        if ((e instanceof ApiError && e.retryable) || e instanceof ConnectionError) {
          options.onTransientError?.(e);
          return { state: "RETRY", reason: e.message };
        }
        throw e;
      }
      if (!job) return { state: "FAILURE", reason: `JOB_NOT_FOUND: job ${id} does not exist (deleted, or the id is wrong)` };
      const fingerprint = progressFingerprint(job);
      if (fingerprint !== seen) {
        seen = fingerprint;
        options.onProgress?.(job);
      }
      if (job.status === "complete") return { state: "SUCCESS", reason: `job ${id} complete`, value: job };
      if (job.status === "failed" || job.status === "cancelled") {
        const why = job.error ? `${job.error.code}: ${job.error.message}` : `job ${id} ${job.status}`;
        return { state: "FAILURE", reason: why, value: job };
      }
      return { state: "RETRY", reason: `job ${id} ${job.status} (${job.overallProgressPercent}%)`, value: job };
    },
  });
}

/** What onProgress reports changes of: status, overall progress and each step's state. */
function progressFingerprint(job: Job): string {
  const steps = job.steps.map((s) => `${s.name}:${s.status}:${s.progressPercent}`).join(",");
  return `${job.status}|${job.overallProgressPercent}|${job.cancelRequested}|${steps}`;
}
