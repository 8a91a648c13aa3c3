import { strict as assert } from "assert";
import { PassThrough } from "stream";
import { ApiError, ConfigurationError, CredentialView } from "../../client";
import { describeError } from "../../cli/output/errors";
import {
  credentialIdentity,
  currentStep,
  formatBytes,
  formatCredentialTable,
  formatJobSummary,
  formatJobTable,
  formatProgressLine,
  formatTime,
} from "../../cli/output/format";
import { createJobProgressView } from "../../cli/output/progress";
import { renderTable } from "../../cli/output/table";
import { job } from "./client-scripted-jobs-api";

describe("cli: output formatting", () => {
  it("pads table columns to the widest cell, right-aligns numbers and leaves no trailing spaces", () => {
    const text = renderTable([{ header: "ID" }, { header: "PCT", align: "right" }, { header: "NOTE" }], [["a", "5%", ""], ["longer-id", "100%", "x"]]);
    assert.equal(text, "ID          PCT  NOTE\na            5%\nlonger-id  100%  x\n");
  });

  it("formats times, sizes and the current step", () => {
    assert.equal(formatTime("2026-03-01T12:00:05.123Z"), "2026-03-01 12:00:05Z");
    assert.equal(formatTime(undefined), "-");
    assert.equal(formatBytes(512), "512 B");
    assert.equal(formatBytes(64 * 1024 * 1024), "64.0 MiB");
    const failed = job({ status: "failed", steps: [{ name: "read", status: "complete", progressPercent: 100 }, { name: "write", status: "failed", progressPercent: 30 }] });
    assert.equal(currentStep(failed)?.name, "write");
    assert.equal(currentStep(job({ status: "complete", steps: [{ name: "read", status: "complete", progressPercent: 100 }] })), undefined);
  });

  it("lists jobs newest first with type, status, progress, current step and creation time", () => {
    const older = job({ id: "old", createdAt: "2026-01-01T00:00:00Z", status: "complete", overallProgressPercent: 100, steps: [] });
    const newer = job({ id: "new", createdAt: "2026-01-02T00:00:00Z", overallProgressPercent: 42, cancelRequested: true });
    const lines = formatJobTable([older, newer]).trimEnd().split("\n");
    assert.match(lines[0], /^ID\s+TYPE\s+STATUS\s+PROGRESS\s+STEP\s+CREATED$/);
    assert.match(lines[1], /^new\s+export\s+cancelling\s+42%\s+convert\s+2026-01-02 00:00:00Z$/);
    assert.match(lines[2], /^old\s+export\s+complete\s+100%\s+-\s+2026-01-01 00:00:00Z$/);
  });

  it("summarises a job with its steps, warnings, error and artifacts, and without its parameters", () => {
    const j = job({
      status: "failed",
      overallProgressPercent: 55,
      connectorId: "conn-1",
      attempt: 2,
      parameters: { outputImageFilename: "do-not-show.vhdx" },
      warnings: [{ code: "SPARSE_COPY_DISABLED", message: "the share does not support sparse files", at: "2026-01-01T00:00:02Z" }],
      error: { code: "SHARE_WRITE_FAILED", message: "no space left on share 'exports'" },
      additionalInfo: { artifacts: { outputUri: "file:///out/a.vhdx", sizeBytes: 3 * 1024 * 1024 } },
    });
    const text = formatJobSummary(j);
    assert.match(text, /^Status:\s+failed$/m);
    assert.match(text, /^Progress:\s+55%$/m);
    assert.match(text, /^Location:\s+local \(connector conn-1\)$/m);
    assert.match(text, /^Attempt:\s+2$/m);
    assert.match(text, /^\s+validate\s+complete\s+100%/m);
    assert.match(text, /^\s+convert\s+inProgress\s+0%/m);
    assert.match(text, /^ {2}SPARSE_COPY_DISABLED: the share does not support sparse files/m);
    assert.match(text, /^Error:\n {2}SHARE_WRITE_FAILED: no space left on share 'exports'$/m);
    assert.match(text, /^ {2}outputUri:\s+file:\/\/\/out\/a\.vhdx$/m);
    assert.match(text, /^ {2}sizeBytes:\s+3145728 \(3\.0 MiB\)$/m);
    assert.doesNotMatch(text, /do-not-show/);
  });

  it("prints one plain progress line per change when stdout is not a terminal", () => {
    const out = new PassThrough();
    const err = new PassThrough();
    const view = createJobProgressView(out, err);
    view.update(job({ overallProgressPercent: 10 }));
    view.update(job({ overallProgressPercent: 10 }));
    view.update(job({ overallProgressPercent: 60, steps: [{ name: "convert", status: "inProgress", progressPercent: 80 }] }));
    view.problem("CONNECTION_FAILED");
    view.stop();
    assert.equal(String(out.read()), " 10% inProgress - convert inProgress 0%\n 60% inProgress - convert inProgress 80%\n");
    assert.match(String(err.read()), /retrying after a failed poll: CONNECTION_FAILED/);
    assert.equal(formatProgressLine(job({ status: "complete", overallProgressPercent: 100, steps: [] })), "100% complete");
  });

  it("draws a bar with percentage, status and step on a terminal", () => {
    const out = Object.assign(new PassThrough(), { isTTY: true, columns: 120 });
    const view = createJobProgressView(out, new PassThrough());
    view.update(job({ overallProgressPercent: 45, steps: [{ name: "convert", status: "inProgress", progressPercent: 45 }] }));
    view.stop();
    const drawn = String(out.read());
    assert.match(drawn, /45% \| inProgress \| convert 45%/);
    assert.match(drawn, /[█░]{30}/);
  });

  it("shows who a credential belongs to from its non-secret fields only", () => {
    const base = { state: "Ok", createdAt: "2026-01-01T00:00:00Z", updatedAt: "2026-01-01T00:00:00Z" };
    const creds: CredentialView[] = [
      { ...base, id: "smb", type: "UsernamePassword", username: "svc", domain: "CORP" },
      { ...base, id: "aws", type: "Aws", name: "prod", accessKeyId: "AKIAEXAMPLE" },
      { ...base, id: "az", type: "Azure", tenantId: "t1", clientId: "c1" },
      { ...base, id: "gcp", type: "Gcp", clientEmail: "sa@p.iam.gserviceaccount.com", projectId: "p" },
    ];
    assert.deepEqual(creds.map(credentialIdentity), ["CORP\\svc", "AKIAEXAMPLE", "tenant t1, client c1", "sa@p.iam.gserviceaccount.com (p)"]);
    const lines = formatCredentialTable(creds).trimEnd().split("\n");
    assert.match(lines[0], /^ID\s+TYPE\s+NAME\s+STATE\s+IDENTITY\s+CREATED$/);
    assert.match(lines[2], /^aws\s+Aws\s+prod\s+Ok\s+AKIAEXAMPLE\s+2026-01-01 00:00:00Z$/);
  });

  it("describes errors as code and message, without the request line", () => {
    const api = new ApiError({ status: 409, code: "JOB_NOT_CANCELLABLE", message: "Job j1 already finished (complete).", method: "DELETE", path: "/ips/jobs/j1" });
    assert.equal(describeError(api), "JOB_NOT_CANCELLABLE: Job j1 already finished (complete).");
    assert.equal(describeError(new ConfigurationError("--endpoint", "bad")), "CONFIGURATION_INVALID: --endpoint: bad");
  });
});
