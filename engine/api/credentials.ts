import { createHash, timingSafeEqual } from "crypto";
import { FastifyInstance } from "fastify";
import { customer } from "../auth/authenticate";
import { credentialTypeChange, ValidationFailedError } from "../errors";
import { CredentialType, splitFields, typeSpec } from "../credentials/types";
import { toView } from "../credentials/view";
import { CredentialStore } from "../store/credential-store";
import {
  createCredentialBody,
  credentialIdParams,
  listCredentialsQuery,
  replaceCredentialBody,
} from "./schemas/credentials";

/** A body that passed the schema: `type` is known and every field is a string. */
type CredentialBody = { id?: string; type: CredentialType; name?: string } & Record<string, string>;

interface ById {
  Params: { id: string };
}

export function registerCredentialRoutes(app: FastifyInstance, deps: { credentials: CredentialStore }): void {
  const store = deps.credentials;

  app.post<{ Body: CredentialBody & { id: string } }>(
    "/ips/credentials",
    { schema: { body: createCredentialBody } },
    async (request, reply) => {
      const body = request.body;
      const created = await store.create(customer(request), { id: body.id, ...toInput(body) });
      reply.code(201).header("Location", `/ips/credentials/${encodeURIComponent(created.id)}`);
      return toView(created);
    },
  );

  app.get<{ Querystring: { type?: CredentialType } }>(
    "/ips/credentials",
    { schema: { querystring: listCredentialsQuery } },
    async (request) => {
      const records = await store.list(customer(request), { type: request.query.type });
      return { items: records.map(toView) };
    },
  );

  app.get<ById>("/ips/credentials/:id", { schema: { params: credentialIdParams } }, async (request) =>
    toView(await store.get(customer(request), request.params.id)),
  );

  app.put<ById & { Body: CredentialBody }>(
    "/ips/credentials/:id",
    { schema: { params: credentialIdParams, body: replaceCredentialBody } },
    async (request) => {
      const { id } = request.params;
      const body = request.body;
      if (body.id !== undefined && body.id !== id) {
        throw new ValidationFailedError([
          { field: "id", message: `must equal the id in the path ('${id}') or be left out` },
        ]);
      }
      const existing = await store.get(customer(request), id);
      if (existing.type !== body.type) throw credentialTypeChange(id, existing.type, body.type);
      return toView(await store.update(customer(request), { id, ...toInput(body) }));
    },
  );

  // Whether given secrets are the stored ones, without ever returning them: lets a client that
  // adopted a credential (pulumi import) tell an unchanged secret from a changed one.
  app.post<ById & { Body: Record<string, string> }>(
    "/ips/credentials/:id/$verify",
    {
      schema: {
        summary: "Check whether secret fields equal the stored ones (the secrets are never returned)",
        params: credentialIdParams,
        body: { type: "object", minProperties: 1, maxProperties: 8, additionalProperties: { type: "string", maxLength: 65536 } },
      },
    },
    async (request) => {
      const { id } = request.params;
      const existing = await store.get(customer(request), id);
      const secretNames = Object.entries(typeSpec(existing.type as CredentialType).fields).filter(([, f]) => f.secret).map(([name]) => name);
      const unknown = Object.keys(request.body).filter((k) => !secretNames.includes(k));
      if (unknown.length > 0) {
        throw new ValidationFailedError(
          unknown.map((field) => ({ field, message: `is not a secret field of a ${existing.type} credential; it has ${secretNames.join(", ")}` })),
        );
      }
      const stored = await store.getSecret(customer(request), id);
      const matches = Object.entries(request.body).every(([k, v]) => sameSecret(stored[k], v));
      return { matches };
    },
  );

  app.delete<ById>("/ips/credentials/:id", { schema: { params: credentialIdParams } }, async (request, reply) => {
    await store.delete(customer(request), request.params.id);
    reply.code(204).send();
  });
}

/** Compares digests in constant time, so the answer's timing says nothing of the secret. */
function sameSecret(stored: string | undefined, given: string): boolean {
  if (stored === undefined) return false;
  const digest = (v: string) => createHash("sha256").update(v, "utf8").digest();
  return timingSafeEqual(digest(stored), digest(given));
}

function toInput(body: CredentialBody) {
  return { type: body.type, name: body.name, ...splitFields(body.type, body) };
}
