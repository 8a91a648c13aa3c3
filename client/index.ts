export * from "./errors";
export * from "./endpoint";
export * from "./auth";
export * from "./http";
export * from "./credentials";
export * from "./client";
