/**
 * One family of errors for everything that talks to an IPS-compatible API.
 * Callers branch on `code` (stable, part of the contract), never on message text.
 */
export class ImageportError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A field the service rejected, with what it allows. */
export interface FieldProblem {
  field: string;
  message: string;
}

/** The service answered with an error body: `{error: {code, message, fields?}}`. */
export class ApiError extends ImageportError {
  readonly status: number;
  readonly fields: FieldProblem[];
  readonly method: string;
  readonly path: string;
  constructor(init: { status: number; code: string; message: string; fields?: FieldProblem[]; method: string; path: string }) {
    const detail = (init.fields ?? []).map((f) => `\n  - ${f.field}: ${f.message}`).join("");
    super(init.code, `${init.method} ${init.path} failed with ${init.status} ${init.code}: ${init.message}${detail}`);
    this.status = init.status;
    this.fields = init.fields ?? [];
    this.method = init.method;
    this.path = init.path;
  }
  /** Worth another attempt: rate limits and server-side failures. */
  get retryable(): boolean {
    return this.status === 429 || this.status >= 500;
  }
}

/** The service could not be reached at all (refused, reset, DNS, timeout). */
export class ConnectionError extends ImageportError {
  constructor(endpoint: string, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(
      "CONNECTION_FAILED",
      `Could not reach the imageport API at ${endpoint}: ${why}. ` +
        `Check that the engine is running (\`imageport serve\`) or that the endpoint is right.`,
      { cause },
    );
  }
}

/** Client-side settings are missing or malformed; `setting` names which. */
export class ConfigurationError extends ImageportError {
  readonly setting: string;
  constructor(setting: string, message: string) {
    super("CONFIGURATION_INVALID", `${setting}: ${message}`);
    this.setting = setting;
  }
}
