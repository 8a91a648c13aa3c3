// A guest file system opened by one of the native volume tools (native/ntfs-edit.c over
// libntfs-3g, native/ext4-edit.c over libext2fs; built by scripts/setup): the tool edits the
// volume through a BlockDevice the engine serves on the tool's fd 3, and takes file commands
// on stdin. Protocols: native/volume-tool.h. Nothing is mounted and nothing needs root.

import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import { EngineErrorCode, jobFailure } from "../errors";
import { packageRoot } from "../package-root";
import { BlockDevice } from "./block-device";
import { ByteQueue } from "./byte-queue";
import { LineTool, ToolAnswerError, ToolRefusal } from "./line-tool";

export type VolumeToolName = "ntfs-edit" | "ext4-edit";
export type EntryType = "file" | "dir" | "symlink" | "other";

export interface GuestVolume {
  /** What the tool reported when it opened the volume (the "ready" line), e.g. { label: "OS" }. */
  readonly facts: Readonly<Record<string, string>>;
  /** Undefined when nothing is at `path`. */
  stat(path: string): Promise<{ type: EntryType; size: number } | undefined>;
  list(path: string): Promise<{ name: string; type: EntryType }[]>;
  readFile(path: string): Promise<Buffer>;
  /** Creates or replaces a file in an existing directory. `mode` matters on ext4 only. */
  writeFile(path: string, data: Buffer, mode?: number): Promise<void>;
  mkdir(path: string, mode?: number): Promise<void>;
  /** A file, a symlink or an empty directory. */
  remove(path: string): Promise<void>;
  symlink(path: string, target: string): Promise<void>;
  /** Flushes every change and closes the volume; until then the changes may be incomplete. */
  close(): Promise<void>;
  /** Stops the tool without flushing (after a failure: the overlay is thrown away anyway). */
  abort(): Promise<void>;
}

/** A file command the tool refused, with its errno name (ENOENT, EEXIST, ...). */
export class VolumeCommandError extends Error {
  override readonly name = "VolumeCommandError";
  constructor(
    readonly errno: string,
    message: string,
  ) {
    super(message);
  }
}

/** What a tool's "fail" line may name; anything else is GUEST_EDIT_FAILED. */
const REFUSAL_CODES = new Set<EngineErrorCode>(["GUEST_ENCRYPTED", "GUEST_VOLUME_UNCLEAN", "GUEST_FILE_SYSTEM_UNSUPPORTED", "GUEST_EDIT_FAILED"]);

export function volumeToolPath(tool: VolumeToolName): string {
  return join(packageRoot() ?? ".", "native", "build", tool);
}

/** Percent-encodes a command argument as volume-tool.h expects. */
export function encodeArgument(value: string): string {
  let out = "";
  for (const byte of Buffer.from(value, "utf8")) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9._~/-]/.test(c) ? c : "%" + byte.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

/** The inverse of encodeArgument. */
export function decodeArgument(value: string): string {
  return Buffer.from(value.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))), "latin1").toString("utf8");
}

/**
 * Starts `tool` on `device`, waits for it to open the volume, and returns the volume. A tool
 * that refuses the volume (not its file system, unclean, encrypted) fails with its coded reason.
 * `what` names the volume in messages ("partition 2 (NTFS) of disk.vhdx").
 */
export async function openGuestVolume(tool: VolumeToolName, device: BlockDevice, what: string, signal: AbortSignal): Promise<GuestVolume> {
  const path = volumeToolPath(tool);
  if (!existsSync(path)) {
    throw jobFailure("GUEST_EDIT_FAILED", `The volume tool ${path} is missing: it is built by scripts/setup. Run scripts/setup, then retry the job.`);
  }
  const channelIn = new ByteQueue();
  let channel!: Duplex;
  let deviceFailure: unknown;

  // The device: one request at a time, in the order the tool sends them.
  const serveDevice = async () => {
    for (;;) {
      const line = await channelIn.line();
      const [op, offsetText, lengthText] = line.split(" ");
      const offset = Number(offsetText);
      const length = Number(lengthText);
      try {
        if (op === "R") {
          const data = await device.read(offset, length);
          channel.write(`OK ${data.length}\n`);
          channel.write(data);
        } else if (op === "W") {
          const data = await channelIn.bytes(length);
          await device.write(offset, data);
          channel.write("OK 0\n");
        } else if (op === "S") {
          await device.flush();
          channel.write("OK 0\n");
        } else throw new Error(`unknown device request: ${line.slice(0, 60)}`);
      } catch (error) {
        deviceFailure ??= error;
        channel.write(`ERR EIO ${String((error as Error).message ?? error).replace(/\n/g, " ").slice(0, 200)}\n`);
      }
    }
  };

  const failure = (doing: string, error: unknown) =>
    signal.aborted
      ? signal.reason
      : jobFailure(
          "GUEST_EDIT_FAILED",
          `${tool} failed while ${doing} on ${what}: ${(error as Error).message ?? error}${deviceFailure ? ` (reading or writing the disk failed: ${(deviceFailure as Error).message})` : ""}.`,
          deviceFailure ?? error,
        );

  let started: Awaited<ReturnType<typeof LineTool.start>>;
  try {
    started = await LineTool.start(path, ["--size", String(device.size)], {
      signal,
      onChannel: (c) => {
        channel = c;
        c.on("data", (chunk: Buffer) => channelIn.push(chunk));
        c.on("end", () => channelIn.end(new Error("device channel closed")));
        void serveDevice().catch(() => undefined); // ends when the tool's channel closes
      },
    });
  } catch (error) {
    if (error instanceof ToolRefusal) {
      const code = REFUSAL_CODES.has(error.code as EngineErrorCode) ? (error.code as EngineErrorCode) : "GUEST_EDIT_FAILED";
      throw jobFailure(code, `${what}: ${error.text}`);
    }
    throw failure("opening the volume", error);
  }
  const { tool: process, ready } = started;
  const facts: Record<string, string> = {};
  for (const pair of ready.split(" ").filter(Boolean)) {
    const eq = pair.indexOf("=");
    facts[pair.slice(0, eq)] = decodeArgument(pair.slice(eq + 1));
  }

  const command = async <T>(doing: string, line: string, body: Buffer | undefined, answer: (rest: string) => Promise<T>): Promise<T> => {
    try {
      return await process.command(line, body, async (head) => {
        if (!/^ok( |$)/.test(head)) throw new Error(`unexpected answer: ${head.slice(0, 100)}`);
        return answer(head.slice(2).trim());
      });
    } catch (error) {
      if (error instanceof ToolAnswerError && !deviceFailure) throw new VolumeCommandError(error.errno, `${doing} on ${what}: ${error.text} (${error.errno})`);
      throw failure(doing, error);
    }
  };
  const done = async () => undefined;

  return {
    facts,
    async stat(p) {
      try {
        return await command(`reading ${p}`, `stat ${encodeArgument(p)}`, undefined, async (rest) => {
          const [type, size] = rest.split(" ");
          return { type: type as EntryType, size: Number(size) };
        });
      } catch (error) {
        if (error instanceof VolumeCommandError && (error.errno === "ENOENT" || error.errno === "ENOTDIR")) return undefined;
        throw error;
      }
    },
    list: (p) =>
      command(`listing ${p}`, `ls ${encodeArgument(p)}`, undefined, async (rest) => {
        const entries: { name: string; type: EntryType }[] = [];
        for (let i = Number(rest); i > 0; i--) {
          const [name, type] = (await process.out.line()).split(" ");
          entries.push({ name: decodeArgument(name!), type: type as EntryType });
        }
        return entries;
      }),
    readFile: (p) => command(`reading ${p}`, `cat ${encodeArgument(p)}`, undefined, (rest) => process.out.bytes(Number(rest))),
    writeFile: (p, data, mode = 0o644) => command(`writing ${p}`, `put ${encodeArgument(p)} ${data.length} ${mode.toString(8)}`, data, done),
    mkdir: (p, mode = 0o755) => command(`creating the directory ${p}`, `mkdir ${encodeArgument(p)} ${mode.toString(8)}`, undefined, done),
    remove: (p) => command(`removing ${p}`, `rm ${encodeArgument(p)}`, undefined, done),
    symlink: (p, target) => command(`creating the symlink ${p}`, `symlink ${encodeArgument(p)} ${encodeArgument(target)}`, undefined, done),
    async close() {
      await command("closing the volume", "quit", undefined, done);
      const result = await process.exited;
      if (!result || result.code !== 0) throw failure("closing the volume", new Error(result?.stderr.trim() || "the tool did not exit cleanly"));
      if (deviceFailure) throw failure("closing the volume", deviceFailure);
    },
    abort: () => process.stop(),
  };
}
