// A real Azurite blob service (npm azurite 3.35.0, the newest that runs on Node 20) on
// 127.0.0.1:<free port> over a temporary --location, stopped by pid, location removed.

import { ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { freePort } from "./moto";
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
  // setpriv: Azurite dies with the test process even if that is SIGKILLed.
  const child: ChildProcess = spawn(
    "setpriv",
    ["--pdeathsig", "SIGKILL", "--", process.execPath, bin, "--blobHost", "127.0.0.1", "--blobPort", String(port), "--location", location, "--skipApiVersionCheck", "--disableTelemetry"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  const collect = (d: Buffer) => (output = (output + d.toString()).slice(-4000));
  child.stdout!.on("data", collect);
  child.stderr!.on("data", collect);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 2000);
      await exited;
      clearTimeout(killer);
    }
    rmSync(location, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  while (!output.includes("successfully listens")) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`azurite-blob exited with ${child.exitCode}: ${output}`);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`azurite-blob did not start within 30 s: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const url = `http://127.0.0.1:${port}`;
  const credential = new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY);
  return { url, pid: child.pid!, credential, service: new BlobServiceClient(`${url}/${AZURITE_ACCOUNT}`, credential), stop };
}
