import { ChildProcess, execFile, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REPO_ROOT } from "./paths";

export interface PulumiResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout and stderr together, for assertions on what the user sees. */
  output: string;
}

/**
 * A copy of a Pulumi program in a temporary directory, run with the real CLI through
 * scripts/pulumi-env: its own PULUMI_HOME and file:// backend, the provider plugin found
 * through Pulumi.yaml, and `pulumi-imageport` linked into node_modules as `npm link` would.
 */
export class PulumiProject {
  readonly root: string;
  readonly dir: string;
  readonly home: string;
  readonly backend: string;

  constructor(readonly programDir: string, readonly stack = "test") {
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), "imageport-e2e-"));
    this.dir = path.join(this.root, "program");
    this.home = path.join(this.root, "pulumi-home");
    this.backend = path.join(this.root, "state");
    fs.cpSync(programDir, this.dir, { recursive: true });
    fs.mkdirSync(this.backend);
    const yamlPath = path.join(this.dir, "Pulumi.yaml");
    const yaml = fs.readFileSync(yamlPath, "utf8").replace(/path: \S*bin\s*$/m, `path: ${path.join(REPO_ROOT, "bin")}`);
    fs.writeFileSync(yamlPath, yaml);
    const modules = path.join(this.dir, "node_modules");
    fs.mkdirSync(modules);
    fs.symlinkSync(path.join(REPO_ROOT, "node_modules", "@pulumi"), path.join(modules, "@pulumi"));
    fs.symlinkSync(REPO_ROOT, path.join(modules, "pulumi-imageport"));
  }

  /** Removes the project, its state and its PULUMI_HOME. */
  dispose(): void {
    fs.rmSync(this.root, { recursive: true, force: true });
  }

  /** Runs `pulumi ARGS` in the project; never throws on a non-zero exit. */
  run(args: string[], timeoutMs = 300_000): Promise<PulumiResult> {
    return new Promise((resolve) => {
      execFile(
        path.join(REPO_ROOT, "scripts/pulumi-env"),
        ["pulumi", "--non-interactive", "--color=never", ...args],
        {
          cwd: this.dir,
          timeout: timeoutMs,
          maxBuffer: 64 << 20,
          env: this.env(),
        },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
          resolve({ code, stdout, stderr, output: `${stdout}\n${stderr}` });
        },
      );
    });
  }

  /** Starts `pulumi ARGS` in the background (to interrupt it); its output collects in `output()`. */
  start(args: string[]): { child: ChildProcess; output(): string } {
    let output = "";
    const child = spawn(path.join(REPO_ROOT, "scripts/pulumi-env"), ["pulumi", "--non-interactive", "--color=never", ...args], {
      cwd: this.dir,
      stdio: ["ignore", "pipe", "pipe"],
      env: this.env(),
    });
    child.stdout!.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr!.on("data", (c: Buffer) => (output += c.toString()));
    return { child, output: () => output };
  }

  private env(): NodeJS.ProcessEnv {
    return { ...process.env, PULUMI_HOME: this.home, PULUMI_BACKEND_URL: `file://${this.backend}` };
  }

  /** Runs and fails the test with the CLI's output if the command failed. */
  async ok(args: string[]): Promise<PulumiResult> {
    const r = await this.run(args);
    if (r.code !== 0) throw new Error(`pulumi ${args.join(" ")} exited with ${r.code}:\n${r.output}`);
    return r;
  }

  async init(config: Record<string, { value: string; secret?: boolean }> = {}): Promise<void> {
    await this.ok(["stack", "init", this.stack]);
    await this.setConfig(config);
  }

  async setConfig(config: Record<string, { value: string; secret?: boolean }>): Promise<void> {
    for (const [key, { value, secret }] of Object.entries(config)) {
      await this.ok(["config", "set", key, "--stack", this.stack, ...(secret ? ["--secret"] : ["--plaintext"]), "--", value]);
    }
  }

  async removeConfig(key: string): Promise<void> {
    await this.ok(["config", "rm", key, "--stack", this.stack]);
  }

  async outputs(): Promise<Record<string, unknown>> {
    return JSON.parse((await this.ok(["stack", "output", "--json", "--show-secrets", "--stack", this.stack])).stdout);
  }

  /** The resources of the stack's last checkpoint, as `pulumi stack export` shows them. */
  async resources(): Promise<{ urn: string; type: string; id?: string; outputs?: Record<string, unknown> }[]> {
    const state = JSON.parse((await this.ok(["stack", "export", "--stack", this.stack])).stdout);
    return state.deployment?.resources ?? [];
  }
}

/** Every file below dir, as bytes, for searching secrets. */
export function filesBelow(dir: string): { file: string; bytes: Buffer }[] {
  const out: { file: string; bytes: Buffer }[] = [];
  if (!fs.existsSync(dir)) return out;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name);
    out.push({ file, bytes: fs.readFileSync(file) });
  }
  return out;
}
