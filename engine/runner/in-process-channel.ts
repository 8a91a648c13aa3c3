import { JobReport } from "../jobs/model";
import { JobService } from "./job-service";
import { ClaimedWork, WorkChannel } from "./work";

/** The embedded connector's channel: the job service itself, no HTTP in between. */
export class InProcessChannel implements WorkChannel {
  constructor(
    private readonly service: JobService,
    private readonly customerId: string,
    private readonly connectorId: string,
  ) {}

  claim(): Promise<ClaimedWork | undefined> {
    return this.service.claim(this.customerId, this.connectorId);
  }

  report(jobId: string, report: JobReport) {
    return this.service.report(this.customerId, this.connectorId, jobId, report);
  }

  heartbeat(runningJobIds: string[]): Promise<string[]> {
    return this.service.heartbeat(this.customerId, this.connectorId, runningJobIds);
  }
}
