// The job as the API shows it (IPS shape) and the states it moves through.

export const JOB_TYPES = ["export", "upload", "prepare", "prepareAndPublish", "publish", "createImage", "delete", "inspect", "listVirtualMachines"] as const;
export type JobType = (typeof JOB_TYPES)[number];

export const JOB_STATUSES = ["notStarted", "inProgress", "complete", "failed", "cancelled"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const FINISHED: readonly JobStatus[] = ["complete", "failed", "cancelled"];

export type StepStatus = "notStarted" | "inProgress" | "complete" | "failed" | "cancelled" | "skipped";

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

export interface JobErrorView {
  code: string;
  message: string;
}

export interface JobView {
  id: string;
  type: JobType;
  status: JobStatus;
  overallProgressPercent: number;
  steps: JobStep[];
  warnings: JobWarning[];
  error?: JobErrorView;
  parameters: Record<string, unknown>;
  resourceLocationId: string;
  connectorId?: string;
  attempt: number;
  cancelRequested: boolean;
  additionalInfo: { artifacts: Record<string, unknown> };
  createdAt: string;
  updatedAt: string;
  startedAt?: string;
  finishedAt?: string;
}

/** What a connector reports while it runs a job. */
export interface JobReport {
  status: "inProgress" | "complete" | "failed" | "cancelled";
  overallProgressPercent: number;
  steps: JobStep[];
  warnings: JobWarning[];
  error?: JobErrorView;
  artifacts?: Record<string, unknown>;
}

export function isFinished(status: string): boolean {
  return (FINISHED as readonly string[]).includes(status);
}
