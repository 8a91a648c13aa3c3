import { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { EngineError, InternalError, NotFoundError, ValidationFailedError } from "../errors";
import { AjvIssue, toFieldErrors } from "./validation-messages";

declare module "fastify" {
  interface FastifyRequest {
    /** The error code sent, for the request log line. */
    errorCode: string | null;
  }
}

/** Every non-2xx answer is `{"error": {code, message, fields?}}` (see EngineError.toBody). */
export function registerErrorHandling(app: FastifyInstance): void {
  app.decorateRequest("errorCode", null);

  app.setNotFoundHandler(async (request, reply) => {
    send(request, reply, new NotFoundError(request.method, request.url.split("?")[0]!));
  });

  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    const engineError = toEngineError(error, request);
    if (engineError.status >= 500) request.log.error({ err: error }, "request failed");
    send(request, reply, engineError);
  });
}

function send(request: FastifyRequest, reply: FastifyReply, error: EngineError): void {
  request.errorCode = error.code;
  if (error.status === 401) reply.header("WWW-Authenticate", 'CwsAuth realm="imageportd"');
  reply.code(error.status).type("application/json; charset=utf-8").send(error.toBody());
}

/**
 * Maps anything thrown to an EngineError. Messages of foreign errors are never passed on:
 * a parser or driver message may quote the request body, and bodies carry secrets.
 */
function toEngineError(error: FastifyError, request: FastifyRequest): EngineError {
  if (error instanceof EngineError) return error;
  if (error.validation) {
    const body = error.validationContext === "body" ? request.body : undefined;
    return new ValidationFailedError(toFieldErrors(error.validation as AjvIssue[], body));
  }
  switch (error.code) {
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return bodyError("is empty; send a JSON object");
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return bodyError("is not valid JSON; send a JSON object");
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new EngineError(
        "UNSUPPORTED_MEDIA_TYPE",
        `The Content-Type '${request.headers["content-type"] ?? ""}' is not accepted here. Send ` +
          `application/json (or application/x-www-form-urlencoded for the token endpoint).`,
      );
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new EngineError("PAYLOAD_TOO_LARGE", "The request body is larger than the engine accepts (1 MiB).");
  }
  if (typeof error.statusCode === "number" && error.statusCode >= 400 && error.statusCode < 500) {
    return bodyError(`could not be read (${error.code ?? "bad request"}); check the headers and the body`);
  }
  return new InternalError(request.id, { cause: error });
}

function bodyError(message: string): ValidationFailedError {
  return new ValidationFailedError([{ field: "body", message }]);
}
