// Where file:// locations may point: the directories this process was given (`serve
// --file-root`, `connector --file-root`), by default the user's home directory and the system's
// temporary directory (so the quickstart works out of the box, and /etc, /root or another
// user's files do not). Paths are resolved (symlinks followed, `..` gone) before the check, so
// neither a symlinked directory nor a symlinked disk file leads outside.

import { realpathSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { isAbsolute, relative, resolve, sep } from "node:path";
import { EngineError, FieldError, jobFailure } from "../../errors";

let roots: string[] | undefined;

/** The process's roots; undefined restores the defaults. Each must exist. */
export function configureFileRoots(dirs: readonly string[] | undefined): void {
  roots = dirs?.map((d) => realpathSync(resolve(d)));
}

export function fileRoots(): string[] {
  roots ??= [homedir(), tmpdir()].map((d) => {
    try {
      return realpathSync(d);
    } catch {
      return resolve(d);
    }
  });
  return roots;
}

/** Whether a resolved path is a root or lies under one. */
function within(path: string): boolean {
  return fileRoots().some((root) => {
    const rel = relative(root, path);
    return rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
  });
}

function resolved(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined; // missing: the operation itself reports it
  }
}

const HOWTO = "Use a directory under one of them, or start the engine (or connector) with --file-root for this one.";

/** Throws LOCATION_NOT_ALLOWED when `path` (a directory, or a file in one) resolves outside the roots. */
export function assertAllowedPath(path: string, what: string): void {
  const real = resolved(path);
  if (real === undefined || within(real)) return;
  throw jobFailure(
    "LOCATION_NOT_ALLOWED",
    `${what} resolves to ${real}, outside the directories this engine may read, write or delete in (${fileRoots().join(", ")}). Nothing was read or changed. ${HOWTO}`,
  );
}

/** Submission check of a local directory (and the input file in it): a field error when it leads outside the roots. */
export function allowedPathProblem(path: string, field: string): FieldError[] {
  try {
    assertAllowedPath(path, path);
    return [];
  } catch (error) {
    if (!(error instanceof EngineError)) throw error;
    return [{ field, message: `leads outside the directories this engine may use (${fileRoots().join(", ")}): ${resolved(path)}. ${HOWTO}` }];
  }
}
