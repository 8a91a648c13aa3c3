import { EngineError, EngineErrorCode, jobFailure } from "../../errors";
import { outputExists } from "../output-exists";
import { SmbCredential } from "./credential";
import { SmbTarget, SmbToolFailure } from "./smbclient";

// smbclient's NT_STATUS codes, and the errno names the writer and reader (smb-sparse-put, smb-read,
// over libsmbclient, which maps NT_STATUS to errno) report, turned into the job failure codes users act on.
// Messages name the server, share, directory, file and credential id; never the password.

export interface SmbOperation {
  /** What was being done, completing "while <doing> <uri>", e.g. "uploading 'a.vhdx' to". */
  doing: string;
  /** The file concerned, if any. */
  name?: string;
  /** Code when the file (not the share or directory) does not exist. */
  notFound: EngineErrorCode;
  /** Code for failures that fit no other class. */
  fallback: EngineErrorCode;
}

export interface SmbContext {
  uri: string;
  target: SmbTarget;
  credential: SmbCredential;
}

const UNREACHABLE = new Set([
  "NT_STATUS_CONNECTION_REFUSED",
  "NT_STATUS_CONNECTION_RESET",
  "NT_STATUS_CONNECTION_DISCONNECTED",
  "NT_STATUS_CONNECTION_ABORTED",
  "NT_STATUS_HOST_UNREACHABLE",
  "NT_STATUS_NETWORK_UNREACHABLE",
  "NT_STATUS_PORT_UNREACHABLE",
  "NT_STATUS_IO_TIMEOUT",
  "NT_STATUS_BAD_NETWORK_PATH",
  "NT_STATUS_INVALID_NETWORK_RESPONSE",
  "NT_STATUS_NETWORK_NAME_DELETED",
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ENOTCONN",
  "EPIPE",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "ETIMEDOUT",
]);

const LOGON_REFUSED = new Set([
  "NT_STATUS_LOGON_FAILURE",
  "NT_STATUS_WRONG_PASSWORD",
  "NT_STATUS_NO_SUCH_USER",
  "NT_STATUS_ACCESS_DENIED",
  "NT_STATUS_ACCOUNT_DISABLED",
  "NT_STATUS_ACCOUNT_LOCKED_OUT",
  "NT_STATUS_ACCOUNT_RESTRICTION",
  "NT_STATUS_ACCOUNT_EXPIRED",
  "NT_STATUS_PASSWORD_EXPIRED",
  "NT_STATUS_PASSWORD_MUST_CHANGE",
  "NT_STATUS_INVALID_LOGON_HOURS",
  "NT_STATUS_INVALID_WORKSTATION",
  "NT_STATUS_NETWORK_ACCESS_DENIED",
]);

const NOT_FOUND = new Set(["NT_STATUS_OBJECT_NAME_NOT_FOUND", "NT_STATUS_NO_SUCH_FILE", "NT_STATUS_OBJECT_PATH_NOT_FOUND", "ENOENT", "ENOTDIR"]);

const ACCESS_DENIED = new Set(["NT_STATUS_ACCESS_DENIED", "NT_STATUS_NETWORK_ACCESS_DENIED", "EACCES", "EPERM"]);

const WRITE_FAILED = new Set([
  "NT_STATUS_DISK_FULL",
  "NT_STATUS_QUOTA_EXCEEDED",
  "NT_STATUS_MEDIA_WRITE_PROTECTED",
  "NT_STATUS_SHARING_VIOLATION",
  "NT_STATUS_FILE_IS_A_DIRECTORY",
  "ENOSPC",
  "EDQUOT",
  "EFBIG",
  "EROFS",
  "EBUSY",
  "EISDIR",
]);

export function isNotFound(failure: SmbToolFailure): boolean {
  return failure.phase === "command" && failure.status !== undefined && NOT_FOUND.has(failure.status);
}

export function smbFailure(failure: SmbToolFailure, ctx: SmbContext, op: SmbOperation): EngineError {
  const { host, port, share, dir } = ctx.target;
  const server = `${host}:${port}`;
  const status = failure.status ?? "no NT_STATUS";
  const cause = new Error(`${failure.tool}: ${failure.line}`);
  const fail = (code: EngineErrorCode, message: string) => jobFailure(code, message, cause);
  const what = op.name ? `'${op.name}' ` : "";
  const user = `user '${ctx.credential.username}' of credential '${ctx.credential.id}'`;

  if (failure.phase === "tool" && failure.tool === "smb-sparse-put") {
    return fail(
      "SHARE_WRITE_FAILED",
      `The SMB writer smb-sparse-put could not be run on the engine host, so nothing can be uploaded to ${ctx.uri} (${failure.line}). ` +
        `Run scripts/setup there: it builds the writer (needs gcc and libsmbclient-dev).`,
    );
  }
  if (failure.phase === "tool" && failure.tool === "smb-read") {
    return fail(
      "SOURCE_DISK_UNREADABLE",
      `The SMB reader smb-read could not be run on the engine host, so ${what}cannot be read from ${ctx.uri} (${failure.line}). ` +
        `Run scripts/setup there: it builds the reader (needs gcc and libsmbclient-dev).`,
    );
  }
  if (failure.phase === "tool") {
    return fail(
      "SHARE_UNREACHABLE",
      `smbclient could not be started on the engine host, so ${ctx.uri} cannot be reached. Install it (Debian: apt-get install smbclient; setpriv comes with util-linux).`,
    );
  }
  if (failure.phase === "connect" || (failure.status !== undefined && UNREACHABLE.has(failure.status))) {
    return fail(
      "SHARE_UNREACHABLE",
      `The SMB server ${server} could not be reached while ${op.doing} ${ctx.uri} (${status}). ` +
        `Check the host name, the port, that the server is running and that no firewall blocks it.`,
    );
  }
  if (failure.phase === "session") {
    const why = failure.status === "NT_STATUS_LOGON_FAILURE" ? "wrong user name or password" : status;
    return fail(
      "SHARE_ACCESS_DENIED",
      `The SMB server ${server} refused the logon of ${user} (${why}). ` +
        `Correct the credential's username/password/domain with PUT /ips/credentials/${ctx.credential.id}.`,
    );
  }
  if (failure.phase === "tree") {
    if (failure.status === "NT_STATUS_BAD_NETWORK_NAME") {
      return fail(
        "SHARE_PATH_NOT_FOUND",
        `The share '${share}' does not exist on the SMB server ${server}. Check the share name in the location ${ctx.uri}.`,
      );
    }
    if (failure.status !== undefined && LOGON_REFUSED.has(failure.status)) {
      return fail("SHARE_ACCESS_DENIED", `The SMB server ${server} refused ${user} access to the share '${share}' (${status}). Grant access or use another credential.`);
    }
  }
  if (failure.phase === "cd") {
    if (failure.status !== undefined && (NOT_FOUND.has(failure.status) || failure.status === "NT_STATUS_NOT_A_DIRECTORY")) {
      return fail(
        "SHARE_PATH_NOT_FOUND",
        `The directory '${dir.join("/")}' does not exist in the share '${share}' on ${server} (${status}). ` +
          `Create it or correct the location ${ctx.uri}.`,
      );
    }
  }
  if (failure.status !== undefined && ACCESS_DENIED.has(failure.status)) {
    return fail(
      "SHARE_ACCESS_DENIED",
      `Access denied to ${user} while ${op.doing} ${ctx.uri} (${status}). ` +
        `Grant that user the needed permission on the share, or use another credential.`,
    );
  }
  if (failure.status === "NT_STATUS_OBJECT_NAME_COLLISION" && op.name) return outputExists(op.name, ctx.uri, false);
  if (failure.status !== undefined && NOT_FOUND.has(failure.status)) {
    return fail(
      op.notFound,
      op.notFound === "SOURCE_DISK_NOT_FOUND"
        ? `The source disk ${what}does not exist in ${ctx.uri} (${status}). Check the file name and the location.`
        : `Not found (${status}) while ${op.doing} ${ctx.uri}. Check the location.`,
    );
  }
  if (failure.status !== undefined && WRITE_FAILED.has(failure.status)) {
    return fail("SHARE_WRITE_FAILED", `Writing ${what}to ${ctx.uri} failed (${status}). Free space or release the file, then retry.`);
  }
  return fail(op.fallback, `${failure.tool} failed while ${op.doing} ${ctx.uri}: ${failure.line}`);
}
