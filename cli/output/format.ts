import { CredentialView, Job, JobStep } from "../../client";
import { renderTable } from "./table";

// Human-readable views of API objects. Pure functions: the commands decide where text goes.

/** "2026-03-01 12:00:05Z" from an ISO-8601 UTC timestamp (seconds are enough on a terminal). */
export function formatTime(iso: string | undefined): string {
  if (!iso) return "-";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

export function formatPercent(n: number | undefined): string {
  return `${Math.max(0, Math.min(100, Math.round(n ?? 0)))}%`;
}

/** 1536 -> "1.5 KiB"; binary units, as disk sizes are. */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = n;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** The step a user cares about now: the running one, else the one that failed or was cancelled. */
export function currentStep(job: Job): JobStep | undefined {
  return (
    job.steps.find((s) => s.status === "inProgress") ??
    job.steps.find((s) => s.status === "failed") ??
    job.steps.find((s) => s.status === "cancelled")
  );
}

/** Newest first by creation time (ties keep the engine's order). */
export function newestFirst(jobs: Job[]): Job[] {
  return jobs
    .map((job, i) => ({ job, i }))
    .sort((a, b) => (a.job.createdAt < b.job.createdAt ? 1 : a.job.createdAt > b.job.createdAt ? -1 : a.i - b.i))
    .map(({ job }) => job);
}

export function formatJobTable(jobs: Job[]): string {
  return renderTable(
    [{ header: "ID" }, { header: "TYPE" }, { header: "STATUS" }, { header: "PROGRESS", align: "right" }, { header: "STEP" }, { header: "CREATED" }],
    newestFirst(jobs).map((j) => [
      j.id,
      j.type,
      j.cancelRequested && j.status === "inProgress" ? "cancelling" : j.status,
      formatPercent(j.overallProgressPercent),
      currentStep(j)?.name ?? "-",
      formatTime(j.createdAt),
    ]),
  );
}

/** One line per observed change, for `jobs watch` when stdout is not a terminal. */
export function formatProgressLine(job: Job): string {
  const step = currentStep(job);
  const status = job.cancelRequested && job.status === "inProgress" ? "inProgress (cancel requested)" : job.status;
  const stepText = step ? ` - ${step.name} ${step.status} ${formatPercent(step.progressPercent)}` : "";
  return `${formatPercent(job.overallProgressPercent).padStart(4)} ${status}${stepText}`;
}

/** Artifact values as a user reads them: sizes also in binary units. */
export function formatArtifact(key: string, value: unknown): string {
  if (typeof value === "number" && /bytes$/i.test(key)) return `${value} (${formatBytes(value)})`;
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

/** `jobs get`: everything a user needs to judge a job, without its parameters (see --json for those). */
export function formatJobSummary(job: Job): string {
  const out: string[] = [];
  const field = (name: string, value: string) => out.push(`${(name + ":").padEnd(11)} ${value}`);
  field("Job", job.id);
  field("Type", job.type);
  field("Status", job.status + (job.cancelRequested && job.status === "inProgress" ? " (cancel requested)" : ""));
  field("Progress", formatPercent(job.overallProgressPercent));
  field("Location", job.resourceLocationId + (job.connectorId ? ` (connector ${job.connectorId})` : ""));
  field("Attempt", String(job.attempt));
  field("Created", formatTime(job.createdAt));
  if (job.startedAt) field("Started", formatTime(job.startedAt));
  if (job.finishedAt) field("Finished", formatTime(job.finishedAt));
  field("Updated", formatTime(job.updatedAt));

  if (job.steps.length) {
    out.push("", "Steps:");
    const table = renderTable(
      [{ header: "STEP" }, { header: "STATUS" }, { header: "PROGRESS", align: "right" }, { header: "STARTED" }, { header: "FINISHED" }],
      job.steps.map((s) => [s.name, s.status, formatPercent(s.progressPercent), formatTime(s.startedAt), formatTime(s.finishedAt)]),
    );
    out.push(...indent(table));
  }
  if (job.warnings.length) {
    out.push("", "Warnings:");
    for (const w of job.warnings) out.push(`  ${w.code}: ${w.message} (${formatTime(w.at)})`);
  }
  if (job.error) out.push("", "Error:", `  ${job.error.code}: ${job.error.message}`);
  const artifacts = Object.entries(job.additionalInfo?.artifacts ?? {});
  if (artifacts.length) {
    out.push("", "Artifacts:");
    const width = Math.max(...artifacts.map(([k]) => k.length)) + 1;
    for (const [k, v] of artifacts) out.push(`  ${(k + ":").padEnd(width)} ${formatArtifact(k, v)}`);
  }
  return out.join("\n") + "\n";
}

/** The non-secret field that says whose credential it is. */
export function credentialIdentity(c: CredentialView): string {
  switch (c.type) {
    case "UsernamePassword":
      return c.username ? (c.domain ? `${c.domain}\\${c.username}` : c.username) : "-";
    case "Aws":
      return c.accessKeyId ?? "-";
    case "Azure":
      return [c.tenantId && `tenant ${c.tenantId}`, c.clientId && `client ${c.clientId}`].filter(Boolean).join(", ") || "-";
    case "Gcp":
      return [c.clientEmail, c.projectId && `(${c.projectId})`].filter(Boolean).join(" ") || "-";
    default:
      return "-";
  }
}

export function formatCredentialTable(credentials: CredentialView[]): string {
  return renderTable(
    [{ header: "ID" }, { header: "TYPE" }, { header: "NAME" }, { header: "STATE" }, { header: "IDENTITY" }, { header: "CREATED" }],
    credentials.map((c) => [c.id, c.type, c.name || "-", c.state, credentialIdentity(c), formatTime(c.createdAt)]),
  );
}

function indent(text: string): string[] {
  return text.replace(/\n$/, "").split("\n").map((l) => `  ${l}`);
}
