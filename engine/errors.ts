// One family of errors for the engine. `code` is part of the wire contract: clients branch on
// it, never on the message. Messages say what happened, why, and how to fix it.

export interface FieldError {
  /** The offending property, e.g. "password" (or "body" for the request as a whole). */
  field: string;
  message: string;
}

export type EngineErrorCode =
  | "VALIDATION_FAILED"
  | "UNAUTHENTICATED"
  | "FORBIDDEN"
  | "CREDENTIAL_NOT_FOUND"
  | "CREDENTIAL_ALREADY_EXISTS"
  | "NOT_FOUND"
  | "UNSUPPORTED_MEDIA_TYPE"
  | "PAYLOAD_TOO_LARGE"
  | "TOO_MANY_REQUESTS"
  | "MASTER_KEY_INVALID"
  | "SECRET_UNDECRYPTABLE"
  | "INTERNAL"
  | "DATA_DIR_LOCKED"
  | "TLS_REQUIRED"
  // jobs, locations, connectors (API)
  | "JOB_NOT_FOUND"
  | "JOB_NOT_CANCELLABLE"
  | "JOB_NOT_HELD"
  | "RESOURCE_LOCATION_NOT_FOUND"
  | "RESOURCE_LOCATION_IN_USE"
  | "RESOURCE_LOCATION_ALREADY_EXISTS"
  | "CONNECTOR_NOT_FOUND"
  | "REGISTRATION_CODE_INVALID"
  | "UNSUPPORTED_OPTION"
  | "PLATFORM_NOT_SUPPORTED"
  // job failures (stored in job.error; the HTTP status is not used)
  | "SOURCE_DISK_NOT_FOUND"
  | "SOURCE_DISK_UNREADABLE"
  | "SHARE_UNREACHABLE"
  | "SHARE_ACCESS_DENIED"
  | "SHARE_PATH_NOT_FOUND"
  | "LOCATION_NOT_ALLOWED"
  | "SHARE_WRITE_FAILED"
  | "OUTPUT_EXISTS"
  | "OUTPUT_VERIFICATION_FAILED"
  | "DISK_TOOL_FAILED"
  | "DISK_NOT_CONVERTIBLE"
  | "PLATFORM_UNREACHABLE"
  | "PLATFORM_ACCESS_DENIED"
  | "PLATFORM_NOT_FOUND"
  | "PLATFORM_REQUEST_FAILED"
  | "PLATFORM_CERTIFICATE_UNTRUSTED"
  | "PLATFORM_CHOICE_INVALID"
  | "IMAGE_IN_USE"
  // guest preparation (engine/prepare)
  | "GUEST_NOT_FOUND"
  | "GUEST_ENCRYPTED"
  | "GUEST_VOLUME_UNCLEAN"
  | "GUEST_FILE_SYSTEM_UNSUPPORTED"
  | "GUEST_REGISTRY_CORRUPT"
  | "GUEST_EDIT_FAILED"
  | "INSTALLER_NOT_FOUND"
  | "CREDENTIAL_UNUSABLE"
  | "ENGINE_SETTING_INVALID"
  | "JOB_CANCELLED"
  | "JOB_TIMED_OUT"
  | "ENGINE_RESTARTED"
  | "CONNECTOR_LOST";

/**
 * The one HTTP status of each code. Codes of job failures (stored in job.error) are 422: the
 * request was valid but the work cannot be done; it is the status a dry run answers with them.
 */
export const ERROR_STATUS: Record<EngineErrorCode, number> = {
  VALIDATION_FAILED: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  CREDENTIAL_NOT_FOUND: 404,
  CREDENTIAL_ALREADY_EXISTS: 409,
  NOT_FOUND: 404,
  UNSUPPORTED_MEDIA_TYPE: 415,
  PAYLOAD_TOO_LARGE: 413,
  TOO_MANY_REQUESTS: 429,
  MASTER_KEY_INVALID: 500,
  SECRET_UNDECRYPTABLE: 500,
  INTERNAL: 500,
  DATA_DIR_LOCKED: 409,
  TLS_REQUIRED: 400,
  JOB_NOT_FOUND: 404,
  JOB_NOT_CANCELLABLE: 409,
  JOB_NOT_HELD: 409,
  RESOURCE_LOCATION_NOT_FOUND: 404,
  RESOURCE_LOCATION_IN_USE: 409,
  RESOURCE_LOCATION_ALREADY_EXISTS: 409,
  CONNECTOR_NOT_FOUND: 404,
  REGISTRATION_CODE_INVALID: 401,
  UNSUPPORTED_OPTION: 400,
  PLATFORM_NOT_SUPPORTED: 400,
  SOURCE_DISK_NOT_FOUND: 422,
  SOURCE_DISK_UNREADABLE: 422,
  SHARE_UNREACHABLE: 422,
  SHARE_ACCESS_DENIED: 422,
  SHARE_PATH_NOT_FOUND: 422,
  LOCATION_NOT_ALLOWED: 422,
  SHARE_WRITE_FAILED: 422,
  OUTPUT_EXISTS: 422,
  OUTPUT_VERIFICATION_FAILED: 422,
  DISK_TOOL_FAILED: 422,
  DISK_NOT_CONVERTIBLE: 422,
  PLATFORM_UNREACHABLE: 422,
  PLATFORM_ACCESS_DENIED: 422,
  PLATFORM_NOT_FOUND: 422,
  PLATFORM_REQUEST_FAILED: 422,
  PLATFORM_CERTIFICATE_UNTRUSTED: 422,
  PLATFORM_CHOICE_INVALID: 422,
  IMAGE_IN_USE: 422,
  GUEST_NOT_FOUND: 422,
  GUEST_ENCRYPTED: 422,
  GUEST_VOLUME_UNCLEAN: 422,
  GUEST_FILE_SYSTEM_UNSUPPORTED: 422,
  GUEST_REGISTRY_CORRUPT: 422,
  GUEST_EDIT_FAILED: 422,
  INSTALLER_NOT_FOUND: 422,
  CREDENTIAL_UNUSABLE: 422,
  ENGINE_SETTING_INVALID: 500,
  JOB_CANCELLED: 422,
  JOB_TIMED_OUT: 422,
  ENGINE_RESTARTED: 422,
  CONNECTOR_LOST: 422,
};

/** The JSON body of every non-2xx response. */
export interface ErrorBody {
  error: { code: EngineErrorCode; message: string; fields?: FieldError[] };
}

export class EngineError extends Error {
  override readonly name: string = "EngineError";

  /** From ERROR_STATUS: one status per code, wherever the error is raised. */
  readonly status: number;

  constructor(
    readonly code: EngineErrorCode,
    message: string,
    readonly fields?: FieldError[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.status = ERROR_STATUS[code];
  }

  toBody(): ErrorBody {
    const body: ErrorBody = { error: { code: this.code, message: this.message } };
    if (this.fields && this.fields.length > 0) body.error.fields = this.fields;
    return body;
  }
}

export class ValidationFailedError extends EngineError {
  override readonly name = "ValidationFailedError";
  constructor(fields: FieldError[], message = describeFields(fields)) {
    super("VALIDATION_FAILED", message, fields);
  }
}

export class UnauthenticatedError extends EngineError {
  override readonly name = "UnauthenticatedError";
  constructor(message: string) {
    super("UNAUTHENTICATED", message);
  }
}

export class ForbiddenError extends EngineError {
  override readonly name = "ForbiddenError";
  constructor(message: string) {
    super("FORBIDDEN", message);
  }
}

export class CredentialNotFoundError extends EngineError {
  override readonly name = "CredentialNotFoundError";
  constructor(readonly credentialId: string) {
    super(
      "CREDENTIAL_NOT_FOUND",
      `Credential '${credentialId}' does not exist. List the existing ones with GET /ips/credentials, ` +
        `or create it with POST /ips/credentials.`,
    );
  }
}

export class CredentialAlreadyExistsError extends EngineError {
  override readonly name = "CredentialAlreadyExistsError";
  constructor(readonly credentialId: string) {
    super(
      "CREDENTIAL_ALREADY_EXISTS",
      `Credential '${credentialId}' already exists. Ids are unique: replace it with ` +
        `PUT /ips/credentials/${credentialId}, or choose another id.`,
    );
  }
}

export class NotFoundError extends EngineError {
  override readonly name = "NotFoundError";
  constructor(method: string, path: string) {
    super(
      "NOT_FOUND",
      `No route ${method} ${path}. The engine's routes are listed in its OpenAPI document at ` +
        `/ips/info/openapi.json; check the method and the path.`,
    );
  }
}

export class InternalError extends EngineError {
  override readonly name = "InternalError";
  constructor(requestId: string, options?: { cause?: unknown }) {
    super(
      "INTERNAL",
      `The engine failed unexpectedly while handling this request (request id ${requestId}). ` +
        `The engine log has the details under that request id; retrying may help if the cause was transient.`,
      undefined,
      options,
    );
  }
}

/**
 * A job step failed for a reason the user can act on (a missing disk, an unreachable share).
 * Thrown by platforms/ and disk/; the runner stores code and message in job.error.
 */
export function jobFailure(code: EngineErrorCode, message: string, cause?: unknown): EngineError {
  return new EngineError(code, message, undefined, { cause });
}

// --- factories for messages used in more than one place --------------------------------------

const TOKEN_HOWTO =
  "Get a token with POST /cctrustoauth2/{customerId}/tokens/clients (form fields grant_type=client_credentials, " +
  "client_id, client_secret; the engine's own client is in <dataDir>/client.json) and send it as " +
  "'Authorization: CwsAuth Bearer=<token>'.";

export function missingToken(): UnauthenticatedError {
  return new UnauthenticatedError(`This call needs a bearer token and none was sent. ${TOKEN_HOWTO}`);
}

export function malformedAuthorization(): UnauthenticatedError {
  return new UnauthenticatedError(
    `The Authorization header is not of the form 'CwsAuth Bearer=<token>'. ${TOKEN_HOWTO}`,
  );
}

export function invalidToken(): UnauthenticatedError {
  return new UnauthenticatedError(
    `The bearer token is unknown or expired (tokens last one hour and do not survive an engine restart). ${TOKEN_HOWTO}`,
  );
}

export function badClientCredentials(customerId: string): UnauthenticatedError {
  return new UnauthenticatedError(
    `The client id or client secret is wrong, or the client does not belong to customer '${customerId}'. ` +
      `Use the values from <dataDir>/client.json and that file's customerId in the token URL.`,
  );
}

export function missingCustomerHeader(): ForbiddenError {
  return new ForbiddenError(
    "The Citrix-CustomerId header is missing. Send the customer id your token was issued for " +
      "(the customerId in <dataDir>/client.json).",
  );
}

export function customerMismatch(sent: string): ForbiddenError {
  return new ForbiddenError(
    `The Citrix-CustomerId header '${sent}' is not the customer this token was issued for. ` +
      `Send the customer id used in the token URL, or get a token for customer '${sent}'.`,
  );
}

export function connectorOnly(): ForbiddenError {
  return new ForbiddenError(
    "Only connectors may call this route: it hands out work and the credentials it needs. " +
      "Run `imageport connector --engine URL --code CODE` with a registration code from POST /ips/connectors.",
  );
}

export function notForConnectors(): ForbiddenError {
  return new ForbiddenError(
    "This token belongs to a connector, which may call only the connector routes " +
      "(/ips/connectors/{id}/$heartbeat, $claim and /ips/jobs/{id}/$report). Use a user API client for the rest of the API.",
  );
}

export function credentialTypeChange(id: string, stored: string, requested: string): ValidationFailedError {
  return new ValidationFailedError([
    {
      field: "type",
      message:
        `cannot change from ${stored} to ${requested}: the type of an existing credential is fixed; ` +
        `delete credential '${id}' and create it again with the new type`,
    },
  ]);
}

export function masterKeyInvalid(reason: string): EngineError {
  return new EngineError("MASTER_KEY_INVALID", `The master key is unusable: ${reason}`);
}

export function secretUndecryptable(what: string, cause?: unknown): EngineError {
  return new EngineError(
    "SECRET_UNDECRYPTABLE",
    `The stored secret of ${what} could not be decrypted: it was encrypted with another master key, ` +
      `or the stored data was altered. Restore the master key this data directory was created with ` +
      `(IMAGEPORT_MASTER_KEY or <dataDir>/master.key), or re-enter the secret with PUT.`,
    undefined,
    { cause },
  );
}

function describeFields(fields: FieldError[]): string {
  const list = fields.map((f) => `${f.field} ${f.message}`).join("; ");
  return `The request is invalid: ${list}. Fix the listed field(s) and send the request again.`;
}
