import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ClientCredentials, ImageportClient } from "../../client";
import { REPO_ROOT } from "./paths";

/** An imageportd started as its own process (`imageport serve`), stopped by its pid. */
export class EngineProcess {
  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
    readonly dataDir: string,
    readonly credentials: ClientCredentials,
    private readonly ownsDataDir: boolean,
  ) {}

  /** Starts an engine on a fresh temporary data dir (removed on stop), or on the given one; `env` adds engine settings. */
  static async start(dataDir?: string, env: NodeJS.ProcessEnv = {}): Promise<EngineProcess> {
    const ownsDataDir = dataDir === undefined;
    dataDir ??= fs.mkdtempSync(path.join(os.tmpdir(), "imageportd-"));
    const child = spawn(process.execPath, [path.join(REPO_ROOT, "dist/cli/main.js"), "serve", "--data", dataDir, "--port", "0"], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...env },
    });
    let output = "";
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`imageportd did not start within 20 s:\n${output}`)), 20_000);
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        const m = /listening on (http:\/\/\S+)/.exec(output);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      };
      child.stdout!.on("data", onData);
      child.stderr!.on("data", (c: Buffer) => (output += c.toString()));
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`imageportd exited with ${code} before listening:\n${output}`));
      });
    });
    const credentials = JSON.parse(fs.readFileSync(path.join(dataDir, "client.json"), "utf8")) as ClientCredentials;
    return new EngineProcess(child, url, dataDir, credentials, ownsDataDir);
  }

  /** A client; tests see every failure (no retries), benchmarks may ask for the client's default retries. */
  client(options: { retries?: number } = {}): ImageportClient {
    return new ImageportClient({ endpoint: this.url, credentials: this.credentials, retries: options.retries ?? 0 });
  }

  /** Provider settings for a stack: everything the provider needs to reach this engine. */
  providerConfig(): Record<string, { value: string; secret?: boolean }> {
    return {
      "imageport:endpoint": { value: this.url },
      "imageport:customerId": { value: this.credentials.customerId },
      "imageport:clientId": { value: this.credentials.clientId },
      "imageport:clientSecret": { value: this.credentials.clientSecret, secret: true },
    };
  }

  async stop(): Promise<void> {
    await this.kill();
    if (this.ownsDataDir) fs.rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** Kills the engine without warning (SIGKILL), as a crash or power loss would; the data dir stays. */
  async crash(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    process.kill(this.child.pid!, "SIGKILL");
    await exited;
  }

  private async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    process.kill(this.child.pid!, "SIGTERM");
    const timer = setTimeout(() => this.child.exitCode === null && process.kill(this.child.pid!, "SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }
}
