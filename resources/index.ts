export * from "./provider";
export * from "./credential";
export * from "./resource-location";
export * from "./connector-registration";
