import { ImageportError, Job } from "../client";
import { PropertyMap } from "./properties";

/** "inProgress at 40% (step convert)": the last state of a job, for messages. */
export function describeJob(job: Job | undefined): string {
  if (!job) return "never seen";
  const step = job.steps.find((s) => s.status === "inProgress" || s.status === "failed") ?? job.steps.at(-1);
  return `${job.status} at ${job.overallProgressPercent}%${step ? ` (step ${step.name})` : ""}`;
}

/** The engine ran the job and it failed: nothing was created. `engineCode` is the job's error code. */
export class JobFailedError extends ImageportError {
  constructor(
    readonly jobId: string,
    readonly engineCode: string,
    engineMessage: string,
    noun: string,
    last: Job | undefined,
  ) {
    super(
      "JOB_FAILED",
      `${noun} job ${jobId} failed with ${engineCode}: ${engineMessage} (last status: ${describeJob(last)}). ` +
        `Nothing was created; fix the cause and run \`pulumi up\` again (see \`imageport jobs get ${jobId}\`).`,
    );
  }
}

/** The job did not finish before the deadline; it was cancelled, so nothing was created. */
export class JobDeadlineError extends ImageportError {
  constructor(readonly jobId: string, noun: string, deadline: string, last: Job | undefined) {
    super(
      "JOB_DEADLINE_EXCEEDED",
      `${noun} job ${jobId} did not finish within ${deadline} (last status: ${describeJob(last)}), so it was cancelled ` +
        `and nothing was created. Give it longer with the \`timeouts.create\` input or the \`customTimeouts\` resource option.`,
    );
  }
}

/**
 * Waiting stopped while the job may still be running (Ctrl-C, the engine unreachable). The error
 * carries the job id and outputs so Pulumi records the resource: the next `up` waits for the same
 * job instead of starting another.
 */
export class JobWaitInterruptedError extends ImageportError {
  constructor(
    readonly id: string,
    readonly properties: PropertyMap,
    noun: string,
    why: string,
    last: Job | undefined,
  ) {
    super(
      "JOB_WAIT_INTERRUPTED",
      `stopped waiting for ${noun} job ${id} (${why}; last status: ${describeJob(last)}). The job keeps running in the engine; ` +
        `the next \`pulumi up\` waits for it, or cancel it with \`imageport jobs cancel ${id}\`.`,
    );
  }
}
