// A real Azurite blob service (npm azurite 3.35.0, the newest that runs on Node 20) on
// 127.0.0.1:<free port> over a temporary --location, stopped by pid, location removed.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { freePort, startEmulator } from "./emulator-process";
import { REPO_ROOT } from "./paths";

/** Azurite's well-known development account (from its README; not a secret). */
export const AZURITE_ACCOUNT = "devstoreaccount1";
export const AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export interface Azurite {
  /** http://127.0.0.1:<port> (the account is the first path segment). */
  url: string;
  pid: number;
  credential: StorageSharedKeyCredential;
  service: BlobServiceClient;
  stop(): Promise<void>;
}

export async function startAzurite(): Promise<Azurite> {
  const port = await freePort();
  const location = mkdtempSync(join(tmpdir(), "imageport-azurite-"));
  const bin = join(REPO_ROOT, "node_modules", ".bin", "azurite-blob");
  const emulator = await startEmulator({
    name: "azurite-blob",
    command: process.execPath,
    args: [bin, "--blobHost", "127.0.0.1", "--blobPort", String(port), "--location", location, "--skipApiVersionCheck", "--disableTelemetry"],
    ready: (output) => output.includes("successfully listens"),
    timeoutMs: 30_000,
  }).catch((error) => {
    rmSync(location, { recursive: true, force: true });
    throw error;
  });
  const stop = async () => {
    await emulator.stop();
    rmSync(location, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  const credential = new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY);
  return { url, pid: emulator.pid, credential, service: new BlobServiceClient(`${url}/${AZURITE_ACCOUNT}`, credential), stop };
}
