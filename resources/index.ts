export * from "./provider";
export * from "./types";
export * from "./credential";
export * from "./export-job";
export * from "./prepare-job";
export * from "./publish-job";
