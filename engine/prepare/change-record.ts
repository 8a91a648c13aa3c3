// The change record: every file, directory and registry value a preparation wrote or removed,
// with what was there before, in the order it happened. It is stored in the guest and in the
// job's artifacts, and a dry run returns the same record without writing anything. File
// contents are never included (a sha256 and a size instead); registry values are, except
// those marked secret.

import { createHash } from "node:crypto";
import { GuestVolume } from "./volume-tool";

export type RegistryData = string | string[] | number;

export interface RecordedRegistryValue {
  type: string;
  data: RegistryData;
}

export type Change =
  | { kind: "file"; path: string; action: "created" | "replaced" | "removed"; before?: FileState; after?: FileState }
  | { kind: "directory"; path: string; action: "created" | "removed" }
  | { kind: "symlink"; path: string; action: "created"; target: string }
  | {
      kind: "registry";
      hive: string;
      action: "set-value" | "delete-value" | "create-key" | "delete-key";
      key: string;
      /** The value's name ("" the default value); absent for a key. */
      name?: string;
      before?: RecordedRegistryValue;
      after?: RecordedRegistryValue;
    };

export interface FileState {
  size: number;
  sha256: string;
}

export function fileState(data: Buffer): FileState {
  return { size: data.length, sha256: createHash("sha256").update(data).digest("hex") };
}

/** A guest volume whose every change lands in `changes`. Paths are the guest's, '/'-separated. */
export class RecordingVolume {
  readonly changes: Change[] = [];

  constructor(readonly volume: GuestVolume) {}

  async writeFile(path: string, data: Buffer, mode = 0o644): Promise<void> {
    const existing = await this.volume.stat(path);
    const before = existing?.type === "file" ? fileState(await this.volume.readFile(path)) : undefined;
    const after = fileState(data);
    if (before && before.sha256 === after.sha256) return;
    await this.volume.writeFile(path, data, mode);
    this.changes.push({ kind: "file", path, action: before ? "replaced" : "created", ...(before ? { before } : {}), after });
  }

  /** Creates the directory and any missing parents. */
  async mkdirs(path: string, mode = 0o755): Promise<void> {
    const parts = path.split("/").filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      const dir = "/" + parts.slice(0, i).join("/");
      const existing = await this.volume.stat(dir);
      if (existing?.type === "dir") continue;
      await this.volume.mkdir(dir, mode);
      this.changes.push({ kind: "directory", path: dir, action: "created" });
    }
  }

  async symlink(path: string, target: string): Promise<void> {
    if (await this.volume.stat(path)) await this.remove(path);
    await this.volume.symlink(path, target);
    this.changes.push({ kind: "symlink", path, action: "created", target });
  }

  /** Removes a file or symlink if present. */
  async remove(path: string): Promise<void> {
    const existing = await this.volume.stat(path);
    if (!existing) return;
    const before = existing.type === "file" ? fileState(await this.volume.readFile(path)) : undefined;
    await this.volume.remove(path);
    if (existing.type === "dir") this.changes.push({ kind: "directory", path, action: "removed" });
    else this.changes.push({ kind: "file", path, action: "removed", ...(before ? { before } : {}) });
  }

  /** Registry changes made through a hive file (windows/registry.ts), recorded as values. */
  addRegistryChanges(changes: Change[]): void {
    this.changes.push(...changes);
  }
}
