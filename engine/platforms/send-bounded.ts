/**
 * Sends every item of a lazily read stream with `send`, at most `limit` at a time, as the cloud
 * writers do with disk blocks and pages. The first failure (as `describe` words it) stops the
 * rest at once, since they share one signal, and is thrown once everything in flight has
 * settled; an abort of `signal` ends it the same way with the abort's reason. `send` is called
 * in stream order, so its synchronous part may keep order-dependent state (checksums).
 */
export async function sendBounded<T>(options: {
  items(signal: AbortSignal): AsyncIterable<T>;
  limit: number;
  signal: AbortSignal;
  send(item: T, signal: AbortSignal): Promise<void>;
  describe(item: T, error: unknown): unknown;
}): Promise<void> {
  const { signal } = options;
  const sending = new AbortController();
  const stop = () => sending.abort(signal.reason);
  signal.addEventListener("abort", stop, { once: true });
  const inFlight = new Set<Promise<void>>();
  let firstError: unknown;
  const fail = (error: unknown) => {
    firstError ??= error;
    sending.abort(firstError);
  };
  try {
    for await (const item of options.items(sending.signal)) {
      const p = options
        .send(item, sending.signal)
        .catch((error) => fail(signal.aborted ? signal.reason : options.describe(item, error)))
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
      if (inFlight.size >= Math.max(1, options.limit)) await Promise.race(inFlight);
      if (firstError) break;
    }
    await Promise.all(inFlight);
  } catch (error) {
    firstError ??= error;
  } finally {
    signal.removeEventListener("abort", stop);
    sending.abort();
    await Promise.allSettled(inFlight);
  }
  if (signal.aborted) throw signal.reason;
  if (firstError) throw firstError;
}
