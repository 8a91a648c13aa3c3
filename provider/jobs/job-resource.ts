import { ApiError, Job, JobType, waitForJob } from "../../client";
import { CheckFailure, OperationContext, ResourceHandler } from "../handler";
import { JobDeadlineError, JobFailedError, JobWaitInterruptedError } from "../errors";
import { compact, PropertyMap } from "../properties";
import { resourceSpec } from "../schema";
import { checkTimeouts, formatDuration, timeoutMs } from "../timeouts";
import { checkFileName, checkStorageLocation, noSecretParameters } from "./checks";
import { progressLine } from "./progress";
import { clientToken, inputsFromParameters, requestBody } from "./request";

const DEFAULT_CREATE_MS = 2 * 3_600_000;
const DEFAULT_DELETE_MS = 10 * 60_000;
/** How long checking that outputs exist may take. */
const INSPECT_WAIT_MS = 5 * 60_000;
/** How long to wait for a cancelled job to stop before reporting the deadline. */
const CANCEL_WAIT_MS = 60_000;
/** The engine's longest job timeout. */
const MAX_ENGINE_TIMEOUT_S = 604_800;

/** What makes one job-backed resource type (ExportJob, PrepareJob, PublishJob, UploadJob, Image) different from another. */
export interface JobResourceSpec {
  /** The resource type token; every schema.json input but `timeouts` and `localInputs` goes into the job request. */
  token: string;
  /**
   * Inputs the engine never sees (besides `timeouts`): they update in place, and refresh keeps
   * them from the state, since the job cannot tell them.
   */
  localInputs?: readonly string[];
  /** Outputs computed from the inputs and the other outputs (recomputed when an input updates in place). */
  derived?(props: PropertyMap): PropertyMap;
  /** "export": how messages name the job. */
  noun: string;
  /** The engine job these inputs ask for. */
  jobType(inputs: PropertyMap): JobType;
  /** Job types a resource of this kind may have been created by (for refresh and import). */
  jobTypes: readonly JobType[];
  /** Checks beyond schema.json's types and enums. */
  check?(inputs: PropertyMap): CheckFailure[];
  /** Outputs read from a complete job's artifacts. */
  outputs(artifacts: PropertyMap): PropertyMap;
}

/** The file a job writes (none for cloud uploads): two resources writing the same one cannot exist side by side. */
function outputPath(inputs: PropertyMap): string | undefined {
  const location = (inputs.outputStorageLocation as PropertyMap | undefined)?.location;
  return location === undefined ? undefined : `${location}|${inputs.outputImageFilename}`;
}

/** What `$inspect {jobId}` found of a job's outputs: files on storage, resources in a cloud. */
interface Inspection {
  present: boolean;
  /** The output file's size, for file outputs. */
  sizeBytes?: number;
}

/**
 * The lifecycle shared by every job-backed resource: the resource id is the engine job id;
 * create submits the job with an idempotency token and waits for it; read finds the job and
 * checks its outputs still exist; delete removes the outputs (the `retainOnDelete` resource
 * option skips it).
 */
export function jobResource(spec: JobResourceSpec): ResourceHandler {
  const { noun } = spec;
  // Inputs are named as the API names the request fields, so the request is the inputs.
  const localKeys = ["timeouts", ...(spec.localInputs ?? [])];
  const requestKeys = (resourceSpec(spec.token)?.inputs ?? []).filter((k) => !localKeys.includes(k));
  const withDerived = (props: PropertyMap) => compact({ ...props, ...spec.derived?.(props) });
  const localInputs = (from: PropertyMap) => Object.fromEntries(localKeys.map((k) => [k, from[k]]));
  // Request fields that update in place (overwriteOutput, vCenter's credential and TLS settings):
  // the job keeps the value it was made with, the program's later one is the resource's.
  const replacing = resourceSpec(spec.token)?.replaceOnChanges ?? new Set<string>();
  const inPlaceInputs = (from: PropertyMap) => Object.fromEntries(requestKeys.filter((k) => !replacing.has(k) && from[k] !== undefined).map((k) => [k, from[k]]));

  /** Outputs of a finished (or still running) job: the inputs, the job's state and its artifacts. */
  function outputsOf(inputs: PropertyMap, job: Job, sizeBytes?: number): PropertyMap {
    const artifacts = job.status === "complete" ? spec.outputs(job.additionalInfo.artifacts) : {};
    return withDerived({
      ...inputs,
      ...artifacts,
      ...(sizeBytes !== undefined ? { sizeBytes } : {}),
      jobId: job.id,
      status: job.status,
      warnings: job.warnings.length ? job.warnings.map((w) => `${w.code}: ${w.message}`) : undefined,
    });
  }

  /** Waits for the job to complete within `maxWaitMs`; see the error classes for the other endings. */
  async function waitForCompletion(job: Job, inputs: PropertyMap, ctx: OperationContext, maxWaitMs: number): Promise<PropertyMap> {
    ctx.status(progressLine(noun, job));
    let result;
    try {
      result = await waitForJob(ctx.client.jobs, job.id, {
        maxWaitMs,
        signal: ctx.signal,
        onProgress: (j) => ctx.status(progressLine(noun, j)),
        onTransientError: (e) => ctx.status(`${noun}: the engine did not answer (${e.message}); still waiting for job ${job.id.slice(0, 8)}`),
      });
    } catch (e) {
      throw new JobWaitInterruptedError(job.id, outputsOf(inputs, job), noun, (e as Error).message, job);
    }
    const last = result.last ?? job;
    switch (result.state) {
      case "SUCCESS":
        for (const w of last.warnings) ctx.warn(`${noun} job ${job.id}: ${w.code}: ${w.message}`);
        return outputsOf(inputs, last);
      case "FAILURE":
        throw new JobFailedError(job.id, last.error?.code ?? "JOB_NOT_FOUND", last.error?.message ?? result.reason, noun, last);
      case "TIMEOUT":
        return cancelAfterDeadline(last, inputs, ctx, maxWaitMs);
      case "ABORTED":
        throw new JobWaitInterruptedError(job.id, outputsOf(inputs, last), noun, result.reason, last);
    }
  }

  /**
   * The deadline passed: cancel the job so it leaves nothing behind, then report it. A job that
   * completed meanwhile, or one that cannot be cancelled, is recorded (its id in the error) for
   * the next `up` to settle.
   */
  async function cancelAfterDeadline(last: Job, inputs: PropertyMap, ctx: OperationContext, maxWaitMs: number): Promise<never> {
    const deadline = formatDuration(maxWaitMs);
    const interrupted = (job: Job, why: string) => new JobWaitInterruptedError(last.id, outputsOf(inputs, job), noun, why, job);
    ctx.status(`${noun}: ${deadline} passed; cancelling job ${last.id.slice(0, 8)}`);
    let stopped: Job | undefined;
    try {
      await ctx.client.jobs.cancel(last.id);
      const result = await waitForJob(ctx.client.jobs, last.id, { maxWaitMs: CANCEL_WAIT_MS });
      if (result.state === "TIMEOUT") throw new Error(`the job did not stop within ${CANCEL_WAIT_MS / 1000} s of being cancelled`);
      stopped = result.last;
    } catch (e) {
      if (!(e instanceof ApiError && e.code === "JOB_NOT_CANCELLABLE")) throw interrupted(last, `${deadline} passed and cancelling failed: ${(e as Error).message}`);
      stopped = await ctx.client.jobs.get(last.id); // it ended on its own just now
    }
    if (stopped?.status === "complete") throw interrupted(stopped, `it completed just as the ${deadline} deadline passed`);
    throw new JobDeadlineError(last.id, noun, deadline, stopped ?? last);
  }

  /** Whether every output still exists, as the connector that reaches the storage or cloud sees it. */
  async function inspect(jobId: string, ctx: OperationContext): Promise<Inspection> {
    const job = await ctx.client.jobs.start("inspect", { jobId });
    const result = await waitForJob(ctx.client.jobs, job.id, { maxWaitMs: INSPECT_WAIT_MS, signal: ctx.signal });
    if (result.state !== "SUCCESS") throw new Error(`could not check the outputs of ${noun} job ${jobId}: inspect job ${job.id} ${result.reason}`);
    const { files = [], cloudResources = [] } = result.last!.additionalInfo.artifacts as {
      files?: { exists: boolean; sizeBytes?: number }[];
      cloudResources?: { exists: boolean }[];
    };
    return { present: [...files, ...cloudResources].every((o) => o.exists), sizeBytes: files[0]?.sizeBytes };
  }

  return {
    check(news, _olds, ctx) {
      const failures = [
        ...checkTimeouts(news),
        ...checkStorageLocation(news, "inputStorageLocation"),
        ...checkStorageLocation(news, "outputStorageLocation"),
        ...checkFileName(news, "inputImageFilename"),
        ...checkFileName(news, "outputImageFilename"),
        ...noSecretParameters(ctx, Object.keys(news)),
        ...(spec.check?.(news) ?? []),
      ];
      return { inputs: news, failures };
    },

    deleteBeforeReplace(olds, news) {
      // A replacement writing the same file must remove the old one first, or the new job
      // would find it in its way and the old resource's delete would remove the new file.
      const path = outputPath(olds);
      return path !== undefined && path === outputPath(news);
    },

    async create(inputs, ctx) {
      const maxWaitMs = timeoutMs("create", inputs, ctx.timeoutSeconds, DEFAULT_CREATE_MS);
      const type = spec.jobType(inputs);
      const body = { ...requestBody(inputs, requestKeys), timeout: Math.min(MAX_ENGINE_TIMEOUT_S, Math.ceil(maxWaitMs / 1000)) };
      const token = clientToken(ctx.urn, type, body);
      let job = await ctx.client.jobs.start(type, { ...body, clientToken: token }, { signal: ctx.signal });
      if (job.status === "complete") {
        // The same request finished before (an interrupted `up`): adopt it if its outputs are
        // still there; otherwise the engine has released the token and a new job runs.
        const found = await inspect(job.id, ctx);
        if (found.present) return { id: job.id, outputs: outputsOf(inputs, job, found.sizeBytes) };
        const previous = job.id;
        job = await ctx.client.jobs.start(type, { ...body, clientToken: token }, { signal: ctx.signal });
        if (job.id === previous) throw new Error(`the engine kept returning ${noun} job ${previous}, whose outputs are gone; delete it with \`imageport jobs\` and retry`);
      } else if (job.status !== "notStarted" || job.attempt > 1) {
        ctx.status(`${noun}: found job ${job.id.slice(0, 8)} from an interrupted update; waiting for it`);
      }
      return { id: job.id, outputs: await waitForCompletion(job, inputs, ctx, maxWaitMs) };
    },

    async read(id, state, inputs, ctx) {
      const job = await ctx.client.jobs.get(id);
      if (!job || job.status === "failed" || job.status === "cancelled") return undefined;
      if (!spec.jobTypes.includes(job.type)) {
        throw new Error(`job ${id} is a ${job.type} job, not ${spec.jobTypes.map((t) => `a ${t}`).join(" or ")} job; import the resource type that made it`);
      }
      const known = Object.keys(inputs).length ? inputs : state;
      const readInputs = compact({ ...inputsFromParameters(job.parameters, requestKeys), ...inPlaceInputs(known), ...localInputs(known) });
      if (job.status !== "complete") return { id, inputs: readInputs, outputs: outputsOf(readInputs, job) };
      const found = await inspect(id, ctx);
      if (!found.present) return undefined; // removed out of band: the resource is gone
      return { id, inputs: readInputs, outputs: outputsOf(readInputs, job, found.sizeBytes) };
    },

    async update(id, state, news, ctx) {
      if (state.status === "complete") {
        // Only inputs that change no job (timeouts, overwriteOutput, local inputs) update in place.
        const computed = Object.fromEntries(Object.entries(state).filter(([k]) => !(k in news) && !requestKeys.includes(k) && !localKeys.includes(k)));
        return withDerived({ ...computed, ...news });
      }
      // An earlier `up` stopped waiting (Ctrl-C, deadline, lost engine): wait for the same job now.
      const job = await ctx.client.jobs.get(id);
      if (!job) throw new Error(`${noun} job ${id} no longer exists in the engine; run \`pulumi refresh\` to drop it, then \`pulumi up\``);
      if (job.status === "failed" || job.status === "cancelled") {
        throw new JobFailedError(id, job.error?.code ?? job.status.toUpperCase(), job.error?.message ?? `the job was ${job.status}`, noun, job);
      }
      return waitForCompletion(job, news, ctx, timeoutMs("create", news, ctx.timeoutSeconds, DEFAULT_CREATE_MS));
    },

    async delete(id, state, ctx) {
      const maxWaitMs = timeoutMs("delete", state, ctx.timeoutSeconds, DEFAULT_DELETE_MS);
      const job = await ctx.client.jobs.get(id);
      if (!job || job.status === "failed" || job.status === "cancelled") return;
      if (job.status !== "complete") {
        // Its output never appeared: stopping the job is all there is to undo.
        ctx.status(`${noun}: cancelling unfinished job ${id.slice(0, 8)}`);
        await ctx.client.jobs.cancel(id).catch((e) => {
          if (!(e instanceof ApiError && e.code === "JOB_NOT_CANCELLABLE")) throw e;
        });
        const stopped = await waitForJob(ctx.client.jobs, id, { maxWaitMs, signal: ctx.signal });
        if (stopped.last?.status !== "complete") return;
      }
      ctx.status(`${noun}: removing the outputs of job ${id.slice(0, 8)}`);
      const removal = await ctx.client.jobs.start("delete", { jobId: id, clientToken: `delete-${id}` }, { signal: ctx.signal });
      const result = await waitForJob(ctx.client.jobs, removal.id, { maxWaitMs, signal: ctx.signal, onProgress: (j) => ctx.status(progressLine(`removing ${noun} output`, j)) });
      if (result.state === "SUCCESS") return;
      const code = result.last?.error?.code ?? result.state;
      throw new Error(`could not remove the outputs of ${noun} job ${id}: delete job ${removal.id} ended with ${code}: ${result.reason}. The files are still there; fix the cause and run \`pulumi destroy\` again.`);
    },
  };
}
