// GCP (GCS and Compute) errors as engine failures: unreachable, refused, anything else.

import { EngineError, jobFailure } from "../../errors";

const NETWORK = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "UND_ERR_SOCKET", "UND_ERR_CONNECT_TIMEOUT"]);

/** An HTTP answer Google gave that was not a success. */
export class GcpHttpError extends Error {
  constructor(
    readonly status: number,
    /** Google's error reason (e.g. "notFound", "alreadyExists"), when given. */
    readonly reason: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = "GcpHttpError";
  }
}

export function isNotFound(error: unknown): boolean {
  return error instanceof GcpHttpError && error.status === 404;
}

export function isNetworkError(error: unknown): boolean {
  for (let e: any = error, depth = 0; e && depth < 4; e = e.cause ?? e.errors?.[0], depth++) {
    if (typeof e.code === "string" && NETWORK.has(e.code)) return true;
  }
  return false;
}

/**
 * A coded job failure for a GCP call. `call` names the API method ("images.insert"), `what` what
 * it was for, `where` the endpoint (and which setting overrides it). Never request bodies or tokens.
 */
export function gcpFailure(call: string, what: string, where: string, error: unknown): EngineError {
  if (error instanceof EngineError) return error;
  if (isNetworkError(error) || (error as Error)?.name === "TimeoutError") {
    return jobFailure("PLATFORM_UNREACHABLE", `GCP could not be reached for ${call} (${what}) at ${where}: ${reasonOf(error)}. Check the network and the endpoint.`, error);
  }
  if (error instanceof GcpHttpError && (error.status === 401 || error.status === 403)) {
    return jobFailure(
      "PLATFORM_ACCESS_DENIED",
      `GCP refused ${call} (${what}) with HTTP ${error.status}${error.reason ? ` ${error.reason}` : ""}: ${error.message}. ` +
        "Check the Gcp credential named by platformCredentialId (its service-account key) and that the account's IAM roles allow " + call + ".",
      error,
    );
  }
  if (error instanceof GcpHttpError) {
    return jobFailure("PLATFORM_REQUEST_FAILED", `GCP ${call} (${what}) failed with HTTP ${error.status}${error.reason ? ` ${error.reason}` : ""}: ${error.message}.`, error);
  }
  return jobFailure("PLATFORM_REQUEST_FAILED", `GCP ${call} (${what}) failed: ${reasonOf(error)}.`, error);
}

function reasonOf(error: unknown): string {
  const e = error as { message?: string; cause?: { message?: string; code?: string } } | null;
  const text = [e?.message, e?.cause?.code ?? e?.cause?.message].filter(Boolean).join(": ");
  return (text.split(/\r?\n/)[0] ?? "").slice(0, 300) || "no reason given";
}
