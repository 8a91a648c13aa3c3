import { FieldError, ValidationFailedError } from "../errors";

// Storage locations as users write them: `file:///absolute/dir/` or `smb://host[:port]/share[/path]/`.
// Parsed by hand rather than with WHATWG URL, which would silently resolve `..` and accept
// userinfo; here every such input is refused with a message that says what is allowed.

export const DEFAULT_SMB_PORT = 445;

export interface FileLocation {
  scheme: "file";
  /** Normalized, with a trailing slash. */
  uri: string;
  /** Absolute local directory, with a trailing slash. */
  dir: string;
}

export interface SmbLocation {
  scheme: "smb";
  /** Normalized, with a trailing slash; never carries credentials. */
  uri: string;
  host: string;
  port: number;
  share: string;
  /** Decoded directory segments below the share (empty for the share root). */
  path: string[];
}

export type ParsedLocation = FileLocation | SmbLocation;

const ALLOWED = "must be file:///absolute/dir/ or smb://host[:port]/share[/path]/";
// Never echo the authority of such a URI: it may carry a password.
const CREDENTIALS_IN_URI =
  `${ALLOWED} without credentials in it; put the user name and password in a UsernamePassword ` +
  `credential and pass its id as credentialId`;
const MAX_URI_LENGTH = 2048;
const MAX_NAME_BYTES = 255;
// Characters Windows/SMB refuses in names (and wildcards smbclient would expand).
const SMB_FORBIDDEN = /["*?<>|:]/;
// File names travel inside smbclient commands, which split at ';' even within quotes.
const SMB_NAME_FORBIDDEN = /["*?<>|:;]/;
const SHARE_FORBIDDEN = /["*?<>|:\\/[\]+=;,]/;
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Parses a location; throws ValidationFailedError (field "location") when it is not allowed. */
export function parseLocation(uri: string, field = "location"): ParsedLocation {
  const result = analyse(uri);
  if (typeof result === "string") throw new ValidationFailedError([{ field, message: result }]);
  return result;
}

/** Field errors for a location given in a request (empty when it is allowed). */
export function checkLocation(uri: unknown, field: string): FieldError[] {
  const result = analyse(uri);
  return typeof result === "string" ? [{ field, message: result }] : [];
}

/**
 * Field errors for a plain file name (no directories). With a location, also the rules of that
 * location's scheme (SMB names cannot hold `" * ? < > | : ;`).
 */
export function checkFileName(name: unknown, field: string, location?: string): FieldError[] {
  const problem = fileNameProblem(name, location !== undefined && /^smb:/i.test(location));
  return problem ? [{ field, message: problem }] : [];
}

/** Throws ValidationFailedError unless `name` is a plain file name (drivers call it on every name). */
export function assertFileName(name: string, smb = false, field = "name"): void {
  const problem = fileNameProblem(name, smb);
  if (problem) throw new ValidationFailedError([{ field, message: problem }]);
}

/** Why `name` is not a plain file name, or undefined when it is. */
export function fileNameProblem(name: unknown, smb = false): string | undefined {
  const rule = `must be a plain file name (1 to ${MAX_NAME_BYTES} bytes, no '/' or '\\', not '.' or '..', no control characters${
    smb ? `, and for smb:// locations none of " * ? < > | : ;` : ""
  })`;
  if (typeof name !== "string" || name.length === 0) return `${rule}; it is empty or not a string`;
  if (Buffer.byteLength(name, "utf8") > MAX_NAME_BYTES) return `${rule}; it is longer than ${MAX_NAME_BYTES} bytes`;
  if (name.includes("/") || name.includes("\\")) return `${rule}; it contains a path separator`;
  if (name === "." || name === "..") return `${rule}; '.' and '..' name directories`;
  if (CONTROL.test(name)) return `${rule}; it contains a control character`;
  if (smb && SMB_NAME_FORBIDDEN.test(name)) return `${rule}; it contains a character SMB names cannot hold`;
  return undefined;
}

/** The ParsedLocation, or the reason it is refused (a field message). */
function analyse(uri: unknown): ParsedLocation | string {
  if (typeof uri !== "string" || uri.length === 0) return `${ALLOWED}; it is empty or not a string`;
  if (uri.length > MAX_URI_LENGTH) return `${ALLOWED}; it is longer than ${MAX_URI_LENGTH} characters`;
  if (CONTROL.test(uri)) return `${ALLOWED}; it contains a control character`;
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(uri)?.[1]?.toLowerCase();
  if (scheme === undefined) return `${ALLOWED}; it has no scheme`;
  if (scheme !== "file" && scheme !== "smb") return `${ALLOWED}; the scheme '${scheme}:' is not supported`;
  if (!uri.slice(scheme.length + 1).startsWith("//")) return `${ALLOWED}; '${scheme}:' must be followed by '//'`;
  const rest = uri.slice(scheme.length + 3);
  if (scheme === "smb" && rest.split("/")[0]!.includes("@")) return CREDENTIALS_IN_URI;
  if (uri.includes("\\")) return `${ALLOWED}; backslashes are not allowed, separate directories with '/'`;
  if (/[?#]/.test(uri)) return `${ALLOWED}; '?' and '#' are not allowed (percent-encode them as %3F and %23)`;
  return scheme === "file" ? analyseFile(rest) : analyseSmb(rest);
}

function analyseFile(rest: string): FileLocation | string {
  if (!rest.startsWith("/")) {
    return `${ALLOWED}; a file:// location names no host and an absolute directory: file:///absolute/dir/`;
  }
  const segments = decodeSegments(rest.slice(1), "file");
  if (typeof segments === "string") return segments;
  const dir = segments.length === 0 ? "/" : `/${segments.join("/")}/`;
  return { scheme: "file", uri: `file://${encodePath(segments)}`, dir };
}

function analyseSmb(rest: string): SmbLocation | string {
  const slash = rest.indexOf("/");
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  const m = /^([^:]*)(?::(.*))?$/.exec(authority)!;
  const host = m[1]!.toLowerCase();
  if (host.startsWith("[")) return `${ALLOWED}; IPv6 literals are not supported, use a host name or an IPv4 address`;
  if (host === "") return `${ALLOWED}; the host is missing`;
  if (!isHostName(host)) return `${ALLOWED}; '${host}' is not a valid host name or IPv4 address`;
  let port = DEFAULT_SMB_PORT;
  if (m[2] !== undefined) {
    if (!/^\d{1,5}$/.test(m[2]) || Number(m[2]) < 1 || Number(m[2]) > 65535) {
      return `${ALLOWED}; the port must be a number from 1 to 65535`;
    }
    port = Number(m[2]);
  }
  if (slash < 0 || rest.length === slash + 1) return `${ALLOWED}; the share name is missing`;
  const segments = decodeSegments(rest.slice(slash + 1), "smb");
  if (typeof segments === "string") return segments;
  const [share, ...path] = segments as [string, ...string[]];
  if (SHARE_FORBIDDEN.test(share) || share.length > 80) {
    return `${ALLOWED}; the share name must be 1 to 80 characters without " * ? < > | : \\ / [ ] + = ; ,`;
  }
  const authorityOut = port === DEFAULT_SMB_PORT ? host : `${host}:${port}`;
  return { scheme: "smb", uri: `smb://${authorityOut}${encodePath(segments)}`, host, port, share, path };
}

/**
 * Splits "a/b%20c/" into decoded segments; a trailing slash is optional, empty segments are not.
 * For smb the first segment is the share, checked by its own (stricter) rule.
 */
function decodeSegments(path: string, scheme: "file" | "smb"): string[] | string {
  const raw = path.endsWith("/") ? path.slice(0, -1) : path;
  if (raw === "") return [];
  const segments: string[] = [];
  for (const part of raw.split("/")) {
    if (part === "") return `${ALLOWED}; it contains an empty path segment ('//')`;
    let segment: string;
    try {
      segment = decodeURIComponent(part);
    } catch {
      return `${ALLOWED}; it contains an invalid percent-encoding`;
    }
    if (segment === "." || segment === "..") return `${ALLOWED}; '.' and '..' segments are not allowed`;
    if (segment.includes("/") || segment.includes("\\")) {
      return `${ALLOWED}; an encoded '/' or '\\' inside a segment is not allowed`;
    }
    if (CONTROL.test(segment)) return `${ALLOWED}; it contains an encoded control character`;
    if (scheme === "smb" && segments.length > 0 && SMB_FORBIDDEN.test(segment)) {
      return `${ALLOWED}; SMB directory names cannot hold " * ? < > | :`;
    }
    segments.push(segment);
  }
  return segments;
}

function isHostName(host: string): boolean {
  if (host.length > 253) return false;
  return host.split(".").every((label) => /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(label));
}

/** "/a b/c/" style path with each segment percent-encoded where needed, trailing slash included. */
function encodePath(segments: string[]): string {
  return `/${segments.map((s) => encodeURIComponent(s).replace(/%40/g, "@").replace(/%3A/gi, ":") + "/").join("")}`;
}
