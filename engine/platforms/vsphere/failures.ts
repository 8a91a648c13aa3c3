// vSphere errors as engine failures: untrusted certificate (already coded by tls.ts),
// unreachable, refused login or privilege, missing object, anything else. Never includes
// request parameters (the password travels only in the Login body).

import { EngineError, jobFailure } from "../../errors";
import { SoapFault, text, XmlNode } from "./soap";

const NETWORK = /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ECONNABORTED|EPIPE|ERR_SOCKET_CLOSED)$/;

/** Runs one step against vCenter; a failure becomes a coded engine error naming what was being done. */
export async function vsphereCall<T>(address: string, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw vsphereFailure(what, address, error);
  }
}

export function vsphereFailure(what: string, address: string, error: unknown): EngineError {
  if (error instanceof EngineError) return error;
  const cause = (error as { cause?: unknown })?.cause;
  if (cause instanceof EngineError) return cause;
  if (error instanceof SoapFault) return faultFailure(what, address, error);
  const code = String((error as { code?: string })?.code ?? (cause as { code?: string })?.code ?? "");
  if (NETWORK.test(code)) {
    return jobFailure(
      "PLATFORM_UNREACHABLE",
      `vCenter ${address} could not be reached to ${what} (${code}). Check vsphereHost and vspherePort, and that the connector can reach vCenter on that port.`,
      error,
    );
  }
  if ((error as Error)?.name === "AbortError" || (error as Error)?.name === "CanceledError") throw error;
  return jobFailure("PLATFORM_REQUEST_FAILED", `vCenter ${address} failed to ${what}: ${firstLine((error as Error)?.message ?? String(error))}.`, error);
}

function faultFailure(what: string, address: string, fault: SoapFault): EngineError {
  switch (fault.faultName) {
    case "InvalidLogin":
      return jobFailure(
        "PLATFORM_ACCESS_DENIED",
        `vCenter ${address} refused the login (InvalidLogin): the user name or password of the UsernamePassword credential named by vsphereCredentialId is wrong.`,
        fault,
      );
    case "NoPermission": {
      const privilege = text((fault.detail as XmlNode)["privilegeId"]);
      return jobFailure(
        "PLATFORM_ACCESS_DENIED",
        `vCenter ${address} refused to ${what} (NoPermission${privilege ? `: the privilege ${privilege} is missing` : ""}). ` +
          `Grant the account of vsphereCredentialId ${privilege ?? "the privilege"} on the VM (run the job with dryRun to list every missing privilege).`,
        fault,
      );
    }
    case "DuplicateName":
      return jobFailure("OUTPUT_EXISTS", `vCenter ${address} could not ${what}: the name is taken (${firstLine(fault.message)}). Choose another name (imageName).`, fault);
    case "ManagedObjectNotFound":
      return jobFailure("PLATFORM_NOT_FOUND", `vCenter ${address} could not ${what}: the object no longer exists (ManagedObjectNotFound).`, fault);
    default:
      return jobFailure("PLATFORM_REQUEST_FAILED", `vCenter ${address} could not ${what} (${fault.faultName}: ${firstLine(fault.message)}).`, fault);
  }
}

function firstLine(s: string): string {
  return s.split("\n")[0]!.slice(0, 300);
}
