import { SingleBar } from "cli-progress";
import { Job } from "../../client";
import { currentStep, formatProgressLine } from "./format";

/** How `jobs watch` shows a job while it runs. */
export interface JobProgressView {
  update(job: Job): void;
  /** A poll failed transiently; the watch goes on. */
  problem(message: string): void;
  /** Leaves the terminal clean for what is printed next. */
  stop(): void;
}

/**
 * A live bar on a terminal; one plain line per change anywhere else (pipes, files, CI logs),
 * where redrawing a bar would only write control characters.
 */
export function createJobProgressView(out: NodeJS.WritableStream & { isTTY?: boolean }, err: NodeJS.WritableStream): JobProgressView {
  return out.isTTY ? new BarView(out) : new LineView(out, err);
}

class LineView implements JobProgressView {
  private last?: string;
  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly err: NodeJS.WritableStream,
  ) {}
  update(job: Job): void {
    const line = formatProgressLine(job);
    if (line === this.last) return;
    this.last = line;
    this.out.write(line + "\n");
  }
  problem(message: string): void {
    this.err.write(`imageport: retrying after a failed poll: ${message}\n`);
  }
  stop(): void {}
}

class BarView implements JobProgressView {
  private readonly bar: SingleBar;
  private started = false;
  constructor(out: NodeJS.WritableStream) {
    this.bar = new SingleBar({
      stream: out,
      format: " {bar} {percentage}% | {status} | {step}",
      barsize: 30,
      barCompleteChar: "\u2588",
      barIncompleteChar: "\u2591",
      hideCursor: true,
      // Our own SIGINT handling stops the bar; cli-progress must not add a handler of its own.
      gracefulExit: false,
    });
  }
  update(job: Job): void {
    const step = currentStep(job);
    const payload = {
      status: job.cancelRequested && job.status === "inProgress" ? "cancelling" : job.status,
      step: step ? `${step.name} ${Math.round(step.progressPercent)}%` : "-",
    };
    if (!this.started) {
      this.bar.start(100, job.overallProgressPercent, payload);
      this.started = true;
    } else {
      this.bar.update(job.overallProgressPercent, payload);
    }
  }
  problem(message: string): void {
    if (this.started) this.bar.update({ step: `retrying: ${message.slice(0, 60)}` });
  }
  stop(): void {
    if (this.started) this.bar.stop();
    this.started = false;
  }
}
