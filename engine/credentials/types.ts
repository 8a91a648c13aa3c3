import { ValidationFailedError } from "../errors";
import { Fields } from "../store/credential-store";

// The credential types, their fields and which of them are secret. Schemas, error messages,
// the stored split (plain vs encrypted) and the views are all derived from this one table.

export interface FieldSpec {
  required: boolean;
  secret: boolean;
  maxLength: number;
}

export interface CredentialTypeSpec {
  fields: Record<string, FieldSpec>;
  /** Non-secret facts read out of the secret fields (Gcp's client email and project). */
  derive?(secret: Fields): Fields;
}

const plain = (required: boolean): FieldSpec => ({ required, secret: false, maxLength: 1024 });
const secret = (required: boolean, maxLength = 16384): FieldSpec => ({ required, secret: true, maxLength });

export const CREDENTIAL_TYPES = {
  UsernamePassword: { fields: { username: plain(true), password: secret(true), domain: plain(false) } },
  Aws: { fields: { accessKeyId: plain(true), secretAccessKey: secret(true), sessionToken: secret(false) } },
  Azure: { fields: { tenantId: plain(true), clientId: plain(true), clientSecret: secret(true) } },
  Gcp: { fields: { serviceAccountKey: secret(true, 65536) }, derive: deriveGcp },
} satisfies Record<string, CredentialTypeSpec>;

export type CredentialType = keyof typeof CREDENTIAL_TYPES;
export const CREDENTIAL_TYPE_NAMES = Object.keys(CREDENTIAL_TYPES) as CredentialType[];

export function isCredentialType(value: unknown): value is CredentialType {
  return typeof value === "string" && Object.prototype.hasOwnProperty.call(CREDENTIAL_TYPES, value);
}

export function typeSpec(type: CredentialType): CredentialTypeSpec {
  return CREDENTIAL_TYPES[type];
}

/** Every property a body of this type may carry, in the order error messages list them. */
export function allowedProperties(type: CredentialType): string[] {
  return ["id", "type", "name", ...Object.keys(typeSpec(type).fields)];
}

/** Splits a schema-validated body into what is shown and what is encrypted. */
export function splitFields(
  type: CredentialType,
  body: Record<string, unknown>,
): { publicFields: Fields; secretFields: Fields } {
  const spec = typeSpec(type);
  const publicFields: Fields = {};
  const secretFields: Fields = {};
  for (const [field, fieldSpec] of Object.entries(spec.fields)) {
    const value = body[field];
    if (typeof value !== "string") continue;
    (fieldSpec.secret ? secretFields : publicFields)[field] = value;
  }
  return { publicFields: { ...publicFields, ...spec.derive?.(secretFields) }, secretFields };
}

/** Gcp keys must be the JSON of a service-account key; the error never echoes the key text. */
function deriveGcp(secretFields: Fields): Fields {
  const invalid = (why: string) =>
    new ValidationFailedError([
      {
        field: "serviceAccountKey",
        message: `must be the JSON text of a Google service-account key file (with client_email and private_key); ${why}`,
      },
    ]);
  let key: unknown;
  try {
    key = JSON.parse(secretFields.serviceAccountKey ?? "");
  } catch {
    throw invalid("it is not valid JSON"); // the parser's message quotes the input: never pass it on
  }
  if (typeof key !== "object" || key === null || Array.isArray(key)) throw invalid("it is not a JSON object");
  const { client_email, private_key, project_id } = key as Record<string, unknown>;
  if (typeof client_email !== "string" || client_email === "") throw invalid("client_email is missing");
  if (typeof private_key !== "string" || private_key === "") throw invalid("private_key is missing");
  const derived: Fields = { clientEmail: client_email };
  if (typeof project_id === "string" && project_id !== "") derived.projectId = project_id;
  return derived;
}
