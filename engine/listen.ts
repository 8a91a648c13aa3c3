// Where the engine listens: loopback by default; any other address only with TLS, since client
// secrets, bearer tokens and the decrypted credentials a connector claims cross that socket.

import { isIP } from "node:net";
import { EngineError } from "./errors";

export interface TlsFiles {
  /** PEM certificate chain (the server's certificate first). */
  cert: string;
  /** PEM private key. */
  key: string;
}

/** 127.0.0.0/8, ::1 and "localhost": addresses only this machine reaches. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "localhost" || h === "::1") return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  return /^::ffff:127\./.test(h);
}

/** Refuses a non-loopback address without TLS, naming the options that fix it. */
export function checkListenAddress(host: string, tls: TlsFiles | undefined): void {
  if (tls || isLoopback(host)) return;
  throw new EngineError(
    "TLS_REQUIRED",
    `Refusing to listen on ${host} without TLS: API secrets, bearer tokens and the credentials connectors claim would cross the network in clear text. ` +
      `Give a certificate and its key (imageport serve --tls-cert cert.pem --tls-key key.pem), or listen on 127.0.0.1 (the default).`,
  );
}
