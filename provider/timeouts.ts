import { CheckFailure } from "./handler";
import { isUnknown, PropertyMap } from "./properties";

export type TimeoutKind = "create" | "delete";

const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(?:\d+(?:\.\d+)?[smhd])+$/;

/** `90s`, `30m`, `2h`, `1h30m` or `1d` in milliseconds; undefined when malformed or zero. */
export function parseDuration(text: string): number | undefined {
  if (!DURATION.test(text)) return undefined;
  let ms = 0;
  for (const [, n, unit] of text.matchAll(/(\d+(?:\.\d+)?)([smhd])/g)) ms += Number(n) * UNIT_MS[unit];
  return ms > 0 ? ms : undefined;
}

/** Failures for a `timeouts` input whose durations do not parse. */
export function checkTimeouts(inputs: PropertyMap): CheckFailure[] {
  const timeouts = inputs.timeouts;
  if (!timeouts || typeof timeouts !== "object" || isUnknown(timeouts)) return [];
  return Object.entries(timeouts as PropertyMap)
    .filter(([, v]) => typeof v === "string" && parseDuration(v) === undefined)
    .map(([k, v]) => ({
      property: `timeouts.${k}`,
      reason: `timeouts.${k} ${JSON.stringify(v)} is not a duration; write it like 90s, 30m, 2h or 1h30m`,
    }));
}

/**
 * How long an operation may take: the `customTimeouts` resource option when the engine passed
 * one, else the resource's `timeouts` input, else the default.
 */
export function timeoutMs(kind: TimeoutKind, inputs: PropertyMap, customTimeoutSeconds: number, defaultMs: number): number {
  if (customTimeoutSeconds > 0) return customTimeoutSeconds * 1_000;
  const given = (inputs.timeouts as Record<string, unknown> | undefined)?.[kind];
  return (typeof given === "string" && parseDuration(given)) || defaultMs;
}

/** "2h", "30m", "45s": a deadline as users wrote it, for messages. */
export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${Math.round(ms / 1000)}s`;
}
