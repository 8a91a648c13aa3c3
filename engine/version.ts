import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

let cached: string | undefined;

/** The version in the project's package.json, found by walking up from this file (works from dist/ and from source). */
export function engineVersion(): string {
  if (cached !== undefined) return cached;
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const file = join(dir, "package.json");
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, "utf8")) as { name?: string; version?: string };
      if (pkg.name === "pulumi-imageport" && pkg.version) return (cached = pkg.version);
    }
    if (dirname(dir) === dir) return (cached = "0.0.0-unknown");
  }
}
