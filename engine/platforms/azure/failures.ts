// Azure errors as engine failures: unreachable, refused, not found, anything else.

import { EngineError, jobFailure } from "../../errors";


/** An HTTP answer from Entra ID, ARM or the disk's blob endpoint that was not a success. */
export class AzureCallError extends Error {
  override readonly name = "AzureCallError";
  constructor(
    readonly status: number,
    /** The Azure error code (ARM error.code, OAuth error, storage x-ms-error-code). */
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

const ACCESS_DENIED = new Set([
  "invalid_client",
  "unauthorized_client",
  "invalid_grant",
  "invalid_request",
  "invalid_tenant",
  "InvalidAuthenticationToken",
  "InvalidAuthenticationTokenTenant",
  "ExpiredAuthenticationToken",
  "AuthenticationFailed",
  "AuthorizationFailed",
  "LinkedAuthorizationFailed",
  "AuthorizationPermissionMismatch",
]);
const NOT_FOUND = new Set(["ResourceGroupNotFound", "SubscriptionNotFound", "ResourceNotFound", "NotFound"]);
const NETWORK = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "UND_ERR_CONNECT_TIMEOUT", "UND_ERR_SOCKET", "REQUEST_SEND_ERROR"]);

export function isNotFound(error: unknown): boolean {
  return error instanceof AzureCallError && (error.status === 404 || (error.code !== undefined && NOT_FOUND.has(error.code)));
}

/** Where a call went: the endpoint and, when it came from a setting, the setting's name. */
export interface CallTarget {
  url: string;
  setting?: string;
}

/**
 * A coded job failure for an Azure call. `call` names the operation ("PUT disk"), `what` what
 * it was for. Never includes request bodies, headers or SAS query strings (they carry secrets).
 */
export function azureFailure(call: string, what: string, target: CallTarget, error: unknown): EngineError {
  if (error instanceof EngineError) return error;
  const where = target.setting ? `${target.url} (${target.setting})` : target.url;
  if (isNetworkError(error)) {
    return jobFailure(
      "PLATFORM_UNREACHABLE",
      `Azure could not be reached for ${call} (${what}) at ${where}: ${networkReason(error)}. Check the network` +
        (target.setting ? ` and ${target.setting}.` : " and any proxy settings."),
      error,
    );
  }
  if (error instanceof AzureCallError) {
    const reason = firstLine(error.message);
    if (error.status === 401 || error.status === 403 || (error.code && ACCESS_DENIED.has(error.code))) {
      return jobFailure(
        "PLATFORM_ACCESS_DENIED",
        `Azure refused ${call} (${what}) with ${error.status}${error.code ? ` ${error.code}` : ""}: ${reason}. Check the Azure credential ` +
          "named by platformCredentialId (tenantId, clientId, clientSecret) and that its service principal has a role allowing this on the resource group.",
        error,
      );
    }
    if (error.code && NOT_FOUND.has(error.code) && error.code !== "ResourceNotFound") {
      return jobFailure(
        "PLATFORM_NOT_FOUND",
        `Azure answered ${error.code} for ${call} (${what}): ${reason}. Check the fields subscriptionId and resourceGroup.`,
        error,
      );
    }
    return jobFailure("PLATFORM_REQUEST_FAILED", `Azure ${call} (${what}) failed with ${error.status}${error.code ? ` ${error.code}` : ""}: ${reason}.`, error);
  }
  return jobFailure("PLATFORM_REQUEST_FAILED", `Azure ${call} (${what}) failed: ${firstLine((error as Error)?.message ?? String(error))}.`, error);
}

function isNetworkError(error: unknown): boolean {
  // fetch (undici) throws TypeError("fetch failed") with the socket error as its cause; the storage SDK sets code.
  for (let e: any = error, depth = 0; e && depth < 5; e = e.cause ?? e.errors?.[0], depth++) {
    if (typeof e.code === "string" && NETWORK.has(e.code)) return true;
  }
  return error instanceof TypeError && (error as Error).message === "fetch failed";
}

function networkReason(error: unknown): string {
  for (let e: any = error, depth = 0; e && depth < 5; e = e.cause ?? e.errors?.[0], depth++) {
    if (typeof e.code === "string" && NETWORK.has(e.code)) return e.code;
  }
  return firstLine((error as Error)?.message ?? String(error));
}

function firstLine(text: string): string {
  return (text.split(/\r?\n/).find((l) => l.trim()) ?? "").trim().slice(0, 500) || "no reason given";
}
