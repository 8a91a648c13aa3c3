import { packageVersion } from "./package-root";

/** The version in the project's package.json. */
export function engineVersion(): string {
  return packageVersion() || "0.0.0-unknown";
}
