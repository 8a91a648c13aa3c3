import { FieldError } from "../errors";
import { StorageCredential } from "../platforms/storage";
import { JobType, JobView } from "./model";

/** What a job needs to check a request against the engine's state before accepting it. */
export interface SubmitContext {
  customerId: string;
  /** A job of this customer, or undefined when there is none with that id. */
  job(id: string): Promise<JobView | undefined>;
  /** The credential's type, or undefined when it does not exist. */
  credentialType(id: string): Promise<string | undefined>;
  /** True when the job will run on this machine (the embedded connector), so local paths can be checked now. */
  runsHere: boolean;
}

/** What `resolve` may look at (it runs before the job's resource location is known). */
export type ResolveContext = Pick<SubmitContext, "customerId" | "job">;

/** What a running job may do. Given by the connector that runs it (in-process or remote). */
export interface RunContext {
  jobId: string;
  attempt: number;
  signal: AbortSignal;
  /** A private scratch directory, removed after the job. */
  workDir: string;
  /** A credential the job referenced, with its secret fields (resolved when the job was claimed). */
  credential(id: string): StorageCredential;
  /** Runs one planned step; `progress` takes a fraction 0..1 of that step. */
  step<T>(name: string, fn: (progress: (fraction: number) => void) => Promise<T>): Promise<T>;
  warn(code: string, message: string): void;
  setArtifacts(artifacts: Record<string, unknown>): void;
}

/** What a dry run's live check may use (only where the job would run: the embedded connector). */
export interface ProbeContext {
  credential(id: string): StorageCredential;
  signal: AbortSignal;
  /** A private scratch directory, removed after the dry run. */
  workDir: string;
}

export interface StepPlan {
  name: string;
  /** Share of the overall progress. */
  weight: number;
}

export interface JobDefinition<P = any> {
  type: JobType;
  summary: string;
  /** JSON schema of the request body. */
  body: object;
  /**
   * Turns the request into the parameters stored with the job, before `validate` (e.g. a
   * `jobId` into the files that job wrote), so connectors need nothing but the job itself.
   * Throws ValidationFailedError naming the fields. Absent: the request is stored as sent.
   */
  resolve?(params: P, ctx: ResolveContext): Promise<P>;
  /** Checks the schema cannot express. Each problem names its field. */
  validate(params: P, ctx: SubmitContext): Promise<FieldError[]>;
  /**
   * `?dryRun=true` only, when the job would run on this machine: checks that need the platform
   * (e.g. vCenter privileges), changing nothing there. Each problem names its field.
   */
  dryRunProbe?(params: P, ctx: ProbeContext): Promise<FieldError[]>;
  /**
   * `?dryRun=true` only, when the job would run on this machine: what the job would do, worked
   * out without writing anything anywhere (e.g. a preparation's change record), returned with
   * the dry run's answer.
   */
  dryRunPreview?(params: P, ctx: ProbeContext): Promise<Record<string, unknown>>;
  /** Options or platforms this engine does not implement: refused with a 400 under `refusalCode`. */
  unsupported?(params: P): FieldError[];
  refusalCode?: "UNSUPPORTED_OPTION" | "PLATFORM_NOT_SUPPORTED";
  steps(params: P): StepPlan[];
  run(params: P, ctx: RunContext): Promise<void>;
  /**
   * Called when the job completes: the id of another job whose outputs this one removed or
   * found gone. That job gives its clientToken up, so the same request starts a new job.
   */
  releasesClientTokenOf?(params: P, artifacts: Record<string, unknown>): string | undefined;
}
