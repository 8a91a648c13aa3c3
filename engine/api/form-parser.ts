import { FastifyInstance } from "fastify";

/** application/x-www-form-urlencoded, as OAuth2 token requests are sent (no @fastify/formbody needed). */
export function registerFormParser(app: FastifyInstance): void {
  app.addContentTypeParser(
    "application/x-www-form-urlencoded",
    { parseAs: "string", bodyLimit: 64 * 1024 },
    (_request, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    },
  );
}
