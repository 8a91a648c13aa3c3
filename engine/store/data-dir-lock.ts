// One engine per data directory, as PostgreSQL's postmaster.pid guards its data directory: the
// first thing an engine does is create <dataDir>/imageportd.pid atomically (a hard link of a
// finished file, so no one ever reads half of it), holding its pid and the kernel's start time
// of that pid. A second engine finds the file, sees that process alive, and stops before it
// opens the store, so it cannot "recover" the first one's running jobs. A file left by an
// engine that died (no such process, or the pid reused by another process) is stale and replaced.

import { randomUUID } from "node:crypto";
import { linkSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { EngineError } from "../errors";

export const LOCK_FILE = "imageportd.pid";

interface Holder {
  pid: number;
  /** /proc/<pid>/stat's starttime (clock ticks since boot): a reused pid has another. */
  startTime: string;
  hostname: string;
  startedAt: string;
}

export interface DataDirLock {
  /** Removes the lock file if it is still this process's. */
  release(): void;
}

export function lockDataDir(dataDir: string): DataDirLock {
  const path = join(dataDir, LOCK_FILE);
  const me: Holder = { pid: process.pid, startTime: startTimeOf(process.pid) ?? "", hostname: hostname(), startedAt: new Date().toISOString() };
  const draft = `${path}.${process.pid}.${randomUUID()}`;
  writeFileSync(draft, JSON.stringify(me) + "\n", { mode: 0o600 });
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(draft, path);
        return { release: () => releaseIfOurs(path, me) };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
      const holder = readHolder(path);
      if (holder && isRunning(holder)) throw dataDirLocked(dataDir, holder);
      // Stale (its engine is gone) or unreadable (a crash while it was being replaced): take it over.
      rmSync(path, { force: true });
    }
    throw dataDirLocked(dataDir, readHolder(path));
  } finally {
    rmSync(draft, { force: true });
  }
}

function readHolder(path: string): Holder | undefined {
  try {
    const parsed = JSON.parse(readFileSync(path, "utf8")) as Holder;
    return Number.isInteger(parsed.pid) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** A holder on another host (a data directory on shared storage) is taken as running: its pid means nothing here. */
function isRunning(holder: Holder): boolean {
  if (holder.hostname !== hostname()) return true;
  const startTime = startTimeOf(holder.pid);
  return startTime !== undefined && startTime === holder.startTime;
}

function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command (which may hold spaces and parentheses): state is field 3, starttime field 22.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

function releaseIfOurs(path: string, me: Holder): void {
  const holder = readHolder(path);
  if (holder?.pid === me.pid && holder.startTime === me.startTime) rmSync(path, { force: true });
}

function dataDirLocked(dataDir: string, holder: Holder | undefined): EngineError {
  const who = holder ? `imageportd pid ${holder.pid}${holder.hostname !== hostname() ? ` on ${holder.hostname}` : ""}, started ${holder.startedAt}` : "another imageportd";
  return new EngineError(
    "DATA_DIR_LOCKED",
    `The data directory ${dataDir} is in use by ${who} (${join(dataDir, LOCK_FILE)}); nothing was changed. ` +
      `Stop that engine first, or start this one with another --data directory. If no engine is running, remove the file.`,
  );
}
