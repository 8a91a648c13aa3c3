import { AxiosInstance } from "axios";
import { ApiError } from "./errors";

// Wire types of the jobs API (briefs/jobs-contract.md): the engine and Citrix IPS share them.

export const JOB_STATUSES = ["notStarted", "inProgress", "complete", "failed", "cancelled"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const JOB_TYPES = ["export", "upload", "prepare", "prepareAndPublish", "publish", "createImage", "delete", "inspect", "listVirtualMachines"] as const;
export type JobType = (typeof JOB_TYPES)[number];

export const STEP_STATUSES = ["notStarted", "inProgress", "complete", "failed", "cancelled", "skipped"] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

/** Statuses a job never leaves. */
export const FINAL_JOB_STATUSES: readonly JobStatus[] = ["complete", "failed", "cancelled"];

export function isFinal(status: JobStatus): boolean {
  return FINAL_JOB_STATUSES.includes(status);
}

export interface JobStep {
  name: string;
  status: StepStatus;
  progressPercent: number;
  startedAt?: string;
  finishedAt?: string;
}

export interface JobWarning {
  code: string;
  message: string;
  at: string;
}

export interface JobError {
  code: string;
  message: string;
}

export interface Job {
  /** UUID. */
  id: string;
  type: JobType;
  status: JobStatus;
  /** 0..100, whole numbers. */
  overallProgressPercent: number;
  steps: JobStep[];
  warnings: JobWarning[];
  /** Present when failed or cancelled. */
  error?: JobError;
  /** The request body echoed back (never secrets). */
  parameters: Record<string, unknown>;
  resourceLocationId: string;
  /** The connector running (or that ran) the job. */
  connectorId?: string;
  /** 1 on the first run; +1 each time the job is resumed after an engine restart or a lost connector. */
  attempt: number;
  cancelRequested: boolean;
  /** e.g. {outputUri, sizeBytes, virtualSizeBytes, sha256, format}. */
  additionalInfo: { artifacts: Record<string, unknown> };
  /** ISO-8601 UTC. */
  createdAt: string;
  updatedAt: string;
  startedAt?: string;
  finishedAt?: string;
}

/** One page of `GET /ips/jobs`, newest first; no continuationToken on the last page. */
export interface JobPage {
  pageSize: number;
  items: Job[];
  continuationToken?: string;
}

export interface JobFilter {
  status?: JobStatus;
  type?: JobType;
}

export interface ListJobsOptions extends JobFilter {
  /** 1..200; the engine's default is 50. */
  pageSize?: number;
  continuationToken?: string;
}

/** What `?dryRun=true` answers: the request was validated and nothing was created. */
export interface DryRunResult {
  dryRun: true;
  valid: boolean;
  parameters: Record<string, unknown>;
}

export interface RequestOptions {
  /** Aborts the request; the call then rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/** The jobs API: `POST /ips/images/$<type>` starts one, `/ips/jobs[/{id}]` reads and cancels them. */
export class JobsApi {
  constructor(private readonly http: AxiosInstance) {}

  /** Starts a job (202); with `dryRun` only validates the body and creates nothing. */
  start(type: JobType, body: Record<string, unknown>, options: { dryRun: true } & RequestOptions): Promise<DryRunResult>;
  start(type: JobType, body: Record<string, unknown>, options?: { dryRun?: false } & RequestOptions): Promise<Job>;
  async start(type: JobType, body: Record<string, unknown>, options: { dryRun?: boolean } & RequestOptions = {}): Promise<Job | DryRunResult> {
    const params = options.dryRun ? { dryRun: "true" } : undefined;
    // With a clientToken a repeated submission returns the same job, so it is safe to retry.
    const idempotent = typeof body.clientToken === "string";
    return this.call(options.signal, () => this.http.post(`/ips/images/$${type}`, body, { params, signal: options.signal, idempotent }));
  }

  async list(options: ListJobsOptions & RequestOptions = {}): Promise<JobPage> {
    const { signal, ...query } = options;
    const params = Object.fromEntries(Object.entries(query).filter(([, v]) => v !== undefined && v !== ""));
    return this.call(signal, () => this.http.get("/ips/jobs", { params, signal }));
  }

  /** Every job matching the filter, newest first, following continuation tokens page by page. */
  async *listAll(filter: JobFilter & { pageSize?: number } & RequestOptions = {}): AsyncGenerator<Job, void, undefined> {
    let continuationToken: string | undefined;
    do {
      const page = await this.list({ ...filter, continuationToken });
      yield* page.items;
      continuationToken = page.continuationToken || undefined;
    } while (continuationToken);
  }

  /** The job, or undefined when the engine answers 404 JOB_NOT_FOUND. */
  async get(id: string, options: RequestOptions = {}): Promise<Job | undefined> {
    try {
      return await this.call(options.signal, () => this.http.get(jobPath(id), { signal: options.signal }));
    } catch (e) {
      if (e instanceof ApiError && e.status === 404 && e.code === "JOB_NOT_FOUND") return undefined;
      throw e;
    }
  }

  /**
   * Cancels the job. A job that had not started comes back "cancelled"; a running one comes
   * back with cancelRequested and turns "cancelled" within seconds. A finished job: 409 JOB_NOT_CANCELLABLE.
   */
  async cancel(id: string, options: RequestOptions = {}): Promise<Job> {
    return this.call(options.signal, () => this.http.delete(jobPath(id), { signal: options.signal }));
  }

  /** The response body; an aborted request rejects with the signal's reason, not as a connection failure. */
  private async call<T>(signal: AbortSignal | undefined, request: () => Promise<{ data: T }>): Promise<T> {
    try {
      return (await request()).data;
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      throw e;
    }
  }
}

function jobPath(id: string): string {
  return `/ips/jobs/${encodeURIComponent(id)}`;
}
