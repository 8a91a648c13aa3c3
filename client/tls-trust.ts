// Whom an HTTPS client trusts, as IPS exposes it for vCenter and as a connector needs it for a
// remote engine: the system CAs by default, a PEM CA certificate (added to them), a pinned
// certificate fingerprint (SHA-1 as vSphere shows it, or SHA-256), optionally no hostname
// check. The check runs in the agent's connection hook, before the socket is handed to a
// request, so nothing (no token, no password, no registration code) is written to a server
// that failed it.

import * as http from "node:http";
import * as https from "node:https";
import { Duplex } from "node:stream";
import * as tls from "node:tls";

export interface TrustOptions {
  /** PEM of the CA certificate(s) that issued the server's certificate (adds to the system CAs). */
  caCertificate?: string;
  /** SHA-1 or SHA-256 fingerprint of the server's certificate, hex with or without colons. */
  fingerprint?: string;
  /** Accept a certificate whose names do not match the host (the chain is still verified). */
  noCheckHostname?: boolean;
}

/** What the server presented, for a message that helps the user decide whom to trust. */
export interface Presented {
  sha1: string;
  sha256: string;
  subject: string;
}

/** Builds the error a refused connection fails with; `reason` says why ("its certificate ..."). */
export type Refusal = (reason: string, presented: Presented | undefined) => Error;

const SHA1_HEX = 40;
const SHA256_HEX = 64;

/** Hex digits of a fingerprint, upper case, or undefined when it is not SHA-1/SHA-256 hex. */
export function normalizeFingerprint(value: string): string | undefined {
  const hex = value.replace(/[:\s]/g, "").toUpperCase();
  if (!/^[0-9A-F]+$/.test(hex) || (hex.length !== SHA1_HEX && hex.length !== SHA256_HEX)) return undefined;
  return hex;
}

/** "AB:CD:..." as vSphere and openssl print fingerprints. */
export function colons(hex: string): string {
  return hex.match(/../g)!.join(":");
}

/**
 * An HTTPS agent that verifies every new connection as `trust` says and fails it with
 * `refuse(...)` otherwise. `trust.fingerprint` must be valid (normalizeFingerprint).
 */
export function trustingAgent(trust: TrustOptions, refuse: Refusal): https.Agent {
  const pin = trust.fingerprint === undefined ? undefined : normalizeFingerprint(trust.fingerprint);
  if (trust.fingerprint !== undefined && pin === undefined) throw new Error("the fingerprint is not SHA-1 or SHA-256 hex (40 or 64 hex digits, colons allowed)");
  return new TrustingAgent(trust, pin, refuse);
}

class TrustingAgent extends https.Agent {
  constructor(
    private readonly trust: TrustOptions,
    private readonly pin: string | undefined,
    private readonly refuse: Refusal,
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

  private judge(socket: tls.TLSSocket): Error | undefined {
    const cert = socket.getPeerCertificate();
    const presented: Presented | undefined = cert?.fingerprint
      ? { sha1: cert.fingerprint.replace(/:/g, ""), sha256: cert.fingerprint256.replace(/:/g, ""), subject: subjectOf(cert) }
      : undefined;
    if (this.pin !== undefined) {
      const seen = this.pin.length === SHA1_HEX ? presented?.sha1 : presented?.sha256;
      return seen === this.pin ? undefined : this.refuse("its certificate does not match the pinned fingerprint", presented);
    }
    if (!socket.authorized) return this.refuse(describeTlsError(String(socket.authorizationError)), presented);
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

/** "It presented ... with SHA-256 fingerprint ..." for refusal messages. */
export function describePresented(presented: Presented | undefined): string {
  return presented ? ` It presented '${presented.subject}' with SHA-256 fingerprint ${colons(presented.sha256)} (SHA-1 ${colons(presented.sha1)}).` : "";
}
