import { strict as assert } from "assert";
import { backoffDelay, CheckResult, waitUntil } from "../../client";

// waitUntil with small real delays: the deadline is hard, pauses stay within their bounds,
// an abort ends the wait at once and leaves no timer, FAILURE and SUCCESS stop polling.

const retry = async (): Promise<CheckResult<number>> => ({ state: "RETRY" });
const never = () => new Promise<CheckResult<number>>(() => {});
/** Timer lateness we tolerate on a loaded 2-core machine. */
const SLACK_MS = 40;

/** Pending timers, counted after a turn of the event loop so mocha's own test timer is in place. */
async function activeTimers(): Promise<number> {
  await new Promise((r) => setImmediate(r));
  return process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
}

describe("client: waitUntil", () => {
  describe("deadline", () => {
    it("times out at the deadline, never later, while every poll says RETRY", async () => {
      const start = Date.now();
      const r = await waitUntil({ check: retry, minDelayMs: 20, maxDelayMs: 60, maxWaitMs: 300 });
      const elapsed = Date.now() - start;
      assert.equal(r.state, "TIMEOUT");
      assert.ok(elapsed >= 295, `gave up early: ${elapsed} ms`);
      assert.ok(elapsed <= 300 + SLACK_MS, `overran the deadline: ${elapsed} ms`);
    });

    it("cuts a pause that would end after the deadline short instead of sleeping past it", async () => {
      const start = Date.now();
      let polls = 0;
      const r = await waitUntil({ check: async () => (polls++, { state: "RETRY" as const }), minDelayMs: 1_000, maxDelayMs: 5_000, maxWaitMs: 150 });
      const elapsed = Date.now() - start;
      assert.equal(r.state, "TIMEOUT");
      assert.equal(polls, 1, "the first poll is immediate, the next would be after the deadline");
      assert.ok(elapsed <= 150 + SLACK_MS, `slept past the deadline: ${elapsed} ms`);
    });

    it("bounds a poll that hangs by the deadline and aborts the poll's signal", async () => {
      let pollSignal: AbortSignal | undefined;
      const start = Date.now();
      const r = await waitUntil({
        check: (s) => ((pollSignal = s), never()),
        minDelayMs: 10,
        maxDelayMs: 10,
        maxWaitMs: 200,
      });
      const elapsed = Date.now() - start;
      assert.equal(r.state, "TIMEOUT");
      assert.ok(elapsed >= 195 && elapsed <= 200 + SLACK_MS, `${elapsed} ms`);
      assert.equal(pollSignal?.aborted, true);
    });

    it("keeps the last observed value in the TIMEOUT result", async () => {
      let n = 0;
      const r = await waitUntil({ check: async () => ({ state: "RETRY" as const, value: ++n }), minDelayMs: 10, maxDelayMs: 20, maxWaitMs: 120 });
      assert.equal(r.state, "TIMEOUT");
      assert.equal(r.last, n);
      assert.ok(n >= 3, `polled only ${n} times`);
    });
  });

  describe("backoff", () => {
    it("grows exponentially from the minimum and never exceeds the maximum", () => {
      const lowest = () => 0;
      const highest = () => 0.999999;
      assert.equal(backoffDelay(1, 100, 1_000, lowest), 100);
      assert.ok(Math.abs(backoffDelay(1, 100, 1_000, highest) - 200) < 0.01);
      assert.ok(Math.abs(backoffDelay(3, 100, 1_000, highest) - 800) < 0.01);
      assert.ok(backoffDelay(4, 100, 1_000, highest) <= 1_000);
      assert.ok(backoffDelay(500, 100, 1_000, highest) <= 1_000, "no overflow for long waits");
    });

    it("jitters over the whole range between the minimum and the ceiling", () => {
      const samples = Array.from({ length: 2_000 }, () => backoffDelay(10, 50, 400));
      assert.ok(samples.every((d) => d >= 50 && d <= 400), "every delay within [min, max]");
      assert.ok(Math.min(...samples) < 80 && Math.max(...samples) > 370, "spread over the range, not clustered");
    });

    it("pauses between real polls stay within [min, max]", async () => {
      const at: number[] = [];
      await waitUntil({
        check: async () => (at.push(Date.now()), { state: at.length < 8 ? ("RETRY" as const) : ("SUCCESS" as const) }),
        minDelayMs: 30,
        maxDelayMs: 80,
        maxWaitMs: 10_000,
      });
      const gaps = at.slice(1).map((t, i) => t - at[i]);
      assert.equal(gaps.length, 7);
      for (const g of gaps) assert.ok(g >= 29 && g <= 80 + SLACK_MS, `gap ${g} ms outside [30, 80]: ${gaps}`);
    });
  });

  describe("abort", () => {
    it("ends a pause at once and leaves no pending timer", async () => {
      const controller = new AbortController();
      const before = await activeTimers();
      const start = Date.now();
      const waiting = waitUntil({ check: retry, minDelayMs: 10_000, maxDelayMs: 10_000, maxWaitMs: 60_000, signal: controller.signal });
      setTimeout(() => controller.abort(new Error("user pressed Ctrl-C")), 50);
      const r = await waiting;
      const elapsed = Date.now() - start;
      assert.equal(r.state, "ABORTED");
      assert.equal(r.reason, "user pressed Ctrl-C");
      assert.ok(elapsed < 50 + SLACK_MS, `took ${elapsed} ms`);
      assert.equal(await activeTimers(), before, "a timer of the wait is still pending");
    });

    it("ends a hanging poll at once and aborts the poll's signal", async () => {
      const controller = new AbortController();
      let pollSignal: AbortSignal | undefined;
      const before = await activeTimers();
      const start = Date.now();
      const waiting = waitUntil({ check: (s) => ((pollSignal = s), never()), minDelayMs: 10, maxDelayMs: 10, maxWaitMs: 60_000, signal: controller.signal });
      setTimeout(() => controller.abort(), 50);
      const r = await waiting;
      assert.equal(r.state, "ABORTED");
      assert.ok(Date.now() - start < 50 + SLACK_MS);
      assert.equal(pollSignal?.aborted, true);
      assert.equal(await activeTimers(), before, "the deadline timer of the poll is still pending");
    });

    it("does not poll at all when the signal is already aborted", async () => {
      let polls = 0;
      const r = await waitUntil({ check: async () => (polls++, { state: "SUCCESS" as const }), minDelayMs: 1, maxDelayMs: 1, maxWaitMs: 1_000, signal: AbortSignal.abort() });
      assert.equal(r.state, "ABORTED");
      assert.equal(polls, 0);
    });
  });

  describe("outcomes", () => {
    it("stops at the first FAILURE with its reason and value", async () => {
      let polls = 0;
      const r = await waitUntil({
        check: async () => (++polls < 3 ? { state: "RETRY" as const, value: polls } : { state: "FAILURE" as const, reason: "DISK_TOOL_FAILED: boom", value: polls }),
        minDelayMs: 5,
        maxDelayMs: 10,
        maxWaitMs: 5_000,
      });
      assert.deepEqual(r, { state: "FAILURE", reason: "DISK_TOOL_FAILED: boom", last: 3 });
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(polls, 3, "polled again after FAILURE");
    });

    it("reports every poll to onPoll, in order", async () => {
      const seen: string[] = [];
      let n = 0;
      await waitUntil({
        check: async () => ({ state: ++n < 3 ? ("RETRY" as const) : ("SUCCESS" as const) }),
        minDelayMs: 1,
        maxDelayMs: 2,
        maxWaitMs: 5_000,
        onPoll: (e) => seen.push(`${e.attempt}:${e.result.state}`),
      });
      assert.deepEqual(seen, ["1:RETRY", "2:RETRY", "3:SUCCESS"]);
    });

    it("rejects with the error of a check that throws", async () => {
      await assert.rejects(
        waitUntil({ check: async () => Promise.reject(new Error("not transient")), minDelayMs: 1, maxDelayMs: 1, maxWaitMs: 1_000 }),
        /not transient/,
      );
    });

    it("refuses a minimum above the maximum", async () => {
      await assert.rejects(waitUntil({ check: retry, minDelayMs: 10, maxDelayMs: 5, maxWaitMs: 1_000 }), RangeError);
    });
  });
});
