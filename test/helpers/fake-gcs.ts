// A real fake-gcs-server (fsouza/fake-gcs-server, the GCS emulator) on 127.0.0.1:<free port>,
// in-memory, from the build scripts/setup caches (${IMAGEPORT_CACHE}/fake-gcs-server-<version>),
// stopped by pid. Plus small readers for tests to look at what the engine left in "GCS".

import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { answers, freePort, startEmulator } from "./emulator-process";

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
  const server = await startEmulator({ name: "fake-gcs-server", command: fakeGcsServerPath(), args, ready: () => answers(`${url}/storage/v1/b`), timeoutMs: 20_000 });
  return {
    url,
    pid: server.pid,
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
    stop: server.stop,
  };
}
