import { FieldError } from "../errors";
import { allowedProperties, CREDENTIAL_TYPE_NAMES, CredentialType, isCredentialType } from "../credentials/types";
import { CREDENTIAL_ID_PATTERN, NO_CONTROL_CHARACTERS } from "./schemas/credentials";

/** The subset of an ajv ErrorObject we read. (`verbose` stays off: its `data` would carry secrets.) */
export interface AjvIssue {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
}

const MAX_FIELDS = 20; // a body with thousands of bad keys must not produce a huge answer

const TYPE_LIST = `must be one of ${CREDENTIAL_TYPE_NAMES.join(", ")}`;

/** Patterns get a sentence instead of a regex. */
const PATTERN_MESSAGES: Record<string, string> = {
  "^[A-Za-z0-9._:-]{1,128}$": "must be 1 to 128 characters: letters, digits, '.', '_', ':' or '-'",
  [NO_CONTROL_CHARACTERS]: "must not contain control characters",
  "^(?:[1-9][0-9]?|1[0-9][0-9]|200)$": "must be a whole number from 1 to 200",
  [CREDENTIAL_ID_PATTERN]:
    "must be 1 to 128 characters: letters, digits, '.', '_' or '-', starting with a letter or digit",
};

/**
 * Turns ajv's errors into one human-clear entry per field. `body` is the parsed request
 * (used only to read the credential type); no value is ever copied into a message.
 */
export function toFieldErrors(issues: readonly AjvIssue[], body: unknown): FieldError[] {
  const type = typeof body === "object" && body !== null ? (body as Record<string, unknown>).type : undefined;
  const credentialType = isCredentialType(type) ? type : undefined;
  const out = new Map<string, string>();
  for (const issue of issues) {
    const [field, message] = describe(issue, credentialType);
    if (!out.has(field)) out.set(field, message); // first (most specific) message per field wins
    if (out.size >= MAX_FIELDS) break;
  }
  return [...out].map(([field, message]) => ({ field, message }));
}

function describe(issue: AjvIssue, credentialType: CredentialType | undefined): [string, string] {
  const p = issue.params;
  const at = issue.instancePath.replace(/^\//, "").replace(/\//g, ".") || "body";
  switch (issue.keyword) {
    case "required": {
      const field = (at === "body" ? "" : `${at}.`) + String(p.missingProperty);
      if (field === "type") return [field, `is required; ${TYPE_LIST}`];
      return [field, credentialType ? `is required for type ${credentialType}` : "is required"];
    }
    case "additionalProperties": {
      const field = (at === "body" ? "" : `${at}.`) + String(p.additionalProperty);
      if (!credentialType) return [field, "is not a known property"];
      return [
        field,
        `is not a known property of a ${credentialType} credential; allowed: ${allowedProperties(credentialType).join(", ")}`,
      ];
    }
    case "discriminator": // `type` missing, not a string, or not a known type
      return ["type", p.error === "tag" && p.tagValue === undefined ? `is required; ${TYPE_LIST}` : TYPE_LIST];
    case "enum": {
      const allowed = p.allowedValues as unknown[];
      return [at, allowed.length === 1 ? `must be ${String(allowed[0])}` : `must be one of ${allowed.join(", ")}`];
    }
    case "const":
      return [at, `must be ${String(p.allowedValue)}`];
    case "pattern":
      return [at, PATTERN_MESSAGES[String(p.pattern)] ?? `must match the pattern ${String(p.pattern)}`];
    case "type":
      return [at, at === "body" ? "must be a JSON object" : `must be ${/^[aeiou]/.test(String(p.type)) ? "an" : "a"} ${String(p.type)}`];
    case "minLength":
      return [at, p.limit === 1 ? "must not be empty" : `must be at least ${String(p.limit)} characters`];
    case "maxLength":
      return [at, `must be at most ${String(p.limit)} characters`];
    case "minimum":
      return [at, `must be at least ${String(p.limit)}`];
    case "maximum":
      return [at, `must be at most ${String(p.limit)}`];
    case "minItems":
      return [at, `must have at least ${String(p.limit)} item${p.limit === 1 ? "" : "s"}`];
    case "uniqueItems":
      return [at, "must not list the same item twice"];
    case "maxItems":
      return [at, `must have at most ${String(p.limit)} items`];
    case "maxProperties":
      return [at, `must have at most ${String(p.limit)} entries`];
    default:
      return [at, "is not valid"];
  }
}
