import { jobFailure } from "../errors";
import { cancelled, executeJob, ExecutorLog, RunningJob } from "./executor";
import { HEARTBEAT_MS, WorkChannel } from "./work";

export interface ConnectorLoopOptions {
  /** Jobs this connector runs at once. */
  slots: number;
  /** Scratch space for jobs (downloads, staged outputs). */
  workRoot: string;
  log: ExecutorLog;
  /** How often an idle connector asks for work. */
  pollMs?: number;
}

/**
 * A connector: asks for work while it has free slots, runs each job with the executor,
 * heartbeats for the jobs it runs and stops the ones the engine says to stop.
 */
export class ConnectorLoop {
  readonly #running = new Map<string, RunningJob>();
  #stopped = false;
  #wake?: () => void;
  #wakeHeartbeat?: () => void;
  #loops: Promise<void>[] = [];

  constructor(
    private readonly channel: WorkChannel,
    private readonly options: ConnectorLoopOptions,
  ) {}

  start(): void {
    this.#loops = [this.claimLoop(), this.heartbeatLoop()];
  }

  /** A job was submitted: look for work now instead of at the next poll. */
  wake(): void {
    this.#wake?.();
  }

  get runningJobIds(): string[] {
    return [...this.#running.keys()];
  }

  /**
   * Stops taking work and stops running jobs without reporting them finished: the engine takes
   * them back and starts them again (ENGINE_RESTARTED), as after a crash, only sooner.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.wake();
    this.#wakeHeartbeat?.();
    for (const job of this.#running.values()) {
      job.abort(jobFailure("ENGINE_RESTARTED", "The connector stopped while the job was running."));
    }
    await Promise.allSettled([...this.#running.values()].map((j) => j.done));
    await Promise.allSettled(this.#loops);
  }

  private async claimLoop(): Promise<void> {
    while (!this.#stopped) {
      let claimed = false;
      if (this.#running.size < this.options.slots) {
        try {
          const work = await this.channel.claim();
          if (work && !this.#stopped) {
            claimed = true;
            const running = executeJob(work, this.channel, this.options.workRoot, this.options.log);
            this.#running.set(running.id, running);
            void running.done.finally(() => {
              this.#running.delete(running.id);
              this.wake();
            });
          }
        } catch (err) {
          this.options.log.warn({ err: String(err) }, "asking the engine for work failed; retrying");
        }
      }
      if (!claimed) await this.sleep(this.options.pollMs ?? 1000);
    }
  }

  private async heartbeatLoop(): Promise<void> {
    while (!this.#stopped) {
      try {
        for (const id of await this.channel.heartbeat(this.runningJobIds)) this.#running.get(id)?.abort(cancelled());
      } catch (err) {
        this.options.log.warn({ err: String(err) }, "heartbeat failed; retrying");
      }
      await this.sleep(HEARTBEAT_MS, false);
    }
  }

  private sleep(ms: number, wakeable = true): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      if (wakeable) this.#wake = done;
      else this.#wakeHeartbeat = done;
    });
  }
}
