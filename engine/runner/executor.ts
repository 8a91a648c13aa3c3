import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { EngineError, jobFailure } from "../errors";
import { RunContext } from "../jobs/definition";
import { JOB_DEFINITIONS } from "../jobs/definitions";
import { JobReport, JobStep, JobWarning } from "../jobs/model";
import { StorageCredential } from "../platforms/storage";
import { ClaimedWork, WorkChannel } from "./work";

const REPORT_EVERY_MS = 500;

export interface RunningJob {
  id: string;
  /** Stops the job; it reports `cancelled` (or the given failure) once it has cleaned up. */
  abort(reason: EngineError): void;
  done: Promise<void>;
}

export interface ExecutorLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

/**
 * Runs one claimed job to its end: steps with progress, warnings, artifacts, the job's timeout,
 * cancellation, and the final report. Never throws: every outcome becomes a report.
 */
export function executeJob(work: ClaimedWork, channel: WorkChannel, workRoot: string, log: ExecutorLog): RunningJob {
  const { job } = work;
  const controller = new AbortController();
  const abort = (reason: EngineError) => {
    if (!controller.signal.aborted) controller.abort(reason);
  };
  const timer = setTimeout(
    () => abort(jobFailure("JOB_TIMED_OUT", `The job exceeded its timeout of ${timeoutSeconds(job.parameters)} s and was stopped; its partial output was removed. Raise "timeout" if the disk needs longer.`)),
    timeoutSeconds(job.parameters) * 1000,
  );
  timer.unref();
  return { id: job.id, abort, done: run().finally(() => clearTimeout(timer)) };

  async function run(): Promise<void> {
    const definition = JOB_DEFINITIONS[job.type];
    const plan = definition.steps(job.parameters);
    const totalWeight = plan.reduce((sum, s) => sum + s.weight, 0) || 1;
    const steps: JobStep[] = plan.map((s) => ({ name: s.name, status: "notStarted", progressPercent: 0 }));
    const warnings: JobWarning[] = [...job.warnings];
    let artifacts: Record<string, unknown> = {};
    let lastReport = 0;
    let reporting: Promise<void> = Promise.resolve();

    const overall = () =>
      Math.min(99, Math.floor(plan.reduce((sum, s, i) => sum + (s.weight * steps[i]!.progressPercent) / 100, 0) / totalWeight * 100));

    const send = (report: JobReport) => {
      reporting = reporting.then(async () => {
        try {
          const answer = await channel.report(job.id, report);
          if (answer === undefined) abort(jobFailure("CONNECTOR_LOST", "This connector no longer holds the job (its lease expired); it stopped working on it."));
          else if (answer.cancelRequested) abort(cancelled());
        } catch (err) {
          log.warn({ jobId: job.id, err: String(err) }, "progress report failed; will retry with the next one");
        }
      });
      return reporting;
    };
    const progressReport = (force = false) => {
      const now = Date.now();
      if (!force && now - lastReport < REPORT_EVERY_MS) return;
      lastReport = now;
      void send({ status: "inProgress", overallProgressPercent: overall(), steps, warnings });
    };

    const credentials = new Map<string, StorageCredential>(work.credentials.map((c) => [c.id, c]));
    const workDir = makeWorkDir(workRoot, job.id, job.attempt);
    const ctx: RunContext = {
      jobId: job.id,
      attempt: job.attempt,
      signal: controller.signal,
      workDir,
      credential(id) {
        const found = credentials.get(id);
        if (!found) throw new EngineError("CREDENTIAL_NOT_FOUND", `Credential '${id}' no longer exists; it was deleted after the job was submitted. Create it again and resubmit the job.`);
        return found;
      },
      async step(name, fn) {
        const step = steps.find((s) => s.name === name);
        if (!step) throw new Error(`job ${job.type} has no planned step '${name}'`);
        controller.signal.throwIfAborted();
        step.status = "inProgress";
        step.startedAt = new Date().toISOString();
        progressReport(true);
        try {
          const result = await fn((fraction) => {
            const percent = Math.max(0, Math.min(100, Math.floor(fraction * 100)));
            if (percent !== step.progressPercent) {
              step.progressPercent = percent;
              progressReport();
            }
          });
          controller.signal.throwIfAborted();
          step.status = "complete";
          step.progressPercent = 100;
          step.finishedAt = new Date().toISOString();
          progressReport(true);
          return result;
        } catch (err) {
          step.status = controller.signal.aborted && isCancel(controller.signal.reason) ? "cancelled" : "failed";
          step.finishedAt = new Date().toISOString();
          throw err;
        }
      },
      warn(code, message) {
        warnings.push({ code, message, at: new Date().toISOString() });
        progressReport(true);
      },
      setArtifacts(a) {
        artifacts = { ...artifacts, ...a };
      },
    };

    log.info({ jobId: job.id, type: job.type, attempt: job.attempt }, "job started");
    let final: JobReport;
    try {
      await definition.run(job.parameters, ctx);
      controller.signal.throwIfAborted();
      for (const s of steps) if (s.status === "notStarted") s.status = "skipped";
      final = { status: "complete", overallProgressPercent: 100, steps, warnings, artifacts };
    } catch (thrown) {
      const err = controller.signal.aborted ? (controller.signal.reason as EngineError) : thrown;
      const error = toJobError(err);
      for (const s of steps) if (s.status === "notStarted" || s.status === "inProgress") s.status = error.code === "JOB_CANCELLED" ? "cancelled" : "skipped";
      final = {
        status: error.code === "JOB_CANCELLED" ? "cancelled" : "failed",
        overallProgressPercent: overall(),
        steps,
        warnings,
        error,
        artifacts,
      };
    } finally {
      rmSync(workDir, { recursive: true, force: true });
    }
    await reporting;
    // A job this connector lost, or left because it is shutting down, is not its to finish:
    // the engine takes it back (and starts it again) when the lease runs out or at its next start.
    const reason = controller.signal.aborted ? (controller.signal.reason as EngineError).code : undefined;
    if (reason !== "CONNECTOR_LOST" && reason !== "ENGINE_RESTARTED") {
      await sendFinal(channel, job.id, final, log);
    }
    log.info({ jobId: job.id, status: final.status, code: final.error?.code }, "job finished");
  }
}

/** The final report must arrive: retried for a while (the engine may be restarting). */
async function sendFinal(channel: WorkChannel, jobId: string, report: JobReport, log: ExecutorLog): Promise<void> {
  for (let attempt = 1; attempt <= 10; attempt++) {
    try {
      await channel.report(jobId, report);
      return;
    } catch (err) {
      log.warn({ jobId, attempt, err: String(err) }, "final report failed; retrying");
      await new Promise((r) => setTimeout(r, Math.min(30_000, 500 * 2 ** attempt)));
    }
  }
}

export function cancelled(): EngineError {
  return jobFailure("JOB_CANCELLED", "The job was cancelled on request; its partial output was removed.");
}

function isCancel(reason: unknown): boolean {
  return reason instanceof EngineError && reason.code === "JOB_CANCELLED";
}

function toJobError(err: unknown): { code: string; message: string } {
  if (err instanceof EngineError) return { code: err.code, message: err.message };
  return {
    code: "INTERNAL",
    message: `The job failed unexpectedly: ${err instanceof Error ? err.message : String(err)}. The engine log has details under this job id.`,
  };
}

function timeoutSeconds(parameters: Record<string, unknown>): number {
  return typeof parameters.timeout === "number" ? parameters.timeout : DEFAULT_TIMEOUT_SECONDS;
}

export const DEFAULT_TIMEOUT_SECONDS = 7200;

function makeWorkDir(root: string, jobId: string, attempt: number): string {
  mkdirSync(root, { recursive: true, mode: 0o700 });
  return mkdtempSync(join(root, `${jobId}-${attempt}-`));
}
