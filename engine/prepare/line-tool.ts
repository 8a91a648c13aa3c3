// A native tool that speaks a line protocol on stdin/stdout (the guest editors: volume-tool.h,
// hive-edit.c): it starts with "ready ..." or refuses with "fail CODE text", then answers one
// command at a time, "err ERRNO text" on failure. Commands are sent in the order asked and never
// overlap; a cancelled job sends nothing more; an answer out of step stops the tool.

import type { Duplex } from "node:stream";
import { ChildResult, runChild } from "../process/run-child";
import { ByteQueue } from "./byte-queue";

/** The tool refused to start: its "fail" line. */
export class ToolRefusal extends Error {
  override readonly name = "ToolRefusal";
  constructor(
    readonly code: string,
    readonly text: string,
  ) {
    super(text);
  }
}

/** The tool answered a command with "err ERRNO text". */
export class ToolAnswerError extends Error {
  override readonly name = "ToolAnswerError";
  constructor(
    readonly errno: string,
    readonly text: string,
  ) {
    super(`${text} (${errno})`);
  }
}

export interface LineToolOptions {
  signal: AbortSignal;
  /** A two-way channel on the tool's fd 3 (a block device it reads and writes). */
  onChannel?(channel: Duplex): void;
}

export class LineTool {
  private queue: Promise<unknown> = Promise.resolve();
  private ended = false;

  private constructor(
    /** The tool's stdout, for answers longer than their head line. */
    readonly out: ByteQueue,
    private readonly stdin: NodeJS.WritableStream,
    private readonly stopper: AbortController,
    private readonly signal: AbortSignal,
    /** Resolves when the tool has exited (undefined when it was stopped or could not start). */
    readonly exited: Promise<ChildResult | undefined>,
  ) {
    void exited.finally(() => (this.ended = true));
  }

  /** Starts the tool and waits for its first line; the rest of the "ready" line is returned. */
  static async start(path: string, args: string[], options: LineToolOptions): Promise<{ tool: LineTool; ready: string }> {
    const stopper = new AbortController();
    const out = new ByteQueue();
    let stdin!: NodeJS.WritableStream;
    const exited = runChild(path, args, {
      signal: AbortSignal.any([options.signal, stopper.signal]),
      onStdin: (s) => (stdin = s),
      onStdoutBytes: (chunk) => out.push(chunk),
      onChannel: options.onChannel,
    }).then(
      (result) => {
        const stderr = result.stderr.trim();
        out.end(new Error(`${path} exited (${result.code ?? result.exitSignal})${stderr ? `: ${stderr}` : ""}`));
        return result;
      },
      (error: Error) => {
        out.end(error);
        return undefined;
      },
    );
    const tool = new LineTool(out, stdin, stopper, options.signal, exited);
    let first: string;
    try {
      first = await out.line();
    } catch (error) {
      await exited;
      throw error;
    }
    const refused = /^fail (\S+) (.*)$/.exec(first);
    if (refused) {
      await exited;
      throw new ToolRefusal(refused[1]!, refused[2]!);
    }
    if (!/^ready( |$)/.test(first)) {
      await tool.stop();
      throw new Error(`unexpected first line: ${first.slice(0, 100)}`);
    }
    return { tool, ready: first.slice("ready".length).trim() };
  }

  /**
   * Sends one command (and its body) and gives its answer's head line to `answer`, which reads
   * whatever follows from `out`. An "err" answer rejects with ToolAnswerError.
   */
  command<T>(line: string, body: Buffer | undefined, answer: (head: string) => Promise<T>): Promise<T> {
    const run = async () => {
      if (this.signal.aborted) throw this.signal.reason;
      if (this.ended) throw new Error("the tool is no longer running");
      this.stdin.write(line + "\n");
      if (body) this.stdin.write(body);
      const head = await this.out.line();
      const err = /^err (\S+) (.*)$/.exec(head);
      if (err) throw new ToolAnswerError(err[1]!, err[2]!);
      try {
        return await answer(head);
      } catch (error) {
        await this.stop(); // out of step with the tool: nothing it says can be trusted any more
        throw error;
      }
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Stops the tool (SIGTERM, then SIGKILL) and waits for it to exit. */
  async stop(): Promise<void> {
    this.stopper.abort();
    await this.exited;
  }
}

/** An answer that must be exactly "ok". */
export async function expectOk(head: string): Promise<void> {
  if (head !== "ok") throw new Error(`unexpected answer: ${head.slice(0, 100)}`);
}
