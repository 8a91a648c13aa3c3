import * as net from "node:net";
import { jobFailure } from "../../errors";

/**
 * Opens and closes a TCP connection to host:port within timeoutMs. smbclient has no connect
 * timeout of its own (a filtered port would hang for minutes), so this fails fast and clearly.
 */
export function checkReachable(host: string, port: number, timeoutMs: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const finish = (err?: Error) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      socket.destroy();
      if (err) reject(err);
      else resolve();
    };
    const onAbort = () => finish(signal.reason as Error);
    const timer = setTimeout(
      () =>
        finish(
          jobFailure(
            "SHARE_UNREACHABLE",
            `The SMB server ${host}:${port} did not accept a connection within ${timeoutMs / 1000} s. ` +
              `Check the host name, the port, that the server is running and that no firewall drops the traffic.`,
          ),
        ),
      timeoutMs,
    );
    signal.addEventListener("abort", onAbort, { once: true });
    socket.once("connect", () => finish());
    socket.once("error", (err: NodeJS.ErrnoException) =>
      finish(
        jobFailure(
          "SHARE_UNREACHABLE",
          `The SMB server ${host}:${port} cannot be reached (${err.code ?? err.message}). ` +
            `Check the host name, the port and that the server is running and reachable from the engine host.`,
          err,
        ),
      ),
    );
  });
}
