import { JobReport, JobView } from "../jobs/model";
import { StorageCredential } from "../platforms/storage";

/** A job handed to a connector, with the credentials it references (secrets included). */
export interface ClaimedWork {
  job: JobView;
  credentials: StorageCredential[];
}

/**
 * How a connector gets work and reports on it. The embedded connector calls the job service
 * directly; a remote one (`imageport connector`) does the same over HTTP. Same loop, same executor.
 */
export interface WorkChannel {
  claim(): Promise<ClaimedWork | undefined>;
  /** undefined: the connector no longer holds the job and must stop working on it. */
  report(jobId: string, report: JobReport): Promise<{ cancelRequested: boolean } | undefined>;
  /** Renews the leases of running jobs; returns the ids to stop (cancelled or taken back). */
  heartbeat(runningJobIds: string[]): Promise<string[]>;
}

/** Timing of the connector protocol. */
export const LEASE_MS = 30_000;
export const HEARTBEAT_MS = 2_000;
export const HEALTHY_WITHIN_MS = 15_000;
