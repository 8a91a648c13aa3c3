import * as path from "path";

/** The repository root (tests run from dist/test/...). */
export const REPO_ROOT = path.resolve(__dirname, "..", "..", "..");
