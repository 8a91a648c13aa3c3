import { ApiError, ImageportError } from "../../client";

/**
 * One line for the user: the stable code first, then what the engine (or the client) said.
 * Never a stack trace; messages of the client and the engine carry no secrets.
 */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) {
    // ApiError's message starts with the request line; the user needs the code and the engine's words.
    const prefix = `${err.method} ${err.path} failed with ${err.status} ${err.code}: `;
    const message = err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
    return `${err.code}: ${message}`;
  }
  if (err instanceof ImageportError) return `${err.code}: ${err.message}`;
  if (err instanceof Error) return err.message;
  return String(err);
}
