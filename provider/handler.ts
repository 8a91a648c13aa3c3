import { ImageportClient } from "../client";
import { PropertyMap } from "./properties";

/** A problem with one input, reported by check so the CLI points at the property. */
export interface CheckFailure {
  property: string;
  reason: string;
}

export interface CheckContext {
  urn: string;
  /** The resource's logical name, for auto-naming. */
  name: string;
  /** Stable per resource, for deterministic auto-names. */
  randomSeed: Buffer;
  /** Top-level inputs the program marked secret. */
  secretKeys: Set<string>;
}

export interface OperationContext {
  urn: string;
  /** The API client for the configured endpoint. */
  client: ImageportClient;
  /** Aborted when the engine cancels the operation (Ctrl-C) or its deadline passes. */
  signal: AbortSignal;
  /** Custom timeout the engine passed for this operation, in seconds (0 = none). */
  timeoutSeconds: number;
  /** A progress line shown next to the resource while it works. */
  status(message: string): void;
  /** A warning kept in the update's diagnostics. */
  warn(message: string): void;
}

export interface ReadResult {
  id: string;
  outputs: PropertyMap;
  inputs: PropertyMap;
}

/**
 * The lifecycle of one resource type. Values are plain (secrets revealed); the server
 * re-marks secrets from schema.json and from what the program marked secret.
 * Diff is derived from schema.json by the server; schema.json's types, enums and required
 * inputs are checked by the server before the handler's own check.
 */
export interface ResourceHandler {
  check(news: PropertyMap, olds: PropertyMap, ctx: CheckContext): { inputs: PropertyMap; failures: CheckFailure[] };
  create(inputs: PropertyMap, ctx: OperationContext): Promise<{ id: string; outputs: PropertyMap }>;
  /** Undefined when the resource no longer exists. */
  read(id: string, state: PropertyMap, inputs: PropertyMap, ctx: OperationContext): Promise<ReadResult | undefined>;
  update(id: string, state: PropertyMap, news: PropertyMap, ctx: OperationContext): Promise<PropertyMap>;
  delete(id: string, state: PropertyMap, ctx: OperationContext): Promise<void>;
  /**
   * Of these secret inputs, which the API confirms equal the stored values (for resources whose
   * secrets Pulumi never saw, like imported ones); the others count as changed.
   */
  confirmUnchanged?(id: string, news: PropertyMap, keys: string[], ctx: OperationContext): Promise<string[]>;
  /** When a replacement must delete the old resource before creating the new one (default: never). */
  deleteBeforeReplace?(olds: PropertyMap, news: PropertyMap): boolean;
}
