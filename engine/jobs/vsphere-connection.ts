// The request fields that say how a job reaches vCenter (IPS's vSphere fields: host, port, the
// SSL options, the vCenter credential), their submission checks, and the connection a running
// job makes of them. Shared by every job that talks to vCenter.

import { X509Certificate } from "node:crypto";
import { FieldError } from "../errors";
import { normalizeFingerprint, VsphereConnection } from "../platforms/vsphere";
import { CREDENTIAL_ID_PATTERN } from "../api/schemas/credentials";
import { ProbeContext, SubmitContext } from "./definition";

export interface VsphereConnectionFields {
  vsphereHost?: string;
  vspherePort?: number;
  vsphereCredentialId?: string;
  vsphereSslCaCertificate?: string;
  vsphereSslFingerprint?: string;
  vsphereSslNoCheckHostname?: boolean;
}

export const VSPHERE_CONNECTION_PROPERTIES = {
  vsphereHost: { type: "string", pattern: "^[A-Za-z0-9.:\\[\\]-]{1,253}$", description: "vCenter (or ESXi) host name or address." },
  vspherePort: { type: "integer", minimum: 1, maximum: 65535, description: "Default 443." },
  vsphereCredentialId: { type: "string", pattern: CREDENTIAL_ID_PATTERN, description: "A UsernamePassword credential for vCenter (domain, if set, is appended as user@domain)." },
  vsphereSslCaCertificate: { type: "string", maxLength: 65536, description: "PEM of the CA that issued vCenter's certificate (e.g. its VMCA root); default: the system CAs." },
  vsphereSslFingerprint: { type: "string", maxLength: 128, description: "Trust exactly the certificate with this SHA-1 or SHA-256 fingerprint (hex, colons allowed)." },
  vsphereSslNoCheckHostname: { type: "boolean", description: "Accept a certificate issued for another name (its chain is still verified); default false." },
};

/** Checks of the connection fields, given that vsphereHost is set. */
export async function checkVsphereConnection(p: VsphereConnectionFields, ctx: SubmitContext): Promise<FieldError[]> {
  const errors: FieldError[] = [];
  if (p.vsphereHost === undefined) errors.push({ field: "vsphereHost", message: "is required: vCenter's host name or address" });
  if (p.vsphereCredentialId === undefined) {
    errors.push({ field: "vsphereCredentialId", message: "is required with vsphereHost: the id of a UsernamePassword credential for vCenter" });
  } else {
    const type = await ctx.credentialType(p.vsphereCredentialId);
    if (type === undefined) errors.push({ field: "vsphereCredentialId", message: `names credential '${p.vsphereCredentialId}', which does not exist; create it with POST /ips/credentials` });
    else if (type !== "UsernamePassword") errors.push({ field: "vsphereCredentialId", message: `must name a UsernamePassword credential; '${p.vsphereCredentialId}' is of type ${type}` });
  }
  if (p.vsphereSslFingerprint !== undefined && normalizeFingerprint(p.vsphereSslFingerprint) === undefined) {
    errors.push({ field: "vsphereSslFingerprint", message: "is not a SHA-1 or SHA-256 fingerprint: 40 or 64 hex digits, colons allowed" });
  }
  if (p.vsphereSslCaCertificate !== undefined && !parsesAsCertificate(p.vsphereSslCaCertificate)) {
    errors.push({ field: "vsphereSslCaCertificate", message: "is not a PEM certificate ('-----BEGIN CERTIFICATE-----' ...)" });
  }
  if (p.vsphereSslFingerprint !== undefined && (p.vsphereSslCaCertificate !== undefined || p.vsphereSslNoCheckHostname !== undefined)) {
    errors.push({ field: "vsphereSslFingerprint", message: "pins one certificate and cannot be combined with vsphereSslCaCertificate or vsphereSslNoCheckHostname; give one way to trust vCenter" });
  }
  return errors;
}

function parsesAsCertificate(pem: string): boolean {
  try {
    new X509Certificate(pem);
    return true;
  } catch {
    return false;
  }
}

/** The connection a running job makes: the credential's secret joins here, never earlier. */
export function vsphereConnection(p: VsphereConnectionFields, ctx: Pick<ProbeContext, "credential">): VsphereConnection {
  const credential = ctx.credential(p.vsphereCredentialId!);
  const { username, password, domain } = credential.fields as { username: string; password: string; domain?: string };
  return {
    host: p.vsphereHost!,
    port: p.vspherePort ?? 443,
    username: domain && !/[@\\]/.test(username) ? `${username}@${domain}` : username,
    password,
    tls: { caCertificate: p.vsphereSslCaCertificate, fingerprint: p.vsphereSslFingerprint, noCheckHostname: p.vsphereSslNoCheckHostname },
  };
}
