import { ResourceHandler } from "../handler";
import { credentialHandler } from "./credential";
import { resourceLocationHandler } from "./resource-location";
import { connectorRegistrationHandler } from "./connector-registration";
import { exportJobHandler } from "./export-job";
import { prepareJobHandler } from "./prepare-job";
import { publishJobHandler } from "./publish-job";
import { uploadJobHandler } from "./upload-job";
import { imageHandler } from "./image";

/** One handler per resource type token of schema.json. */
export const handlers: Record<string, ResourceHandler> = {
  "imageport:index:Credential": credentialHandler,
  "imageport:index:ResourceLocation": resourceLocationHandler,
  "imageport:index:ConnectorRegistration": connectorRegistrationHandler,
  "imageport:index:ExportJob": exportJobHandler,
  "imageport:index:UploadJob": uploadJobHandler,
  "imageport:index:PrepareJob": prepareJobHandler,
  "imageport:index:PublishJob": publishJobHandler,
  "imageport:index:Image": imageHandler,
};
