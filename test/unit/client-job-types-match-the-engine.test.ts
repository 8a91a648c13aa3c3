import assert from "node:assert/strict";
import * as client from "../../client/jobs";
import * as engine from "../../engine/jobs/model";

// The client and the engine each declare the job's wire shape (the client never imports the
// engine: they meet only over HTTP). These assignments fail to compile when the two drift.
export const engineViewIsAClientJob = (view: engine.JobView): client.Job => view;
export const clientJobIsAnEngineView = (job: client.Job): engine.JobView => job;

describe("client and engine agree on the job's wire shape", () => {
  it("list the same job types and statuses, in the same order", () => {
    assert.deepEqual([...client.JOB_TYPES], [...engine.JOB_TYPES]);
    assert.deepEqual([...client.JOB_STATUSES], [...engine.JOB_STATUSES]);
    assert.deepEqual([...client.FINAL_JOB_STATUSES], [...engine.FINISHED]);
  });
});
