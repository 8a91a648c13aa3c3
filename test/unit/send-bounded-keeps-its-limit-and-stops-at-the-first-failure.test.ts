import { strict as assert } from "assert";
import { sendBounded } from "../../engine/platforms/send-bounded";

async function* numbers(count: number, read: number[], signal: AbortSignal): AsyncIterable<number> {
  for (let i = 0; i < count && !signal.aborted; i++) {
    read.push(i);
    yield i;
  }
}
const tick = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const onAbort = () => (clearTimeout(t), reject(signal.reason));
    const t = setTimeout(() => (signal.removeEventListener("abort", onAbort), resolve()), ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });

describe("sendBounded keeps its limit and stops at the first failure", () => {
  it("sends every item, never more than `limit` at once, in stream order", async () => {
    const read: number[] = [];
    const started: number[] = [];
    let active = 0;
    let peak = 0;
    await sendBounded({
      items: (s) => numbers(20, read, s),
      limit: 3,
      signal: new AbortController().signal,
      async send(n, s) {
        started.push(n);
        peak = Math.max(peak, ++active);
        await tick(5, s);
        active--;
      },
      describe: (_n, e) => e,
    });
    assert.deepEqual(started, [...Array(20).keys()]);
    assert.equal(peak, 3);
  });

  it("throws the first failure as described, aborts the others and reads no further", async () => {
    const read: number[] = [];
    const aborted: number[] = [];
    await assert.rejects(
      sendBounded({
        items: (s) => numbers(1000, read, s),
        limit: 4,
        signal: new AbortController().signal,
        async send(n, s) {
          if (n === 5) throw new Error("boom");
          await tick(50, s).catch((e) => {
            aborted.push(n);
            throw e;
          });
        },
        describe: (n, e) => new Error(`item ${n}: ${(e as Error).message}`),
      }),
      /item 5: boom/,
    );
    assert.ok(read.length < 20, `stopped reading early, read ${read.length}`);
    assert.ok(aborted.length > 0, "items in flight were aborted");
  });

  it("ends with the caller's abort reason when the caller aborts", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("cancelled by the job")), 20);
    await assert.rejects(
      sendBounded({ items: (s) => numbers(1000, [], s), limit: 2, signal: controller.signal, send: (_n, s) => tick(10, s), describe: (_n, e) => e }),
      /cancelled by the job/,
    );
  });
});
