// A real fake-gcs-server (fsouza/fake-gcs-server, the GCS emulator) on 127.0.0.1:<free port>,
// in-memory, from the build scripts/setup caches (${IMAGEPORT_CACHE}/fake-gcs-server-<version>),
// stopped by pid. Plus small readers for tests to look at what the engine left in "GCS".

import { ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { freePort } from "./moto";

export const FAKE_GCS_VERSION = "v1.56.1";

export interface FakeGcs {
  url: string;
  pid: number;
  createBucket(name: string): Promise<void>;
  /** The object's bytes, or undefined when it does not exist. */
  readObject(bucket: string, name: string): Promise<Buffer | undefined>;
  listObjects(bucket: string): Promise<string[]>;
  stop(): Promise<void>;
}

export function fakeGcsServerPath(): string {
  const cache = process.env.IMAGEPORT_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "imageport");
  const path = join(cache, `fake-gcs-server-${FAKE_GCS_VERSION}`, "bin", "fake-gcs-server");
  if (!existsSync(path)) throw new Error(`fake-gcs-server not found at ${path}: run scripts/setup (it builds fake-gcs-server@${FAKE_GCS_VERSION} there)`);
  return path;
}

export async function startFakeGcs(): Promise<FakeGcs> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const args = ["-scheme", "http", "-host", "127.0.0.1", "-port", String(port), "-backend", "memory", "-external-url", url, "-log-level", "warn"];
  // setpriv: the server dies with the test process even if that is SIGKILLed.
  const child: ChildProcess = spawn("setpriv", ["--pdeathsig", "SIGKILL", "--", fakeGcsServerPath(), ...args], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const killer = setTimeout(() => child.kill("SIGKILL"), 2000);
    await exited;
    clearTimeout(killer);
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`fake-gcs-server exited with ${child.exitCode}: ${stderr}`);
    try {
      if ((await fetch(`${url}/storage/v1/b`, { signal: AbortSignal.timeout(1000) })).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`fake-gcs-server did not answer on ${url} within 20 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    pid: child.pid!,
    async createBucket(name) {
      const res = await fetch(`${url}/storage/v1/b`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name }) });
      if (!res.ok) throw new Error(`create bucket ${name}: ${res.status} ${await res.text()}`);
    },
    async readObject(bucket, name) {
      const res = await fetch(`${url}/storage/v1/b/${bucket}/o/${encodeURIComponent(name)}?alt=media`);
      if (res.status === 404) return undefined;
      if (!res.ok) throw new Error(`read gs://${bucket}/${name}: ${res.status}`);
      return Buffer.from(await res.arrayBuffer());
    },
    async listObjects(bucket) {
      const res = await fetch(`${url}/storage/v1/b/${bucket}/o`);
      if (!res.ok) throw new Error(`list gs://${bucket}: ${res.status}`);
      return (((await res.json()) as { items?: Array<{ name: string }> }).items ?? []).map((o) => o.name);
    },
    stop,
  };
}
