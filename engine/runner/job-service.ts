import { EventEmitter } from "node:events";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EngineError, FieldError, ValidationFailedError } from "../errors";
import { ProbeContext, SubmitContext } from "../jobs/definition";
import { JOB_DEFINITIONS } from "../jobs/definitions";
import { isFinished, JobReport, JobType, JobView } from "../jobs/model";
import { referencedCredentials } from "../jobs/storage-fields";
import { StorageCredential } from "../platforms/storage";
import { ConnectorStore } from "../store/connector-store";
import { CredentialStore } from "../store/credential-store";
import { JobStore, jobNotFound, ListFilter } from "../store/job-store";
import { LOCAL_LOCATION_ID, LocationStore } from "../store/location-store";
import { DEFAULT_TIMEOUT_SECONDS } from "./executor";
import { ClaimedWork, LEASE_MS } from "./work";

export interface JobServiceDeps {
  jobs: JobStore;
  locations: LocationStore;
  connectors: ConnectorStore;
  credentials: CredentialStore;
  /** Whether this process runs the `local` location's jobs (so its local paths can be checked at submission). */
  runsLocal: boolean;
}

/** How long a dry run's live checks may take. */
const DRY_RUN_PROBE_MS = 60_000;
/** How long a dry run may take to work out what the job would do (a preparation reads the guest). */
const DRY_RUN_PREVIEW_MS = 10 * 60_000;

/** A dry run that finds the job would fail answers with the job's own code (422), saying so. */
async function dryRunFailure<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof EngineError && error.status === 422) {
      throw new EngineError(error.code, `The dry run found that the job would fail: ${error.message}`, undefined, { cause: error });
    }
    throw error;
  }
}

export type SubmitResult =
  | { job: JobView; /** An earlier submission with the same clientToken. */ replayed: boolean }
  | {
      dryRun: true;
      valid: true;
      parameters: Record<string, unknown>;
      /** Jobs with live checks (e.g. vCenter privileges): whether they ran (only for jobs of the embedded connector). */
      platformChecked?: boolean;
      /** What the job would do (e.g. a preparation's change record), for jobs that can tell without writing. */
      preview?: Record<string, unknown>;
    };

/** Common fields that would have no effect here: refused, never ignored. */
function commonRefusals(params: Record<string, unknown>): FieldError[] {
  if (typeof params.prefix === "string" && params.prefix !== "") {
    return [{ field: "prefix", message: "is not supported: it names the Compositing Engine VM IPS creates for a job, and imageport creates none. Leave it out (or empty)." }];
  }
  return [];
}

/** The queue: accepts jobs, hands them to connectors, records what they report. */
export class JobService {
  /** Emits "submitted" (locationId) so the embedded connector starts at once. */
  readonly events = new EventEmitter();

  constructor(private readonly deps: JobServiceDeps) {}

  async submit(customerId: string, type: JobType, body: Record<string, unknown>, dryRun: boolean): Promise<SubmitResult> {
    const definition = JOB_DEFINITIONS[type];
    const job = (id: string) => this.deps.jobs.get(customerId, id);
    // What is stored and run: the request, or what it refers to (e.g. a jobId's files).
    const params: Record<string, unknown> = definition.resolve ? await definition.resolve(body, { customerId, job }) : body;
    const locationId = typeof params.resourceLocationId === "string" ? params.resourceLocationId : LOCAL_LOCATION_ID;
    if (!(await this.deps.locations.find(customerId, locationId))) {
      throw new ValidationFailedError([
        { field: "resourceLocationId", message: `names '${locationId}', which does not exist; list them with GET /ips/resourceLocations` },
      ]);
    }
    const ctx: SubmitContext = {
      customerId,
      job,
      runsHere: this.deps.runsLocal && locationId === LOCAL_LOCATION_ID,
      credentialType: async (id) => {
        try {
          return (await this.deps.credentials.get(customerId, id)).type;
        } catch (err) {
          if (err instanceof EngineError && err.code === "CREDENTIAL_NOT_FOUND") return undefined;
          throw err;
        }
      },
    };
    const problems = await definition.validate(params, ctx);
    if (problems.length > 0) throw new ValidationFailedError(problems);
    const refused = [...commonRefusals(params), ...(definition.unsupported?.(params) ?? [])];
    if (refused.length > 0) {
      const code = definition.refusalCode ?? "UNSUPPORTED_OPTION";
      const list = refused.map((f) => `${f.field} ${f.message}`).join("; ");
      throw new EngineError(code, `The request asks for something this engine cannot do: ${list}`, refused);
    }
    if (dryRun) {
      if (!definition.dryRunProbe && !definition.dryRunPreview) return { dryRun: true, valid: true, parameters: params };
      if (!ctx.runsHere) return { dryRun: true, valid: true, parameters: params, platformChecked: false };
      const credentials = await this.resolveCredentials(customerId, params);
      const workDir = mkdtempSync(join(tmpdir(), "imageport-dry-run-"));
      try {
        const probeCtx: ProbeContext = {
          credential: (id) => {
            const found = credentials.find((c) => c.id === id);
            if (!found) throw new ValidationFailedError([{ field: "body", message: `names credential '${id}', which does not exist` }]);
            return found;
          },
          signal: AbortSignal.timeout(DRY_RUN_PROBE_MS),
          workDir,
        };
        const probed = (await definition.dryRunProbe?.(params, probeCtx)) ?? [];
        if (probed.length > 0) throw new ValidationFailedError(probed);
        const preview = definition.dryRunPreview ? await dryRunFailure(() => definition.dryRunPreview!(params, { ...probeCtx, signal: AbortSignal.timeout(DRY_RUN_PREVIEW_MS) })) : undefined;
        return { dryRun: true, valid: true, parameters: params, platformChecked: true, ...(preview ? { preview } : {}) };
      } finally {
        rmSync(workDir, { recursive: true, force: true });
      }
    }

    const clientToken = typeof params.clientToken === "string" ? params.clientToken : undefined;
    if (clientToken) {
      const replay = await this.replay(customerId, type, clientToken);
      if (replay) return { job: replay, replayed: true };
    }
    const newJob = {
      id: randomUUID(),
      type,
      resourceLocationId: locationId,
      parameters: params,
      steps: definition.steps(params).map((s) => s.name),
      timeoutSeconds: typeof params.timeout === "number" ? params.timeout : DEFAULT_TIMEOUT_SECONDS,
      clientToken,
    };
    let inserted: JobView;
    try {
      inserted = await this.deps.jobs.insert(customerId, newJob);
    } catch (err) {
      // Another submission with the same token won the race: answer with its job.
      const winner = clientToken ? await this.replay(customerId, type, clientToken) : undefined;
      if (!winner) throw err;
      return { job: winner, replayed: true };
    }
    this.events.emit("submitted", locationId);
    return { job: inserted, replayed: false };
  }

  /**
   * The job holding this token; a failed or cancelled one gives its token up here. (A complete
   * one gives it up when a later delete or inspect job finds its outputs gone: see report.)
   */
  private async replay(customerId: string, type: JobType, clientToken: string): Promise<JobView | undefined> {
    const existing = await this.deps.jobs.findByClientToken(customerId, clientToken);
    if (!existing) return undefined;
    if (existing.status === "failed" || existing.status === "cancelled") {
      await this.deps.jobs.releaseClientToken(customerId, existing.id);
      return undefined;
    }
    if (existing.type !== type) {
      throw new ValidationFailedError([
        { field: "clientToken", message: `is already used by ${existing.type} job '${existing.id}'; use a token per request` },
      ]);
    }
    return existing;
  }

  async get(customerId: string, id: string): Promise<JobView> {
    const job = await this.deps.jobs.get(customerId, id);
    if (!job) throw jobNotFound(id);
    return job;
  }

  list(customerId: string, filter: ListFilter): Promise<JobView[]> {
    return this.deps.jobs.list(customerId, filter);
  }

  /** 200 + cancelled job, 202 + job with cancelRequested, or 409 when it already ended. */
  async cancel(customerId: string, id: string): Promise<{ job: JobView; accepted: boolean }> {
    const before = await this.get(customerId, id);
    if (isFinished(before.status)) {
      throw new EngineError(
        "JOB_NOT_CANCELLABLE",
        `Job '${id}' has already ended (${before.status}); there is nothing to cancel.`,
      );
    }
    const job = (await this.deps.jobs.requestCancel(customerId, id))!;
    return { job, accepted: job.status === "inProgress" };
  }

  /** The next job for a connector, with the credentials it references (secrets included). */
  async claim(customerId: string, connectorId: string): Promise<ClaimedWork | undefined> {
    const connector = await this.deps.connectors.get(customerId, connectorId);
    const location = await this.deps.locations.find(customerId, connector.resourceLocationId);
    if (!location) return undefined;
    const claimed = await this.deps.jobs.claim(customerId, connectorId, location, connector.maxConcurrentJobs, LEASE_MS);
    if (!claimed) return undefined;
    return { job: claimed.view, credentials: await this.resolveCredentials(customerId, claimed.view.parameters) };
  }

  /**
   * Records a connector's report. A job that completes having removed or found gone another
   * job's outputs releases that job's clientToken in the same transaction, so the request
   * that made those outputs starts a new job when it is sent again.
   */
  async report(customerId: string, connectorId: string, jobId: string, report: JobReport) {
    let releaseClientTokenOf: string | undefined;
    if (report.status === "complete") {
      const job = await this.deps.jobs.get(customerId, jobId);
      const releases = job && JOB_DEFINITIONS[job.type].releasesClientTokenOf;
      if (job && releases) releaseClientTokenOf = releases(job.parameters, report.artifacts ?? {});
    }
    return this.deps.jobs.report(customerId, jobId, connectorId, report, LEASE_MS, { releaseClientTokenOf });
  }

  async heartbeat(customerId: string, connectorId: string, runningJobIds: string[]): Promise<string[]> {
    await this.deps.connectors.heartbeat(customerId, connectorId);
    return this.deps.jobs.renewLeases(customerId, connectorId, runningJobIds, LEASE_MS);
  }

  /** Takes back jobs whose connector stopped reporting, and fails jobs far past their timeout. */
  async sweep(): Promise<void> {
    await this.deps.jobs.takeBack(
      { leaseExpiredBefore: new Date().toISOString() },
      { code: "CONNECTOR_LOST", message: "The connector running this job stopped reporting." },
    );
    await this.deps.jobs.failOverdue(LEASE_MS * 2);
  }

  private async resolveCredentials(customerId: string, parameters: Record<string, unknown>): Promise<StorageCredential[]> {
    const out: StorageCredential[] = [];
    for (const id of referencedCredentials(parameters)) {
      try {
        const record = await this.deps.credentials.get(customerId, id);
        const secret = await this.deps.credentials.getSecret(customerId, id);
        out.push({ id, type: record.type, fields: { ...record.publicFields, ...secret } });
      } catch (err) {
        // Deleted since submission: the job fails with a clear error when it asks for it.
        if (!(err instanceof EngineError && err.code === "CREDENTIAL_NOT_FOUND")) throw err;
      }
    }
    return out;
  }
}
