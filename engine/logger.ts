import { closeSync, mkdirSync, openSync, writeSync } from "node:fs";
import { dirname } from "node:path";

export interface LogDestination {
  write(line: string): void;
  close(): void;
}

/**
 * JSON lines appended synchronously to `file` (and copied to stdout when asked): nothing is
 * lost on a crash or exit, and a test can read the file as soon as the engine is closed.
 */
export function openLogDestination(file: string, toStdout: boolean): LogDestination {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  let fd: number | undefined = openSync(file, "a", 0o600);
  return {
    write(line) {
      if (fd !== undefined) writeSync(fd, line);
      if (toStdout) process.stdout.write(line);
    },
    close() {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}

/**
 * pino options for fastify. Request logging is our own one line per request (see server.ts),
 * so no body or header is logged; redact is the second line of defence should one ever be.
 */
export function loggerOptions(stream: LogDestination, level = "info") {
  return {
    level,
    stream,
    base: { service: "imageportd" },
    timestamp: () => `,"time":"${new Date().toISOString()}"`,
    redact: {
      paths: [
        "req.headers.authorization",
        "req.headers.cookie",
        "req.body",
        "body",
        "headers.authorization",
        "*.client_secret",
        "*.access_token",
      ],
      censor: "[redacted]",
    },
    serializers: {
      req: (req: { method: string; url: string }) => ({ method: req.method, url: pathOnly(req.url) }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
  };
}

/** Query strings are dropped from logs: a client may put anything there. */
export function pathOnly(url: string): string {
  const i = url.indexOf("?");
  return i === -1 ? url : url.slice(0, i);
}
