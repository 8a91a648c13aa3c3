import { CREDENTIAL_TYPE_NAMES, CREDENTIAL_TYPES, CredentialType } from "../../credentials/types";

export const CREDENTIAL_ID_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$";
export const NAME_MAX_LENGTH = 256;
/** Control characters (NUL among them, which PostgreSQL cannot store in text) are refused. */
export const NO_CONTROL_CHARACTERS = "^[^\\u0000-\\u001f\\u007f]*$";

const idSchema = { type: "string", pattern: CREDENTIAL_ID_PATTERN };

/** One oneOf branch per type, picked by the `type` discriminator, so errors speak about that type only. */
function branch(type: CredentialType, idRequired: boolean) {
  const fields = CREDENTIAL_TYPES[type].fields;
  const properties: Record<string, object> = {
    id: idSchema,
    type: { const: type },
    name: { type: "string", maxLength: NAME_MAX_LENGTH, pattern: NO_CONTROL_CHARACTERS },
  };
  const required = idRequired ? ["id", "type"] : ["type"];
  for (const [field, spec] of Object.entries(fields)) {
    properties[field] = { type: "string", maxLength: spec.maxLength, ...(spec.required ? { minLength: 1 } : {}) };
    if (spec.required) required.push(field);
  }
  return { type: "object", properties, required, additionalProperties: false };
}

function bodySchema(idRequired: boolean) {
  return {
    type: "object",
    required: ["type"],
    discriminator: { propertyName: "type" },
    oneOf: CREDENTIAL_TYPE_NAMES.map((t) => branch(t, idRequired)),
  };
}

/** POST /ips/credentials */
export const createCredentialBody = bodySchema(true);
/** PUT /ips/credentials/{id}: the id comes from the path. */
export const replaceCredentialBody = bodySchema(false);

export const credentialIdParams = {
  type: "object",
  properties: { id: idSchema },
  required: ["id"],
};

export const listCredentialsQuery = {
  type: "object",
  properties: { type: { type: "string", enum: CREDENTIAL_TYPE_NAMES } },
};
