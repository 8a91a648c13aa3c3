import { ResourceHandler } from "../handler";
import { credentialHandler } from "./credential";

/** One handler per resource type token of schema.json. */
export const handlers: Record<string, ResourceHandler> = {
  "imageport:index:Credential": credentialHandler,
};
