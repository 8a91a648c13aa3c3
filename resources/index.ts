export * from "./provider";
export * from "./types";
export * from "./credential";
export * from "./resource-location";
export * from "./connector-registration";
export * from "./export-job";
export * from "./prepare-job";
export * from "./publish-job";
