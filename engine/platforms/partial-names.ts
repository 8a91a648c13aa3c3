import { createHash } from "node:crypto";
import { jobFailure } from "../errors";

// Temporary names carry the job id, `.<name>.<jobId>.partial`, so a restarted or cancelled job
// can find exactly its own leftovers and nobody else's. The leading dot keeps them out of
// ordinary listings.

const JOB_ID = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_NAME_BYTES = 255;

/** The job id, checked: it becomes part of file names and of an smbclient wildcard. */
export function checkJobId(jobId: string): string {
  if (!JOB_ID.test(jobId)) {
    throw jobFailure(
      "INTERNAL",
      `Job id '${jobId.slice(0, 80)}' cannot name temporary files: it must be 1 to 64 letters, digits, '-' or '_'.`,
    );
  }
  return jobId;
}

/**
 * `.<name>.<jobId>.partial`. A name too long for that to fit in 255 bytes is shortened and
 * given a hash of the full name, so two long names of one job still get different partials.
 */
export function partialName(name: string, jobId: string): string {
  const suffix = `.${checkJobId(jobId)}.partial`;
  const full = `.${name}${suffix}`;
  if (Buffer.byteLength(full, "utf8") <= MAX_NAME_BYTES) return full;
  const hash = `~${createHash("sha256").update(name).digest("hex").slice(0, 12)}`;
  let head = name;
  while (Buffer.byteLength(`.${head}${hash}${suffix}`, "utf8") > MAX_NAME_BYTES) head = [...head].slice(0, -1).join("");
  return `.${head}${hash}${suffix}`;
}

/** True for the temporary files of this job (and only this job). */
export function isPartialOf(fileName: string, jobId: string): boolean {
  const suffix = `.${checkJobId(jobId)}.partial`;
  return fileName.startsWith(".") && fileName.endsWith(suffix) && fileName.length > suffix.length + 1;
}
