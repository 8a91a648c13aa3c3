// Reading and seeding registry hives with tools other than the engine's own (libhivex-bin's
// hivexsh, hivexget, hivexml), so tests check hive-edit against an independent reader.

import { execFile, spawn } from "node:child_process";
import { promises as fs } from "node:fs";
import { promisify } from "node:util";
import { XMLParser } from "fast-xml-parser";

const run = promisify(execFile);

/** Runs a hivexsh script on `file` (writable) and commits it. */
export async function hivexsh(file: string, script: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn("hivexsh", ["-w", file], { stdio: ["pipe", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 && !stderr ? resolve() : reject(new Error(`hivexsh exited ${code}: ${stderr}`))));
    child.stdin.end(script + "\ncommit\n");
  });
}

/** hivexget's value form: strings as UTF-8 with a newline, numbers in decimal, multi-strings a line each. */
export async function hivexget(file: string, key: string, name: string): Promise<string> {
  return (await run("hivexget", [file, key, name === "" ? "@" : name])).stdout;
}


export interface HiveEntry {
  /** hivexml's type (string, expand, int32, int64, string-list, binary, ...) and value (base64 for binary, a JSON list for string-list). */
  type: string;
  value: string;
  /** The file offset of the value's vk cell. */
  vkOffset: number;
}

/**
 * The whole hive as hivexml sees it: "\\Key\\Sub" -> undefined for every key, and
 * "\\Key\\Sub:Name" -> the value for every value ("\\Key:" is a default value). Key paths keep
 * the hive's case.
 */
export async function hiveTree(file: string): Promise<Map<string, HiveEntry | undefined>> {
  const xml = await hivexml(file);
  const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", isArray: (name) => ["node", "value", "byte_run", "string"].includes(name) });
  const doc = parser.parse(xml) as { hive: { node: XmlNode[] } };
  const tree = new Map<string, HiveEntry | undefined>();
  const walk = (node: XmlNode, path: string) => {
    tree.set(path || "\\", undefined);
    for (const v of node.value ?? []) {
      const name = v.default ? "" : String(v.key ?? "");
      const value = v.type === "string-list" ? JSON.stringify((v.string ?? []).map(String)) : String(v.value ?? "");
      tree.set(`${path}:${name}`, { type: v.type, value, vkOffset: Number(v.byte_runs.byte_run[0].file_offset) });
    }
    for (const child of node.node ?? []) walk(child, `${path}\\${child.name}`);
  };
  walk(doc.hive.node[0], "");
  return tree;
}

/** hivexml opens /dev/stdout by name, which fails on the socket node gives a child: it writes to a file. */
async function hivexml(file: string): Promise<string> {
  const out = `${file}.xml`;
  const handle = await fs.open(out, "w");
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn("hivexml", [file], { stdio: ["ignore", handle.fd, "pipe"] });
      let stderr = "";
      child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
      child.on("error", reject);
      child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`hivexml exited ${code}: ${stderr}`))));
    });
    return await fs.readFile(out, "utf8");
  } finally {
    await handle.close();
    await fs.rm(out, { force: true });
  }
}

interface XmlNode {
  name: string;
  node?: XmlNode[];
  value?: { key?: string; default?: string; type: string; value?: string; string?: unknown[]; byte_runs: { byte_run: { file_offset: string }[] } }[];
}

/**
 * A value's type number and exact data bytes, read from the file through its vk cell (REGF
 * format: cell size, "vk", name length, data size with bit 31 for inline data, data offset,
 * type). Data up to 16 KiB lives in one cell; bigger data ("db" cells) is not needed by tests.
 */
export async function rawValue(file: string, vkOffset: number): Promise<{ type: number; bytes: Buffer }> {
  const hive = await fs.readFile(file);
  if (hive.toString("latin1", vkOffset + 4, vkOffset + 6) !== "vk") throw new Error(`no vk cell at ${vkOffset}`);
  const size = hive.readUInt32LE(vkOffset + 8);
  const type = hive.readUInt32LE(vkOffset + 16);
  if (size & 0x80000000) return { type, bytes: hive.subarray(vkOffset + 12, vkOffset + 12 + (size & 0x7fffffff)) };
  const data = 4096 + hive.readUInt32LE(vkOffset + 12) + 4;
  return { type, bytes: hive.subarray(data, data + size) };
}
