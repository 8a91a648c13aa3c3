import { ResourceHandler } from "../handler";
import { credentialHandler } from "./credential";
import { resourceLocationHandler } from "./resource-location";
import { connectorRegistrationHandler } from "./connector-registration";

/** One handler per resource type token of schema.json. */
export const handlers: Record<string, ResourceHandler> = {
  "imageport:index:Credential": credentialHandler,
  "imageport:index:ResourceLocation": resourceLocationHandler,
  "imageport:index:ConnectorRegistration": connectorRegistrationHandler,
};
