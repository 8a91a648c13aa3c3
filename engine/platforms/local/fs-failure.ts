import * as os from "node:os";
import { EngineError, EngineErrorCode, jobFailure } from "../../errors";

// Node's fs errors turned into the job failure codes users act on.

export function errnoOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/**
 * `what` names the file or directory and the location, e.g. "file 'a.vhdx' in file:///srv/out/";
 * `fallback` is the code for errors that are neither permissions nor a missing directory.
 */
export function fsFailure(err: unknown, what: string, fallback: EngineErrorCode): EngineError {
  if (err instanceof EngineError) return err;
  const code = errnoOf(err);
  switch (code) {
    case "EACCES":
    case "EPERM":
      return jobFailure(
        "SHARE_ACCESS_DENIED",
        `The engine (running as Unix user '${os.userInfo().username}') may not access ${what} (${code}). ` +
          `Grant that user read/write permission on the directory, or choose another location.`,
        err,
      );
    case "EROFS":
      return jobFailure("SHARE_ACCESS_DENIED", `Cannot write ${what}: the file system is read-only (EROFS). Choose a writable location.`, err);
    case "ENOSPC":
    case "EDQUOT":
      return jobFailure("SHARE_WRITE_FAILED", `Cannot write ${what}: no space left (${code}). Free space or choose another location.`, err);
    default:
      return jobFailure(fallback, `Failed on ${what}: ${(err as Error)?.message ?? String(err)}`, err);
  }
}
