import { Job } from "../../client";

/** The status line Pulumi shows next to the resource: "export 45%: convert 60% (job 3f2a9c1e)". */
export function progressLine(noun: string, job: Job): string {
  const short = job.id.slice(0, 8);
  if (job.status === "notStarted") return `${noun}: queued at ${job.resourceLocationId} (job ${short})`;
  const step = job.steps.find((s) => s.status === "inProgress");
  const detail = step ? `: ${step.name} ${step.progressPercent}%` : "";
  const cancelling = job.cancelRequested ? ", cancelling" : "";
  return `${noun} ${job.overallProgressPercent}%${detail} (job ${short}${cancelling})`;
}
