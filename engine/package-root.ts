import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

let cached: { root?: string; version?: string } | undefined;

function find(): { root?: string; version?: string } {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const file = join(dir, "package.json");
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, "utf8")) as { name?: string; version?: string };
      if (pkg.name === "pulumi-imageport") return { root: dir, version: pkg.version };
    }
    if (dirname(dir) === dir) return {};
  }
}

/** The project's directory (its package.json's), found by walking up from this file (works from dist/ and from source). */
export function packageRoot(): string | undefined {
  return (cached ??= find()).root;
}

/** The version in the project's package.json. */
export function packageVersion(): string | undefined {
  return (cached ??= find()).version;
}
