import { CREDENTIAL_FIELDS, CREDENTIAL_TYPES, CredentialBody, CredentialType, CredentialView } from "../../client";
import { autoName, matches, notSecret, oneOf, requireString } from "../checks";
import { CheckFailure, ResourceHandler } from "../handler";
import { compact, PropertyMap } from "../properties";

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const ALL_FIELDS = [...new Set(Object.values(CREDENTIAL_FIELDS).flatMap((f) => [...f.required, ...f.optional]))];
/** Non-secret values the API reports back, checked for drift on refresh. */
const VIEW_FIELDS = ["username", "domain", "accessKeyId", "tenantId", "clientId", "clientEmail", "projectId"] as const;

function fieldsOf(type: CredentialType): string[] {
  return [...CREDENTIAL_FIELDS[type].required, ...CREDENTIAL_FIELDS[type].optional];
}

function body(inputs: PropertyMap): CredentialBody {
  const type = inputs.type as CredentialType;
  const out: CredentialBody = { type };
  for (const f of fieldsOf(type)) if (typeof inputs[f] === "string") out[f] = inputs[f] as string;
  return out;
}

/** Outputs: the inputs (secrets included; the server marks them secret) plus what the wallet reports. */
function outputs(inputs: PropertyMap, view: CredentialView): PropertyMap {
  return compact({
    ...inputs,
    credentialId: view.id,
    type: view.type,
    state: view.state,
    createdAt: view.createdAt,
    updatedAt: view.updatedAt,
    clientEmail: view.clientEmail,
    projectId: view.projectId,
  });
}

export const credentialHandler: ResourceHandler = {
  check(news, olds, ctx) {
    const inputs: PropertyMap = { ...news, credentialId: autoName(news, olds, "credentialId", ctx) };
    const failures: CheckFailure[] = [
      ...requireString(inputs, "type", `(one of ${CREDENTIAL_TYPES.join(", ")})`),
      ...oneOf(inputs, "type", CREDENTIAL_TYPES),
      ...matches(inputs, "credentialId", ID_PATTERN, "use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit"),
      ...notSecret(ctx, ["credentialId", "type"]),
    ];
    const type = inputs.type as CredentialType;
    if (CREDENTIAL_TYPES.includes(type)) {
      for (const f of CREDENTIAL_FIELDS[type].required) failures.push(...requireString(inputs, f, `for a ${type} credential`));
      const own = fieldsOf(type);
      for (const f of ALL_FIELDS) {
        if (inputs[f] !== undefined && !own.includes(f)) {
          failures.push({ property: f, reason: `${f} is not used by a ${type} credential; it takes ${own.join(", ")}` });
        }
      }
    }
    return { inputs, failures };
  },

  async create(inputs, ctx) {
    const id = inputs.credentialId as string;
    ctx.status(`creating credential ${id}`);
    const view = await ctx.client.credentials.create(id, body(inputs));
    return { id: view.id, outputs: outputs(inputs, view) };
  },

  async read(id, state, inputs, ctx) {
    const view = await ctx.client.credentials.get(id);
    if (!view) return undefined;
    // Secrets cannot be read back: keep the ones we wrote. Everything else comes from the wallet.
    const known: PropertyMap = Object.keys(inputs).length ? inputs : state;
    const secrets = Object.fromEntries(CREDENTIAL_FIELDS[view.type].secret.map((f) => [f, known[f]]));
    const reported = Object.fromEntries(VIEW_FIELDS.filter((f) => fieldsOf(view.type).includes(f)).map((f) => [f, view[f]]));
    const readInputs = compact({ credentialId: view.id, type: view.type, ...reported, ...secrets });
    return { id: view.id, inputs: readInputs, outputs: outputs(readInputs, view) };
  },

  async update(id, _state, news, ctx) {
    ctx.status(`updating credential ${id}`);
    const view = await ctx.client.credentials.update(id, body(news));
    return outputs(news, view);
  },

  async confirmUnchanged(id, news, keys, ctx) {
    const secrets = Object.fromEntries(keys.filter((k) => typeof news[k] === "string").map((k) => [k, news[k] as string]));
    if (Object.keys(secrets).length === 0) return [];
    return (await ctx.client.credentials.verify(id, secrets)) ? Object.keys(secrets) : [];
  },

  async delete(id, _state, ctx) {
    ctx.status(`deleting credential ${id}`);
    await ctx.client.credentials.delete(id);
  },
};
