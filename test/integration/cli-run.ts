import { ChildProcess, spawn } from "node:child_process";
import { resolve } from "node:path";

// Runs the `imageport` command as a user does (through bin/imageport), for the cli-*.test.ts files.

export const BIN = resolve(__dirname, "../../../bin/imageport");

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** The environment without any imageport/Citrix settings of the machine running the tests. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(IMAGEPORT|CITRIX)_/.test(k)) env[k] = v;
  return { ...env, ...extra };
}

export interface CliRun {
  child: ChildProcess;
  /** Resolves when stdout has matched the pattern. */
  stdoutMatches(pattern: RegExp): Promise<void>;
  done: Promise<CliResult>;
}

/** Starts `imageport ARGS`; the child is killed if it outlives `timeoutMs`. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = cleanEnv(), timeoutMs = 60_000): CliRun {
  const start = Date.now();
  const child = spawn(BIN, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  child.stdout!.on("data", (c: Buffer) => {
    stdout += c.toString();
    for (const w of waiters.splice(0)) {
      if (w.pattern.test(stdout)) w.resolve();
      else waiters.push(w);
    }
  });
  child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
  const killer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const done = new Promise<CliResult>((resolveDone) =>
    child.on("close", (code, signal) => {
      clearTimeout(killer);
      resolveDone({ code, signal, stdout, stderr, ms: Date.now() - start });
    }),
  );
  return {
    child,
    done,
    stdoutMatches: (pattern) =>
      new Promise<void>((resolveMatch, reject) => {
        if (pattern.test(stdout)) return resolveMatch();
        waiters.push({ pattern, resolve: resolveMatch });
        done.then((r) => reject(new Error(`exited (${r.code}) before stdout matched ${pattern}:\n${r.stdout}\n${r.stderr}`)));
      }),
  };
}

export function runCli(args: string[], env?: NodeJS.ProcessEnv, timeoutMs?: number): Promise<CliResult> {
  return startCli(args, env, timeoutMs).done;
}
