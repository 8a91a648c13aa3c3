// How the engine trusts a vCenter, as IPS exposes it: the system CAs by default, a PEM CA
// certificate (e.g. one issued by vCenter's VMCA), a pinned certificate fingerprint (SHA-1 as
// vSphere and IPS show it, or SHA-256), and optionally no hostname check. The check runs in the
// agent's connection hook, before the socket is handed to a request, so nothing (no login, no
// password) is written to a server that failed it.

import * as http from "node:http";
import * as https from "node:https";
import * as tls from "node:tls";
import { Duplex } from "node:stream";
import { jobFailure, EngineError } from "../../errors";

export interface VsphereTlsOptions {
  /** PEM of the CA certificate(s) that issued vCenter's certificate (adds to the system CAs). */
  caCertificate?: string;
  /** SHA-1 or SHA-256 fingerprint of vCenter's certificate, hex with or without colons. */
  fingerprint?: string;
  /** Accept a certificate whose names do not match the host (the chain is still verified). */
  noCheckHostname?: boolean;
}

const SHA1_HEX = 40;
const SHA256_HEX = 64;

/** Hex digits of a fingerprint, upper case, or undefined when it is not SHA-1/SHA-256 hex. */
export function normalizeFingerprint(value: string): string | undefined {
  const hex = value.replace(/[:\s]/g, "").toUpperCase();
  if (!/^[0-9A-F]+$/.test(hex) || (hex.length !== SHA1_HEX && hex.length !== SHA256_HEX)) return undefined;
  return hex;
}

/** "AB:CD:..." as vSphere prints fingerprints. */
function colons(hex: string): string {
  return hex.match(/../g)!.join(":");
}

/** What the server presented, for a message that helps the user decide whom to trust. */
interface Presented {
  sha1: string;
  sha256: string;
  subject: string;
}

/** The server failed the trust check; raised before anything was sent to it. */
export function untrustedCertificate(host: string, reason: string, presented: Presented | undefined): EngineError {
  const seen = presented
    ? ` It presented '${presented.subject}' with SHA-256 fingerprint ${colons(presented.sha256)} (SHA-1 ${colons(presented.sha1)}).`
    : "";
  return jobFailure(
    "PLATFORM_CERTIFICATE_UNTRUSTED",
    `vCenter ${host} was not trusted: ${reason}.${seen} Nothing was sent to it. ` +
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
  const pin = options.fingerprint === undefined ? undefined : normalizeFingerprint(options.fingerprint);
  if (options.fingerprint !== undefined && pin === undefined) {
    throw jobFailure("VALIDATION_FAILED", "vsphereSslFingerprint is not a SHA-1 or SHA-256 fingerprint (40 or 64 hex digits, colons allowed).");
  }
  return new TrustingAgent(host, options, pin);
}

class TrustingAgent extends https.Agent {
  constructor(
    private readonly host: string,
    private readonly trust: VsphereTlsOptions,
    private readonly pin: string | undefined,
  ) {
    super({ keepAlive: true, maxSockets: 16 });
  }

  override createConnection(options: http.RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | undefined {
    const socket = tls.connect({
      ...(options as tls.ConnectionOptions),
      ...(this.trust.caCertificate ? { ca: [...tls.rootCertificates, this.trust.caCertificate] } : {}),
      // Judged below, once the handshake is done and before the socket is used.
      rejectUnauthorized: false,
      ...(this.trust.noCheckHostname ? { checkServerIdentity: () => undefined } : {}),
    });
    const onError = (error: Error) => callback?.(error, socket);
    socket.once("error", onError);
    socket.once("secureConnect", () => {
      socket.removeListener("error", onError);
      const refusal = this.judge(socket);
      if (refusal) {
        socket.destroy();
        callback?.(refusal, socket);
      } else {
        callback?.(null, socket);
      }
    });
    // Handed over through the callback only once it passed the check.
    return undefined;
  }

  private judge(socket: tls.TLSSocket): EngineError | undefined {
    const cert = socket.getPeerCertificate();
    const presented: Presented | undefined = cert?.fingerprint
      ? { sha1: cert.fingerprint.replace(/:/g, ""), sha256: cert.fingerprint256.replace(/:/g, ""), subject: subjectOf(cert) }
      : undefined;
    if (this.pin !== undefined) {
      const seen = this.pin.length === SHA1_HEX ? presented?.sha1 : presented?.sha256;
      if (seen !== this.pin) return untrustedCertificate(this.host, "its certificate does not match vsphereSslFingerprint", presented);
      return undefined;
    }
    if (!socket.authorized) {
      return untrustedCertificate(this.host, describeTlsError(String(socket.authorizationError)), presented);
    }
    return undefined;
  }
}

function subjectOf(cert: tls.PeerCertificate): string {
  const s = cert.subject as unknown as Record<string, string> | undefined;
  return [s?.CN && `CN=${s.CN}`, s?.O && `O=${s.O}`].filter(Boolean).join(", ") || "an unnamed certificate";
}

function describeTlsError(code: string): string {
  if (/SELF_SIGNED|UNABLE_TO_GET_ISSUER|UNABLE_TO_VERIFY_LEAF/.test(code)) return `its certificate is not issued by a trusted CA (${code})`;
  if (/ALTNAME|HOSTNAME|IP:/.test(code) || /does not match/.test(code)) return `its certificate is not valid for this host name (${code})`;
  if (/EXPIRED|NOT_YET_VALID/.test(code)) return `its certificate is outside its validity period (${code})`;
  return `its certificate failed verification (${code})`;
}
