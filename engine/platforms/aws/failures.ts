// AWS errors as engine failures: unreachable, refused credentials or permissions, anything else.

import { EngineError, jobFailure } from "../../errors";

const ACCESS_DENIED = new Set([
  "AuthFailure",
  "UnauthorizedOperation",
  "AccessDenied",
  "AccessDeniedException",
  "InvalidClientTokenId",
  "SignatureDoesNotMatch",
  "UnrecognizedClientException",
  "ExpiredToken",
  "ExpiredTokenException",
  "RequestExpired",
]);

const NETWORK = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "TimeoutError"]);

/** The AWS error code of an SDK error (or a network error's code), if any. */
export function awsErrorCode(error: unknown): string | undefined {
  const e = error as { name?: string; Code?: string; code?: string; $metadata?: unknown } | null;
  if (!e || typeof e !== "object") return undefined;
  return e.Code ?? (e.$metadata ? e.name : undefined) ?? e.code ?? (e.name === "TimeoutError" ? e.name : undefined);
}

/** True when AWS answered that the resource does not exist (a result for inspect/delete, not a failure). */
export function isNotFound(error: unknown): boolean {
  const code = awsErrorCode(error) ?? "";
  return /^InvalidSnapshot\.NotFound$|^InvalidAMIID\.(NotFound|Unavailable)$|^ResourceNotFoundException$/.test(code);
}

/**
 * A coded job failure for an AWS call that failed. `call` names the operation
 * ("StartSnapshot"), `what` what it was for. Never includes request parameters (no secrets).
 */
export function awsFailure(call: string, what: string, region: string, endpoint: string | undefined, error: unknown): EngineError {
  if (error instanceof EngineError) return error;
  const code = awsErrorCode(error);
  const reason = firstLine((error as Error)?.message ?? String(error));
  const where = endpoint ? `endpoint ${endpoint} (IMAGEPORT_AWS_ENDPOINT_URL)` : `AWS region ${region}`;
  if (code && (NETWORK.has(code) || isNetworkError(error))) {
    return jobFailure(
      "PLATFORM_UNREACHABLE",
      `AWS could not be reached for ${call} (${what}) at ${where}: ${reason}. Check the network, the region` +
        (endpoint ? " and IMAGEPORT_AWS_ENDPOINT_URL." : ", and any proxy settings."),
      error,
    );
  }
  if (isNetworkError(error)) {
    return jobFailure("PLATFORM_UNREACHABLE", `AWS could not be reached for ${call} (${what}) at ${where}: ${reason}.`, error);
  }
  if (code && ACCESS_DENIED.has(code)) {
    return jobFailure(
      "PLATFORM_ACCESS_DENIED",
      `AWS refused ${call} (${what}) in ${region} with ${code}: ${reason}. Check the Aws credential named by ` +
        `platformCredentialId (access key, secret key, session token) and that its IAM policy allows ${call}.`,
      error,
    );
  }
  return jobFailure(
    "PLATFORM_REQUEST_FAILED",
    `AWS ${call} (${what}) failed in ${region}${code ? ` with ${code}` : ""}: ${reason}.`,
    error,
  );
}

function isNetworkError(error: unknown): boolean {
  // The SDK surfaces socket failures as plain errors (or AggregateError) with a code, without $metadata.httpStatusCode.
  for (let e: any = error, depth = 0; e && depth < 4; e = e.cause ?? e.errors?.[0], depth++) {
    if (typeof e.code === "string" && NETWORK.has(e.code)) return true;
  }
  return false;
}

function firstLine(text: string): string {
  return (text.split(/\r?\n/).find((l) => l.trim()) ?? "").trim().slice(0, 500) || "no reason given";
}
