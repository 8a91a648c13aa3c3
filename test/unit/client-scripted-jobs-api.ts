import * as http from "http";
import { AddressInfo } from "net";
import { Job } from "../../client";

// A scripted IPS-shaped API on 127.0.0.1 for the waiter's and `jobs watch`'s edge cases that a
// real engine cannot be made to produce on cue (503s, dropped connections, a job that never ends).
// Not a test file: imported by client-wait-for-job-*.test.ts and cli-jobs-watch-*.test.ts.

/** [status, body]; status 0 drops the connection without an answer, -1 never answers. */
export type Answer = [number, unknown];

export class ScriptedJobsApi {
  readonly calls: string[] = [];
  private readonly script = new Map<string, Answer[]>();
  private readonly server = http.createServer((req, res) => this.handle(req, res));
  url = "";

  async start(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    return (this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`);
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }

  /** Answers for a route ("GET /ips/jobs/j1"), in order; the last one repeats. */
  on(route: string, ...answers: Answer[]): void {
    this.script.set(route, answers);
  }

  count(route: string): number {
    return this.calls.filter((c) => c === route).length;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    req.resume();
    res.setHeader("Content-Type", "application/json");
    if (req.url!.startsWith("/cctrustoauth2/")) {
      res.end(JSON.stringify({ access_token: "t", token_type: "bearer", expires_in: 3600 }));
      return;
    }
    const route = `${req.method} ${req.url}`;
    this.calls.push(route);
    const queue = this.script.get(route);
    const [status, body] = (queue && queue.length > 1 ? queue.shift() : queue?.[0]) ?? [404, { error: { code: "NOT_FOUND", message: `no route ${route}` } }];
    if (status === -1) return;
    if (status === 0) {
      req.socket.destroy();
      return;
    }
    res.statusCode = status;
    res.end(JSON.stringify(body));
  }
}

/** A job as the contract shapes it, with overrides. */
export function job(overrides: Partial<Job> = {}): Job {
  return {
    id: "j1",
    type: "export",
    status: "inProgress",
    overallProgressPercent: 0,
    steps: [
      { name: "validate", status: "complete", progressPercent: 100 },
      { name: "convert", status: "inProgress", progressPercent: 0 },
    ],
    warnings: [],
    parameters: {},
    resourceLocationId: "local",
    attempt: 1,
    cancelRequested: false,
    additionalInfo: { artifacts: {} },
    createdAt: "2026-01-01T00:00:00.000Z",
    updatedAt: "2026-01-01T00:00:01.000Z",
    ...overrides,
  };
}

export const UNAVAILABLE: Answer = [503, { error: { code: "INTERNAL", message: "busy" } }];
