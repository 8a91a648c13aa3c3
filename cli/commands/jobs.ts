import { Command, InvalidArgumentError, Option } from "commander";
import { ImageportError, Job, JOB_STATUSES, JOB_TYPES, JobsApi, JobStatus, JobType, waitForJob, WaitResult } from "../../client";
import { formatArtifact, formatJobSummary, formatJobTable, formatPercent, newestFirst } from "../output/format";
import { createJobProgressView } from "../output/progress";
import { action, connect, ConnectionOptions, withConnectionOptions } from "./connection";

/** Exit codes of `jobs watch`, beyond 0 (complete) and 1 (failed, cancelled or an error). */
export const EXIT_TIMEOUT = 2;
export const EXIT_INTERRUPTED = 130;

/** `imageport jobs ls|get|watch|cancel`. */
export function registerJobs(program: Command): void {
  const jobs = withConnectionOptions(program.command("jobs").description("list, inspect, watch and cancel the engine's jobs"));

  jobs
    .command("ls")
    .description("list jobs, newest first (one page unless --all)")
    .addOption(new Option("--status <status>", "only jobs with this status").choices(JOB_STATUSES))
    .addOption(new Option("--type <type>", "only jobs of this type").choices(JOB_TYPES))
    .option("--all", "follow continuation tokens to list every job", false)
    .option("--json", "print the jobs as JSON", false)
    .action(
      action(async (opts: { status?: JobStatus; type?: JobType; all: boolean; json: boolean }, cmd: Command) => {
        const client = connect(cmd.optsWithGlobals<ConnectionOptions>());
        const filter = { status: opts.status, type: opts.type };
        let items: Job[];
        let more = false;
        if (opts.all) {
          items = [];
          for await (const job of client.jobs.listAll({ ...filter, pageSize: 200 })) items.push(job);
        } else {
          const page = await client.jobs.list(filter);
          items = page.items;
          more = Boolean(page.continuationToken);
        }
        items = newestFirst(items);
        if (opts.json) {
          process.stdout.write(JSON.stringify(items, null, 2) + "\n");
        } else if (items.length === 0) {
          process.stdout.write("No jobs.\n");
        } else {
          process.stdout.write(formatJobTable(items));
        }
        if (more) process.stderr.write(`(${items.length} newest shown; there are more: use --all)\n`);
      }),
    );

  jobs
    .command("get")
    .description("show a job: status, progress, steps, warnings, error and artifacts")
    .argument("<id>", "job id")
    .option("--json", "print the job as the API returns it", false)
    .action(
      action(async (id: string, opts: { json: boolean }, cmd: Command) => {
        const job = await connect(cmd.optsWithGlobals<ConnectionOptions>()).jobs.get(id);
        if (!job) throw jobNotFound(id);
        process.stdout.write(opts.json ? JSON.stringify(job, null, 2) + "\n" : formatJobSummary(job));
      }),
    );

  jobs
    .command("watch")
    .description("follow a job until it ends (exit 0 complete, 1 failed or cancelled, 2 timeout); Ctrl-C stops watching, the job goes on")
    .argument("<id>", "job id")
    .option("--timeout <seconds>", "stop watching after this long (exit 2)", parseSeconds)
    .action(
      action(async (id: string, opts: { timeout?: number }, cmd: Command) => {
        const client = connect(cmd.optsWithGlobals<ConnectionOptions>());
        return watch(client.jobs, id, opts.timeout);
      }),
    );

  jobs
    .command("cancel")
    .description("cancel a job that has not finished")
    .argument("<id>", "job id")
    .action(
      action(async (id: string, _opts: unknown, cmd: Command) => {
        const job = await connect(cmd.optsWithGlobals<ConnectionOptions>()).jobs.cancel(id);
        if (job.status === "cancelled") {
          process.stdout.write(`Job ${id} cancelled.\n`);
        } else {
          process.stdout.write(`Cancellation of job ${id} requested; it stops within seconds (follow it with: imageport jobs watch ${id}).\n`);
        }
      }),
    );
}

async function watch(jobs: JobsApi, id: string, timeoutSeconds: number | undefined): Promise<number> {
  const view = createJobProgressView(process.stdout, process.stderr);
  const controller = new AbortController();
  // Ctrl-C stops watching only: the job belongs to the engine and keeps running.
  const onSigint = () => controller.abort(new Error("interrupted"));
  process.once("SIGINT", onSigint);
  let result: WaitResult<Job>;
  try {
    result = await waitForJob(jobs, id, {
      signal: controller.signal,
      maxWaitMs: timeoutSeconds === undefined ? Infinity : timeoutSeconds * 1000,
      minDelayMs: 500,
      maxDelayMs: 2_000,
      onProgress: (job) => view.update(job),
      onTransientError: (err) => view.problem(err.message),
    });
  } finally {
    process.off("SIGINT", onSigint);
    view.stop();
  }
  const job = result.last;
  switch (result.state) {
    case "SUCCESS": {
      process.stdout.write(`Job ${id} complete.\n`);
      for (const [k, v] of Object.entries(job?.additionalInfo?.artifacts ?? {})) process.stdout.write(`  ${k}: ${formatArtifact(k, v)}\n`);
      return 0;
    }
    case "FAILURE":
      process.stderr.write(job ? `imageport: job ${id} ${job.status}: ${result.reason}\n` : `imageport: ${result.reason}\n`);
      return 1;
    case "TIMEOUT":
      process.stderr.write(
        `imageport: stopped watching job ${id} after ${timeoutSeconds} s; it is ${job ? `${job.status} (${formatPercent(job.overallProgressPercent)})` : "not seen yet"} and keeps running. ` +
          `Watch it again with: imageport jobs watch ${id}\n`,
      );
      return EXIT_TIMEOUT;
    case "ABORTED":
      process.stderr.write(`imageport: stopped watching job ${id}; the job keeps running (cancel it with: imageport jobs cancel ${id})\n`);
      return EXIT_INTERRUPTED;
  }
}

function jobNotFound(id: string): ImageportError {
  return new ImageportError("JOB_NOT_FOUND", `Job '${id}' does not exist. List the jobs with: imageport jobs ls`);
}

function parseSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("must be a positive number of seconds.");
  return n;
}
