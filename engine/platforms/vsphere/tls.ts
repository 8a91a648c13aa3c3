// How the engine trusts a vCenter, as IPS exposes it: the system CAs by default, a PEM CA
// certificate (e.g. one issued by vCenter's VMCA), a pinned certificate fingerprint (SHA-1 as
// vSphere and IPS show it, or SHA-256), and optionally no hostname check. The agent is the
// client's (client/tls-trust.ts): nothing (no login, no password) is written to a vCenter that
// failed the check.

import * as https from "node:https";
import { describePresented, normalizeFingerprint, Presented, trustingAgent, TrustOptions } from "../../../client/tls-trust";
import { EngineError, jobFailure, ValidationFailedError } from "../../errors";

export { normalizeFingerprint };
export type VsphereTlsOptions = TrustOptions;

/** The server failed the trust check; raised before anything was sent to it. */
export function untrustedCertificate(host: string, reason: string, presented: Presented | undefined): EngineError {
  return jobFailure(
    "PLATFORM_CERTIFICATE_UNTRUSTED",
    `vCenter ${host} was not trusted: ${reason.replace("the pinned fingerprint", "vsphereSslFingerprint")}.${describePresented(presented)} Nothing was sent to it. ` +
      `To trust it, give vsphereSslCaCertificate (the PEM of the CA that issued its certificate), ` +
      `or pin its certificate with vsphereSslFingerprint (SHA-1 or SHA-256, as 'govc about.cert -thumbprint' prints it); ` +
      `if only the name does not match the host, set vsphereSslNoCheckHostname: true.`,
  );
}

/**
 * An HTTPS agent for one vCenter that verifies every new connection as `options` say and
 * refuses it otherwise (the request then fails with PLATFORM_CERTIFICATE_UNTRUSTED).
 */
export function vsphereAgent(host: string, options: VsphereTlsOptions): https.Agent {
  if (options.fingerprint !== undefined && normalizeFingerprint(options.fingerprint) === undefined) {
    throw new ValidationFailedError([{ field: "vsphereSslFingerprint", message: "is not a SHA-1 or SHA-256 fingerprint (40 or 64 hex digits, colons allowed)" }]);
  }
  return trustingAgent(options, (reason, presented) => untrustedCertificate(host, reason, presented));
}
