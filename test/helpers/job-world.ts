import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ImageportClient } from "../../client";
import { Job } from "../../client/jobs";
import { waitForJob } from "../../client/waiter";
import { startTestEngine, TestEngine, TEST_CLIENT } from "./engine-harness";
import { Samba as SambaServer, startSamba, unixUserName } from "./samba";

export const SMB_USER = { username: unixUserName(), password: "Smb-pass-canary-7f3a91" };

/**
 * What the job tests share: a real engine (embedded connector), a scratch dir with an input
 * and an output directory, a real Samba share and a UsernamePassword credential for it.
 */
export interface JobWorld {
  engine: TestEngine;
  client: ImageportClient;
  root: string;
  inputDir: string;
  outputDir: string;
  shareDir: string;
  samba: SambaServer;
  /** file:// URL of a directory, with the trailing slash. */
  fileLocation(dir: string): string;
  smbLocation(path?: string): string;
  submit(type: string, body: object, query?: string): Promise<{ status: number; json: any; headers: Headers }>;
  /** Submits and waits for the end; fails the test on a non-202. */
  run(type: string, body: object, maxWaitMs?: number): Promise<Job>;
  wait(id: string, maxWaitMs?: number): Promise<Job>;
  close(): Promise<void>;
}

export async function startJobWorld(): Promise<JobWorld> {
  const root = mkdtempSync(join(tmpdir(), "imageport-jobs-"));
  const inputDir = join(root, "input");
  const outputDir = join(root, "output");
  const shareDir = join(root, "share");
  for (const d of [inputDir, outputDir, shareDir]) execFileSync("mkdir", ["-p", d]);
  execFileSync("chmod", ["0777", shareDir]);
  const samba = await startSamba({ shares: { images: shareDir }, users: [SMB_USER] });
  const engine = await startTestEngine();
  const client = new ImageportClient({
    endpoint: engine.engine.url,
    credentials: { customerId: engine.customerId, ...TEST_CLIENT },
    retries: 0,
  });
  const cred = await engine.api("POST", "/ips/credentials", { id: "smb", type: "UsernamePassword", ...SMB_USER });
  if (cred.status !== 201) throw new Error(`credential: ${cred.status} ${cred.text}`);

  const world: JobWorld = {
    engine,
    client,
    root,
    inputDir,
    outputDir,
    shareDir,
    samba,
    fileLocation: (dir) => pathToFileURL(dir).href + "/",
    smbLocation: (path = "") => samba.location("images", path),
    async submit(type, body, query = "") {
      const res = await engine.api("POST", `/ips/images/$${type}${query}`, body);
      return { status: res.status, json: res.json, headers: res.headers };
    },
    async run(type, body, maxWaitMs = 60_000) {
      const res = await world.submit(type, body);
      if (res.status !== 202) throw new Error(`submit ${type}: ${res.status} ${JSON.stringify(res.json)}`);
      return world.wait(res.json.id, maxWaitMs);
    },
    async wait(id, maxWaitMs = 60_000) {
      const result = await waitForJob(client.jobs, id, { maxWaitMs, minDelayMs: 100, maxDelayMs: 500 });
      if (!result.last || (result.state !== "SUCCESS" && result.state !== "FAILURE")) {
        throw new Error(`job ${id}: ${result.state} ${String(result.reason)}`);
      }
      return result.last;
    },
    async close() {
      await engine.close({ removeData: true });
      await samba.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
  return world;
}

/** sha256 of a disk's virtual content, computed without the engine: qemu-img to raw, then hash the file. */
export function independentContentHash(path: string, format: string, scratch: string): string {
  const raw = join(scratch, `oracle-${process.hrtime.bigint()}.raw`);
  execFileSync("qemu-img", ["convert", "-f", format === "vhd" ? "vpc" : format, "-O", "raw", path, raw]);
  try {
    return createHash("sha256").update(readFileSync(raw)).digest("hex");
  } finally {
    rmSync(raw, { force: true });
  }
}

/** A file's bytes hash and mtime: proof a source was not modified. */
export function fingerprint(path: string): { sha256: string; mtimeMs: number; size: number } {
  const st = statSync(path);
  return { sha256: createHash("sha256").update(readFileSync(path)).digest("hex"), mtimeMs: st.mtimeMs, size: st.size };
}
