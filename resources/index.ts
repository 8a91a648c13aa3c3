export * from "./provider";
export * from "./credential";
