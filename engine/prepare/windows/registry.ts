// A Windows registry hive file (SYSTEM, SOFTWARE) opened by native/hive-edit.c (libhivex, built
// by scripts/setup) for offline preparation: reads, edits, and a record of every change for the
// user. Edits live in the tool's memory until commit(); close() without commit() leaves the file
// as it was. Protocol: the head of native/hive-edit.c.

import { existsSync } from "node:fs";
import { join } from "node:path";
import { EngineError, jobFailure } from "../../errors";
import { packageRoot } from "../../package-root";
import { expectOk, LineTool, ToolAnswerError, ToolRefusal } from "../line-tool";
import { decodeArgument, encodeArgument } from "../volume-tool";
import { decodeValue, encodeValue, RegistryType, RegistryValue, typeName } from "./registry-value";

export * from "./registry-value";

export type HiveName = "SYSTEM" | "SOFTWARE";

/**
 * One edit that changed the hive, in the order made. `key` is relative to the hive's root
 * (`Setup`, `ControlSet001\Control`); `name` is the value's ("" the default value), absent for
 * a key. A set has `new` (and `old` when it replaced a value), a delete has `old`.
 */
export interface RegistryChange {
  hive: HiveName;
  action: "set-value" | "delete-value" | "create-key" | "delete-key";
  key: string;
  name?: string;
  old?: RegistryValue;
  new?: RegistryValue;
}

export interface RegistryValueInfo {
  name: string;
  type: RegistryType;
  /** Bytes of data. */
  length: number;
}

export interface Hive {
  readonly name: HiveName;
  readonly file: string;
  /** Every edit so far that changed something (a set of an identical value records nothing). */
  readonly changes: readonly RegistryChange[];
  /** Undefined when the key or the value is missing. */
  get(key: string, name: string): Promise<RegistryValue | undefined>;
  /** Undefined when the key is missing. */
  values(key: string): Promise<RegistryValueInfo[] | undefined>;
  /** Undefined when the key is missing. */
  subkeys(key: string): Promise<string[] | undefined>;
  /** Creates the missing keys along `key`; the key's other values stay as they are. */
  set(key: string, name: string, value: RegistryValue): Promise<void>;
  /** Nothing happens when the value or its key is missing. */
  deleteValue(key: string, name: string): Promise<void>;
  /** The key with its subkeys and values; nothing happens when it is missing. Not the root. */
  deleteKey(key: string): Promise<void>;
  /** Writes every edit so far to the hive file. */
  commit(): Promise<void>;
  /** Stops the tool; edits not committed are dropped. Safe to call more than once, or after a failure. */
  close(): Promise<void>;
}

export function hiveEditPath(): string {
  return join(packageRoot() ?? ".", "native", "build", "hive-edit");
}

/** Key paths without empty components: "\\A\\B\\" -> "A\\B"; "" is the root. */
export function normalizeKey(key: string): string {
  return key.split("\\").filter(Boolean).join("\\");
}

/** An argument as hive-edit reads it: percent-encoded, the empty string as a lone "-". */
function argument(value: string): string {
  if (value === "") return "-";
  if (value === "-") return "%2D";
  return encodeArgument(value);
}

function answerName(word: string): string {
  return word === "-" ? "" : decodeArgument(word);
}

const CORRUPT_ADVICE =
  "Windows keeps its registry in this file, so the guest would not boot from it either: start the source VM once and shut it " +
  "down cleanly (Windows repairs its hives from their logs), or restore the hive from a backup, then export the image again.";

/**
 * Starts hive-edit on `file` and waits for it to load the hive. A file that is not a usable hive
 * fails with GUEST_REGISTRY_CORRUPT; any other failure with GUEST_EDIT_FAILED.
 */
export async function openHive(file: string, hiveName: HiveName, signal: AbortSignal): Promise<Hive> {
  const tool = hiveEditPath();
  if (!existsSync(tool)) {
    throw jobFailure("GUEST_EDIT_FAILED", `The registry tool ${tool} is missing: it is built by scripts/setup. Run scripts/setup, then retry the job.`);
  }
  const what = `the ${hiveName} registry hive (${file})`;
  const failure = (doing: string, error: unknown) =>
    signal.aborted
      ? signal.reason
      : error instanceof EngineError
        ? error
        : jobFailure("GUEST_EDIT_FAILED", `Editing ${what} failed while ${doing}: ${(error as Error).message ?? error}. The hive file keeps its last committed state.`, error);

  let process: LineTool;
  try {
    ({ tool: process } = await LineTool.start(tool, [file], { signal }));
  } catch (error) {
    if (!(error instanceof ToolRefusal)) throw failure("opening it", error);
    if (error.code === "GUEST_REGISTRY_CORRUPT") throw jobFailure("GUEST_REGISTRY_CORRUPT", `The guest's ${hiveName} registry hive is damaged: ${error.text}. ${CORRUPT_ADVICE}`);
    throw jobFailure("GUEST_EDIT_FAILED", `Opening ${what} failed: ${error.text}. The engine needs to read and write the hive file; check that it exists and is writable.`);
  }
  const out = process.out;
  const command = async <T>(doing: string, line: string, body: Buffer | undefined, answer: (head: string) => Promise<T>): Promise<T> => {
    try {
      return await process.command(line, body, answer);
    } catch (error) {
      throw failure(doing, error);
    }
  };
  const ok = expectOk;
  const okCount = (head: string) => {
    const m = /^ok (\d+)$/.exec(head);
    if (!m) throw new Error(`unexpected answer: ${head.slice(0, 100)}`);
    return Number(m[1]);
  };

  /** The stored type number and bytes, for exact comparisons. */
  const getRaw = (key: string, name: string) =>
    command(`reading ${describe(key, name)}`, `get ${argument(key)} ${argument(name)}`, undefined, async (head) => {
      if (head === "none") return undefined;
      const m = /^ok (\d+) (\d+)$/.exec(head);
      if (!m) throw new Error(`unexpected answer: ${head.slice(0, 100)}`);
      return { type: Number(m[1]), bytes: await out.bytes(Number(m[2])) };
    });
  const values = (key: string) =>
    command(`listing the values of ${describe(key)}`, `values ${argument(key)}`, undefined, async (head) => {
      const list: RegistryValueInfo[] = [];
      for (let i = okCount(head); i > 0; i--) {
        const [name, type, length] = (await out.line()).split(" ");
        list.push({ name: answerName(name), type: typeName(Number(type)), length: Number(length) });
      }
      return list;
    }).catch(missingKey);
  const subkeys = (key: string) =>
    command(`listing the subkeys of ${describe(key)}`, `keys ${argument(key)}`, undefined, async (head) => {
      const list: string[] = [];
      for (let i = okCount(head); i > 0; i--) list.push(answerName(await out.line()));
      return list;
    }).catch(missingKey);

  const changes: RegistryChange[] = [];
  const record = (change: Omit<RegistryChange, "hive">) => changes.push({ hive: hiveName, ...change });

  /** The keys along `key` that do not exist yet, outermost first. */
  const missingAlong = async (key: string): Promise<string[]> => {
    if (!key || (await subkeys(key))) return [];
    const parts = key.split("\\");
    for (let i = 1; i <= parts.length; i++) {
      const prefix = parts.slice(0, i).join("\\");
      if (!(await subkeys(prefix))) return parts.slice(i - 1).map((_, j) => parts.slice(0, i + j).join("\\"));
    }
    return [];
  };

  /** Records the removal of `key`'s values and subkeys, then of the key itself. */
  const recordKeyRemoval = async (key: string): Promise<void> => {
    for (const info of (await values(key)) ?? []) {
      const raw = await getRaw(key, info.name);
      if (raw) record({ action: "delete-value", key, name: info.name, old: decodeValue(raw.type, raw.bytes) });
    }
    for (const sub of (await subkeys(key)) ?? []) await recordKeyRemoval(`${key}\\${sub}`);
    record({ action: "delete-key", key });
  };

  let closed = false;
  return {
    name: hiveName,
    file,
    changes,
    async get(key, name) {
      const raw = await getRaw(normalizeKey(key), name);
      return raw && decodeValue(raw.type, raw.bytes);
    },
    values: (key) => values(normalizeKey(key)),
    subkeys: (key) => subkeys(normalizeKey(key)),
    async set(rawKey, name, value) {
      const key = normalizeKey(rawKey);
      const { type, bytes } = encodeValue(value);
      const old = await getRaw(key, name);
      if (old && old.type === type && old.bytes.equals(bytes)) return;
      const created = old ? [] : await missingAlong(key);
      await command(`setting ${describe(key, name)}`, `set ${argument(key)} ${argument(name)} ${type} ${bytes.length}`, bytes, ok);
      for (const k of created) record({ action: "create-key", key: k });
      record({ action: "set-value", key, name, ...(old ? { old: decodeValue(old.type, old.bytes) } : {}), new: decodeValue(type, bytes) });
    },
    async deleteValue(rawKey, name) {
      const key = normalizeKey(rawKey);
      const old = await getRaw(key, name);
      if (!old) return;
      await command(`deleting ${describe(key, name)}`, `delvalue ${argument(key)} ${argument(name)}`, undefined, ok);
      record({ action: "delete-value", key, name, old: decodeValue(old.type, old.bytes) });
    },
    async deleteKey(rawKey) {
      const key = normalizeKey(rawKey);
      if (!key) throw failure("deleting the root key", new Error("the root key of a hive cannot be deleted"));
      if (!(await subkeys(key))) return;
      const before = changes.length;
      try {
        await recordKeyRemoval(key);
        await command(`deleting ${describe(key)}`, `delkey ${argument(key)}`, undefined, ok);
      } catch (error) {
        changes.length = before; // nothing was deleted
        throw error;
      }
    },
    commit: () => command("writing the hive file", "commit", undefined, ok),
    async close() {
      if (closed) return;
      closed = true;
      try {
        await command("closing it", "quit", undefined, ok);
      } catch {
        // a tool that cannot even quit is stopped; uncommitted edits are dropped either way
      }
      await process.stop();
    },
  };
}

function describe(key: string, name?: string): string {
  const path = `\\${key}`;
  if (name === undefined) return `the key ${path}`;
  return name === "" ? `the default value of ${path}` : `the value ${path}\\${name}`;
}

/** For listings: a missing key is an answer, not a failure. */
function missingKey(error: unknown): undefined {
  if (error instanceof EngineError && error.cause instanceof ToolAnswerError && error.cause.errno === "ENOENT") return undefined;
  throw error;
}
