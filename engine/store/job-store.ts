import { Kysely, Selectable, sql } from "kysely";
import { EngineError } from "../errors";
import { JobReport, JobStatus, JobStep, JobType, JobView, JobWarning } from "../jobs/model";
import { dialectOf } from "./dialect";
import { Database, JobsTable } from "./schema";

export interface NewJob {
  id: string;
  type: JobType;
  resourceLocationId: string;
  parameters: Record<string, unknown>;
  steps: string[];
  timeoutSeconds: number;
  clientToken?: string;
}

export interface ListFilter {
  pageSize: number;
  /** Position after which to continue (the last item of the previous page). */
  after?: { createdAt: string; id: string };
  status?: JobStatus;
  type?: JobType;
}

/** A job handed to a connector. */
export interface ClaimedJob {
  customerId: string;
  view: JobView;
}

/** Why a job in progress lost its runner; decides the warning or error it gets. */
export type LostRunner = { code: "ENGINE_RESTARTED" | "CONNECTOR_LOST"; message: string };

/** Attempts a job gets before a lost runner fails it instead of starting it again. */
export const MAX_ATTEMPTS = 3;

/** Jobs, their queue and their leases. Plain Kysely so SQLite and PostgreSQL behave alike. */
export class JobStore {
  #lastCreated = 0;

  constructor(private readonly db: Kysely<Database>) {}

  /** Creation times strictly increase within this engine, so "oldest first" is submission order. */
  private creationTime(): string {
    this.#lastCreated = Math.max(Date.now(), this.#lastCreated + 1);
    return new Date(this.#lastCreated).toISOString();
  }

  async insert(customerId: string, job: NewJob): Promise<JobView> {
    const now = this.creationTime();
    const steps: JobStep[] = job.steps.map((name) => ({ name, status: "notStarted", progressPercent: 0 }));
    await this.db
      .insertInto("jobs")
      .values({
        customer_id: customerId,
        id: job.id,
        type: job.type,
        status: "notStarted",
        resource_location_id: job.resourceLocationId,
        parameters: JSON.stringify(job.parameters),
        progress: 0,
        steps: JSON.stringify(steps),
        warnings: "[]",
        error_code: null,
        error_message: null,
        artifacts: "{}",
        timeout_seconds: job.timeoutSeconds,
        connector_id: null,
        attempt: 1,
        lease_expires_at: null,
        cancel_requested: 0,
        created_at: now,
        updated_at: now,
        started_at: null,
        finished_at: null,
        client_token: job.clientToken ?? null,
      })
      .execute();
    return (await this.get(customerId, job.id))!;
  }

  /** The job holding this client token, if any. */
  async findByClientToken(customerId: string, clientToken: string): Promise<JobView | undefined> {
    const row = await this.db
      .selectFrom("jobs")
      .selectAll()
      .where("customer_id", "=", customerId)
      .where("client_token", "=", clientToken)
      .executeTakeFirst();
    return row && toView(row);
  }

  /** Frees a failed or cancelled job's token so the same request can be tried again. */
  async releaseClientToken(customerId: string, id: string): Promise<void> {
    await this.db
      .updateTable("jobs")
      .set({ client_token: null })
      .where("customer_id", "=", customerId)
      .where("id", "=", id)
      .where("status", "in", ["failed", "cancelled"])
      .execute();
  }

  async get(customerId: string, id: string): Promise<JobView | undefined> {
    const row = await this.db
      .selectFrom("jobs")
      .selectAll()
      .where("customer_id", "=", customerId)
      .where("id", "=", id)
      .executeTakeFirst();
    return row && toView(row);
  }

  /** Newest first; ties on createdAt are broken by id so pages never overlap or skip. */
  async list(customerId: string, filter: ListFilter): Promise<JobView[]> {
    let query = this.db.selectFrom("jobs").selectAll().where("customer_id", "=", customerId);
    if (filter.status) query = query.where("status", "=", filter.status);
    if (filter.type) query = query.where("type", "=", filter.type);
    const after = filter.after;
    if (after) {
      query = query.where((eb) =>
        eb.or([
          eb("created_at", "<", after.createdAt),
          eb.and([eb("created_at", "=", after.createdAt), eb("id", "<", after.id)]),
        ]),
      );
    }
    const rows = await query.orderBy("created_at", "desc").orderBy("id", "desc").limit(filter.pageSize).execute();
    return rows.map(toView);
  }

  /**
   * Hands the oldest waiting job of the location to the connector, if the location and the
   * connector are below their limits. The conditional UPDATE (status still notStarted) makes
   * the claim atomic: of two connectors racing for one job, exactly one gets it.
   */
  async claim(
    customerId: string,
    connectorId: string,
    location: { id: string; maxConcurrentJobs: number },
    connectorLimit: number,
    leaseMs: number,
  ): Promise<ClaimedJob | undefined> {
    for (let race = 0; race < 5; race++) {
      const claimed = await this.db.transaction().execute(async (trx) => {
        const postgres = dialectOf(trx) === "postgres";
        // PostgreSQL runs claims of several engines or connections at once: lock the location
        // row so its limit is counted by one claim at a time. (SQLite runs one writer at a time.)
        if (postgres) {
          await trx
            .selectFrom("resource_locations")
            .select("id")
            .where("customer_id", "=", customerId)
            .where("id", "=", location.id)
            .forUpdate()
            .execute();
        }
        const running = await trx
          .selectFrom("jobs")
          .select((eb) => [
            eb.fn.countAll<number>().as("all"),
            eb.fn.sum<number>(eb.case().when("connector_id", "=", connectorId).then(1).else(0).end()).as("mine"),
          ])
          .where("customer_id", "=", customerId)
          .where("resource_location_id", "=", location.id)
          .where("status", "=", "inProgress")
          .executeTakeFirstOrThrow();
        if (Number(running.all) >= location.maxConcurrentJobs) return null;
        if (Number(running.mine ?? 0) >= connectorLimit) return null;

        const next = await trx
          .selectFrom("jobs")
          .select(["id"])
          .where("customer_id", "=", customerId)
          .where("resource_location_id", "=", location.id)
          .where("status", "=", "notStarted")
          .orderBy("created_at")
          .orderBy("id")
          .limit(1)
          .executeTakeFirst();
        if (!next) return null;

        const now = new Date();
        const result = await trx
          .updateTable("jobs")
          .set({
            status: "inProgress",
            connector_id: connectorId,
            lease_expires_at: new Date(now.getTime() + leaseMs).toISOString(),
            started_at: sql<string>`coalesce(started_at, ${now.toISOString()})`,
            updated_at: now.toISOString(),
          })
          .where("customer_id", "=", customerId)
          .where("id", "=", next.id)
          .where("status", "=", "notStarted")
          .executeTakeFirst();
        return Number(result.numUpdatedRows) === 1 ? next.id : undefined;
      });
      if (claimed === null) return undefined;
      if (claimed !== undefined) return { customerId, view: (await this.get(customerId, claimed))! };
    }
    return undefined; // lost every race: the other connectors are busy with them
  }

  /**
   * Records a connector's report on a job it holds and extends its lease. Returns whether the
   * job should be cancelled, or undefined when the connector no longer holds the job (it was
   * taken back after its lease expired): the connector must then stop working on it.
   */
  async report(
    customerId: string,
    id: string,
    connectorId: string,
    report: JobReport,
    leaseMs: number,
    onComplete: { releaseClientTokenOf?: string } = {},
  ): Promise<{ cancelRequested: boolean } | undefined> {
    const now = new Date().toISOString();
    const finished = report.status !== "inProgress";
    const release = report.status === "complete" ? onComplete.releaseClientTokenOf : undefined;
    // One transaction: a job recorded complete and the token it frees are never seen apart.
    const recorded = await this.db.transaction().execute(async (trx) => {
      const result = await trx
        .updateTable("jobs")
        .set({
          status: report.status,
          progress: report.overallProgressPercent,
          steps: JSON.stringify(report.steps),
          warnings: JSON.stringify(report.warnings),
          error_code: report.error?.code ?? null,
          error_message: report.error?.message ?? null,
          ...(report.artifacts ? { artifacts: JSON.stringify(report.artifacts) } : {}),
          lease_expires_at: finished ? null : new Date(Date.now() + leaseMs).toISOString(),
          updated_at: now,
          finished_at: finished ? now : null,
        })
        .where("customer_id", "=", customerId)
        .where("id", "=", id)
        .where("connector_id", "=", connectorId)
        .where("status", "=", "inProgress")
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) return false;
      if (release !== undefined) await releaseCompleteJobToken(trx, customerId, release);
      return true;
    });
    if (!recorded) return undefined;
    const row = await this.db
      .selectFrom("jobs")
      .select("cancel_requested")
      .where("customer_id", "=", customerId)
      .where("id", "=", id)
      .executeTakeFirstOrThrow();
    return { cancelRequested: row.cancel_requested === 1 };
  }

  /** Extends the leases of the jobs a connector says it is running; returns those to cancel. */
  async renewLeases(customerId: string, connectorId: string, jobIds: string[], leaseMs: number): Promise<string[]> {
    if (jobIds.length === 0) return [];
    await this.db
      .updateTable("jobs")
      .set({ lease_expires_at: new Date(Date.now() + leaseMs).toISOString() })
      .where("customer_id", "=", customerId)
      .where("connector_id", "=", connectorId)
      .where("status", "=", "inProgress")
      .where("id", "in", jobIds)
      .execute();
    const rows = await this.db
      .selectFrom("jobs")
      .select(["id", "status", "cancel_requested", "connector_id"])
      .where("customer_id", "=", customerId)
      .where("id", "in", jobIds)
      .execute();
    // Cancel what was asked to stop, and what is no longer this connector's to run.
    const stop = rows
      .filter((r) => r.cancel_requested === 1 || r.status !== "inProgress" || r.connector_id !== connectorId)
      .map((r) => r.id);
    const known = new Set(rows.map((r) => r.id));
    return [...stop, ...jobIds.filter((id) => !known.has(id))];
  }

  /**
   * Cancels a job: at once when it has not started, by request when it runs (its connector
   * stops it and reports "cancelled").
   */
  async requestCancel(customerId: string, id: string): Promise<JobView | undefined> {
    const now = new Date().toISOString();
    await this.db
      .updateTable("jobs")
      .set({
        status: "cancelled",
        error_code: "JOB_CANCELLED",
        error_message: "The job was cancelled before it started.",
        finished_at: now,
        updated_at: now,
      })
      .where("customer_id", "=", customerId)
      .where("id", "=", id)
      .where("status", "=", "notStarted")
      .execute();
    await this.db
      .updateTable("jobs")
      .set({ cancel_requested: 1, updated_at: now })
      .where("customer_id", "=", customerId)
      .where("id", "=", id)
      .where("status", "=", "inProgress")
      .execute();
    return this.get(customerId, id);
  }

  /** Jobs whose runner is gone: started again (from a clean slate) or, after MAX_ATTEMPTS, failed. */
  async takeBack(where: { connectorId?: string; leaseExpiredBefore?: string }, lost: LostRunner): Promise<JobView[]> {
    let query = this.db.selectFrom("jobs").selectAll().where("status", "=", "inProgress");
    if (where.connectorId) query = query.where("connector_id", "=", where.connectorId);
    if (where.leaseExpiredBefore) query = query.where("lease_expires_at", "<", where.leaseExpiredBefore);
    const rows = await query.execute();
    const changed: JobView[] = [];
    for (const row of rows) {
      const now = new Date().toISOString();
      const view = toView(row);
      let update: Partial<Selectable<JobsTable>>;
      if (row.cancel_requested === 1) {
        update = { status: "cancelled", error_code: "JOB_CANCELLED", error_message: `${lost.message} The job had been asked to cancel; it is now cancelled.`, finished_at: now };
      } else if (row.attempt >= MAX_ATTEMPTS) {
        update = {
          status: "failed",
          error_code: lost.code,
          error_message: `${lost.message} This was attempt ${row.attempt} of ${MAX_ATTEMPTS}, so the job is failed rather than started again; its partial output was never put under the output name. Submit it again.`,
          finished_at: now,
        };
      } else {
        const warning: JobWarning = {
          code: lost.code,
          message: `${lost.message} The job starts again from the beginning (attempt ${row.attempt + 1} of ${MAX_ATTEMPTS}).`,
          at: now,
        };
        update = {
          status: "notStarted",
          attempt: row.attempt + 1,
          progress: 0,
          steps: JSON.stringify(view.steps.map((s) => ({ name: s.name, status: "notStarted", progressPercent: 0 }))),
          warnings: JSON.stringify([...view.warnings, warning]),
        };
      }
      const result = await this.db
        .updateTable("jobs")
        .set({ ...update, connector_id: update.status === "notStarted" ? null : row.connector_id, lease_expires_at: null, updated_at: now })
        .where("customer_id", "=", row.customer_id)
        .where("id", "=", row.id)
        .where("status", "=", "inProgress")
        .where("updated_at", "=", row.updated_at) // untouched since we read it
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 1) changed.push((await this.get(row.customer_id, row.id))!);
    }
    return changed;
  }

  /** Jobs running past their own timeout (plus grace) whose connector did not stop them. */
  async failOverdue(graceMs: number): Promise<number> {
    const rows = await this.db
      .selectFrom("jobs")
      .select(["customer_id", "id", "started_at", "timeout_seconds", "updated_at"])
      .where("status", "=", "inProgress")
      .execute();
    let failed = 0;
    const nowMs = Date.now();
    for (const row of rows) {
      if (!row.started_at || Date.parse(row.started_at) + row.timeout_seconds * 1000 + graceMs > nowMs) continue;
      const now = new Date().toISOString();
      const result = await this.db
        .updateTable("jobs")
        .set({
          status: "failed",
          error_code: "JOB_TIMED_OUT",
          error_message: `The job ran longer than its timeout of ${row.timeout_seconds} s and its connector did not stop it. Raise "timeout" or check the connector.`,
          lease_expires_at: null,
          finished_at: now,
          updated_at: now,
        })
        .where("customer_id", "=", row.customer_id)
        .where("id", "=", row.id)
        .where("status", "=", "inProgress")
        .where("updated_at", "=", row.updated_at)
        .executeTakeFirst();
      failed += Number(result.numUpdatedRows);
    }
    return failed;
  }

  /** Whether any job of the location has not finished (a location in use cannot be deleted). */
  async hasUnfinished(customerId: string, locationId: string): Promise<boolean> {
    const row = await this.db
      .selectFrom("jobs")
      .select("id")
      .where("customer_id", "=", customerId)
      .where("resource_location_id", "=", locationId)
      .where("status", "in", ["notStarted", "inProgress"])
      .executeTakeFirst();
    return row !== undefined;
  }
}

/**
 * Frees a complete job's token once its outputs are gone (removed by a delete job, or found
 * missing by an inspect job), so the request that made them starts a new job when sent again.
 * Separate from releaseClientToken: that one frees only failed or cancelled jobs.
 */
async function releaseCompleteJobToken(db: Kysely<Database>, customerId: string, id: string): Promise<void> {
  await db
    .updateTable("jobs")
    .set({ client_token: null })
    .where("customer_id", "=", customerId)
    .where("id", "=", id)
    .where("status", "=", "complete")
    .execute();
}

export function jobNotFound(id: string): EngineError {
  return new EngineError(
    "JOB_NOT_FOUND",
    `Job '${id}' does not exist (or belongs to another customer). List jobs with GET /ips/jobs.`,
  );
}

function toView(row: Selectable<JobsTable>): JobView {
  const view: JobView = {
    id: row.id,
    type: row.type as JobType,
    status: row.status as JobStatus,
    overallProgressPercent: row.progress,
    steps: JSON.parse(row.steps) as JobStep[],
    warnings: JSON.parse(row.warnings) as JobWarning[],
    parameters: JSON.parse(row.parameters) as Record<string, unknown>,
    resourceLocationId: row.resource_location_id,
    attempt: row.attempt,
    cancelRequested: row.cancel_requested === 1,
    additionalInfo: { artifacts: JSON.parse(row.artifacts) as Record<string, unknown> },
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
  if (row.error_code) view.error = { code: row.error_code, message: row.error_message ?? "" };
  if (row.connector_id) view.connectorId = row.connector_id;
  if (row.started_at) view.startedAt = row.started_at;
  if (row.finished_at) view.finishedAt = row.finished_at;
  return view;
}
