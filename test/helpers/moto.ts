// A real moto_server (the AWS emulator) on 127.0.0.1:<free port>, from the venv scripts/setup
// installs (${IMAGEPORT_CACHE}/moto-<version>), stopped by pid. Plus SDK clients pointed at
// it, for tests to look at what the engine left in "AWS".

import { createHash } from "node:crypto";
import { createServer as createHttpServer, request as httpRequest, Server } from "node:http";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { EBSClient } from "@aws-sdk/client-ebs";
import { EC2Client } from "@aws-sdk/client-ec2";
import { answers, freePort, startEmulator } from "./emulator-process";

export const MOTO_VERSION = "5.2.5";
export const MOTO_REGION = "us-east-1";
/** moto accepts any key; these are what the tests store in the engine's Aws credential. */
export const MOTO_KEYS = { accessKeyId: "AKIAIMAGEPORTTEST01", secretAccessKey: "moto-secret-canary-4b1d9e" };

/** One request the engine sent to "AWS", as the recording proxy in front of moto saw it. */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** The body as text when it is a form (the EC2 query API), else undefined. */
  form?: URLSearchParams;
  bodyLength: number;
  /** base64 SHA-256 of the body. */
  bodySha256: string;
}

export interface Moto {
  /** The recording proxy's URL (what the engine is pointed at). */
  url: string;
  /** moto_server's own URL. */
  motoUrl: string;
  /** Every request that went through `url`, in arrival order. */
  requests: RecordedRequest[];
  pid: number;
  ebs: EBSClient;
  ec2: EC2Client;
  stop(): Promise<void>;
}

export function motoServerPath(): string {
  const cache = process.env.IMAGEPORT_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "imageport");
  const path = join(cache, `moto-${MOTO_VERSION}`, "bin", "moto_server");
  if (!existsSync(path)) throw new Error(`moto_server not found at ${path}: run scripts/setup (it installs moto[server]==${MOTO_VERSION} there)`);
  return path;
}

export async function startMoto(): Promise<Moto> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = await startEmulator({
    name: "moto_server",
    command: motoServerPath(),
    args: ["-H", "127.0.0.1", "-p", String(port)],
    ready: () => answers(`${url}/moto-api/data.json`),
    timeoutMs: 30_000,
  });
  // A copy: the SDK marks the credentials object it is given (adds $source).
  const config = { region: MOTO_REGION, endpoint: url, credentials: { ...MOTO_KEYS }, maxAttempts: 1 };
  const ebs = new EBSClient(config);
  const ec2 = new EC2Client(config);
  const requests: RecordedRequest[] = [];
  const proxy = await startRecordingProxy(port, requests);
  return {
    url: `http://127.0.0.1:${(proxy.address() as { port: number }).port}`,
    motoUrl: url,
    requests,
    pid: server.pid,
    ebs,
    ec2,
    async stop() {
      ebs.destroy();
      ec2.destroy();
      proxy.closeAllConnections();
      await new Promise((r) => proxy.close(r));
      await server.stop();
    },
  };
}

/**
 * A pass-through HTTP proxy in front of moto that records each request: moto does not keep
 * what it ignores (checksums, RegisterImage's block device mappings), the record does.
 */
function startRecordingProxy(motoPort: number, requests: RecordedRequest[]): Promise<Server> {
  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const form = String(req.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded") ? new URLSearchParams(body.toString()) : undefined;
      requests.push({
        method: req.method!,
        path: req.url!,
        headers: { ...req.headers },
        ...(form ? { form } : {}),
        bodyLength: body.length,
        bodySha256: createHash("sha256").update(body).digest("base64"),
      });
      const upstream = httpRequest(
        { host: "127.0.0.1", port: motoPort, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on("error", (err) => {
        res.writeHead(502);
        res.end(String(err));
      });
      upstream.end(body);
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}
