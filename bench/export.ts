// Benchmark (not a test): the engine's `$export` of a disk file to a dynamic VHDX, against what a
// user would run by hand on the same disk, measured in the same run. It prints figures; it fails
// only when a job fails or an output does not read the same as its source (`qemu-img compare`,
// outside the timing, first round). Cases (BENCH_CASES, comma list, default all four):
//   local  - a 2 GiB-virtual qcow2 holding 440 MiB of seeded random data in 1 MiB pieces, to a
//            local file:// directory. Against `qemu-img convert -O vhdx -o subformat=dynamic` +
//            fsync of the output (the baseline), `qemu-img convert` alone, and nbdcopy
//            (qemu-nbd -r on the qcow2 -> qemu-nbd on a fresh dynamic VHDX, --flush); and the
//            physical floor: reading the source's data extents once at their offsets in the
//            qcow2 file (from `qemu-img map`), with every job's ratio to it.
//   sparse - cost follows the data: a 64 GiB-virtual qcow2 holding 256 MiB against a dense
//            256 MiB-virtual qcow2 holding the same 256 MiB (target: sparse / dense <= 1.3x).
//   huge   - a 1 TiB-virtual qcow2 holding 1 GiB: export time and the engine process's peak RSS
//            (VmHWM; a fresh engine for the case). The VHDX of a 1 TiB disk is a sparse file.
//   smb    - the local case's disk to a Samba share (smbd on 127.0.0.1, UsernamePassword
//            credential) against `qemu-img convert` + `smbclient put`; and the bytes the share
//            stored (wchar of the smbd process tree: file data written by the server, SMB
//            framing not included) over the disk's allocated bytes (`qemu-img map`, data: true).
// Engine: `imageport serve` in its own process (a fresh one per case), jobs submitted and polled
// (50-200 ms) over HTTP, timed from submission until the poll sees `complete`. Rounds alternate
// which side goes first, so page cache and warm-up favour neither. All sources are in the page
// cache (just written) for every side, the floor included. Everything listens on 127.0.0.1, is
// stopped by its pid in finally blocks, and the temporary directory is removed.
//
// Run: `npx tsc -p tsconfig.json && npm run bench:export` (after scripts/setup).
// Settings (environment):
//   BENCH_ROUNDS (3)            rounds per case; medians are printed with every round's value
//   BENCH_CASES (local,sparse,huge,smb)
//   BENCH_DEADLINE_S (3600)     everything is stopped and the run fails after this
//   BENCH_LOCAL_VIRTUAL_MIB (2048), BENCH_LOCAL_DATA_MIB (440)   the local and smb cases' disk
//   BENCH_SPARSE_GIB (64), BENCH_SPARSE_DATA_MIB (256)           the sparse case
//   BENCH_HUGE_GIB (1024), BENCH_HUGE_DATA_MIB (1024)             the huge case
// Nothing the bench itself does grows with a disk's virtual size (disks are written piece by
// piece into sparse files; the floor reads data extents only); `qemu-img compare` of a VHDX
// does (qemu's VHDX driver reports no holes): about 30 s for 1 TiB, outside the timing.

import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Job } from "../client/jobs";
import { waitForJob } from "../client/waiter";
import { makeSparseDisk } from "../test/helpers/disks";
import { EngineProcess } from "../test/helpers/engine-process";
import { Samba, startSamba, unixUserName } from "../test/helpers/samba";
import { BENCH_CLIENT, GIB, median, MIB, numberKnob, peakRssMiB, resetPeakRss, seconds } from "./common";


const CASE_NAMES = ["local", "sparse", "huge", "smb"] as const;
type CaseName = (typeof CASE_NAMES)[number];

function envCases(): CaseName[] {
  const asked = (process.env.BENCH_CASES ?? CASE_NAMES.join(",")).split(",").map((c) => c.trim()).filter(Boolean);
  const unknown = asked.filter((c) => !(CASE_NAMES as readonly string[]).includes(c));
  if (unknown.length) throw new Error(`BENCH_CASES: unknown case(s) ${unknown.join(", ")}; known: ${CASE_NAMES.join(", ")}`);
  return CASE_NAMES.filter((c) => asked.includes(c));
}

const ROUNDS = Math.floor(numberKnob("BENCH_ROUNDS", 3));
const CASES = envCases();
const DEADLINE_MS = numberKnob("BENCH_DEADLINE_S", 3600) * 1000;
const LOCAL = { virtual: numberKnob("BENCH_LOCAL_VIRTUAL_MIB", 2048) * MIB, data: numberKnob("BENCH_LOCAL_DATA_MIB", 440) * MIB };
const SPARSE = { virtual: numberKnob("BENCH_SPARSE_GIB", 64) * GIB, data: numberKnob("BENCH_SPARSE_DATA_MIB", 256) * MIB };
const HUGE = { virtual: numberKnob("BENCH_HUGE_GIB", 1024) * GIB, data: numberKnob("BENCH_HUGE_DATA_MIB", 1024) * MIB };
const SPARSE_TARGET = 1.3;
const POLL = { minDelayMs: 50, maxDelayMs: 200 };
const deadlineAt = Date.now() + DEADLINE_MS;

// ---------------------------------------------------------------------------------------------
// Small tools: time, medians, formatting, qemu-img.

function timed(f: () => void): number {
  const t = process.hrtime.bigint();
  f();
  return seconds(t);
}

function size(bytes: number): string {
  if (bytes >= GIB) return `${(bytes / GIB).toFixed(bytes % GIB === 0 ? 0 : 2)} GiB`;
  return `${(bytes / MIB).toFixed(bytes % MIB === 0 ? 0 : 1)} MiB`;
}

/** Seconds, bytes, MiB, or a plain factor ("x"). */
/** Seconds with 3 decimals below 1 s (the floor is short), 2 above. */
const secs = (v: number) => v.toFixed(v < 1 ? 3 : 2);

type Unit = "s" | "bytes" | "MiB" | "x";

function fmt(value: number, unit: Unit): string {
  if (Number.isNaN(value)) return "-";
  if (unit === "s") return `${secs(value)} s`;
  if (unit === "MiB") return `${value.toFixed(0)} MiB`;
  if (unit === "x") return `${value.toFixed(2)}x`;
  return size(value);
}

function fmtRounds(values: number[], unit: Unit): string {
  if (unit === "s") return values.map(secs).join(", ");
  if (unit === "MiB") return values.map((v) => v.toFixed(0)).join(", ");
  if (unit === "x") return values.map((v) => v.toFixed(2)).join(", ");
  return values.map((v) => (v / MIB).toFixed(1)).join(", ") + " MiB";
}

const ratio = (a: number, b: number) => (Number.isFinite(a / b) ? `${(a / b).toFixed(2)}x` : "-");

function qemuImg(args: string[]): string {
  return execFileSync("qemu-img", args, { maxBuffer: 256 * MIB }).toString();
}

function fsyncFile(path: string): void {
  execFileSync("sync", [path]);
}

// ---------------------------------------------------------------------------------------------
// /proc figures: peak RSS, and the write counters of a process tree (smbd forks per connection).

function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // exited while we looked
    }
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]!) ?? []));
  return tree;
}

interface TreeIo {
  /** Bytes passed to read()/pread() (smbd: file data it read; its socket reads use recvmsg and are not counted). */
  rchar: number;
  /** Bytes passed to write()/pwrite() (smbd: file data it stored; replies go out by sendmsg and are not counted). */
  wchar: number;
  processes: number;
}

/**
 * I/O counters of a process tree. /proc/<pid>/io of a process includes its reaped children, so
 * the sum over the live tree is cumulative once exited connection processes have been reaped.
 */
function treeIo(root: number): TreeIo {
  const io: TreeIo = { rchar: 0, wchar: 0, processes: 0 };
  for (const pid of processTree(root)) {
    try {
      const text = readFileSync(`/proc/${pid}/io`, "utf8");
      io.rchar += Number(/^rchar: (\d+)/m.exec(text)?.[1] ?? 0);
      io.wchar += Number(/^wchar: (\d+)/m.exec(text)?.[1] ?? 0);
      io.processes++;
    } catch {
      // exited while we looked
    }
  }
  return io;
}

/** Waits (up to 5 s) until the tree is back to `processes` live members, so exited connections are reaped and counted. */
async function settledTreeIo(root: number, processes: number): Promise<TreeIo> {
  const until = Date.now() + 5_000;
  for (;;) {
    const io = treeIo(root);
    if (io.processes <= processes || Date.now() > until) return io;
    await new Promise((r) => setTimeout(r, 50));
  }
}

// ---------------------------------------------------------------------------------------------
// Disks: made with qemu-img (test/helpers/disks), described with `qemu-img map`.

interface Extent {
  start: number;
  length: number;
  /** Offset in the image file. */
  offset: number;
}

interface Disk {
  path: string;
  dir: string;
  name: string;
  virtualSize: number;
  dataBytes: number;
  fileSize: number;
  /** Data extents of the image (`qemu-img map`, data: true). */
  extents: Extent[];
  /** Sum of the data extents' lengths. */
  allocated: number;
}

async function makeDisk(dir: string, name: string, virtualSize: number, dataBytes: number): Promise<Disk> {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  await makeSparseDisk({ path, format: "qcow2", virtualSize, dataBytes, seed: "bench", chunk: MIB });
  const map = JSON.parse(qemuImg(["map", "-f", "qcow2", "--output=json", path])) as Array<{ start: number; length: number; data: boolean; offset?: number }>;
  const extents = map
    .filter((e) => e.data)
    .map((e) => {
      if (e.offset === undefined) throw new Error(`${path}: data extent at ${e.start} has no file offset (compressed?)`);
      return { start: e.start, length: e.length, offset: e.offset };
    });
  return { path, dir, name, virtualSize, dataBytes, fileSize: statSync(path).size, extents, allocated: extents.reduce((n, e) => n + e.length, 0) };
}

function describe(disk: Disk): string {
  return (
    `qcow2, ${size(disk.virtualSize)} virtual, ${size(disk.dataBytes)} of seeded random data in 1 MiB pieces; ` +
    `file ${size(disk.fileSize)}, ${disk.extents.length} data extents, ${disk.allocated} B allocated (qemu-img map)`
  );
}

/** The physical floor: read each data extent once, at its offset in the qcow2 file, 8 MiB at a time. */
function physicalFloor(disk: Disk): number {
  const buffer = Buffer.allocUnsafe(8 * MIB);
  const t = process.hrtime.bigint();
  const fd = openSync(disk.path, "r");
  let total = 0;
  try {
    for (const e of disk.extents) {
      for (let at = 0; at < e.length; ) {
        const n = readSync(fd, buffer, 0, Math.min(buffer.length, e.length - at), e.offset + at);
        if (n <= 0) throw new Error(`${disk.path}: short read at ${e.offset + at}`);
        at += n;
        total += n;
      }
    }
  } finally {
    closeSync(fd);
  }
  const took = seconds(t);
  if (total !== disk.allocated) throw new Error(`floor read ${total} B, expected ${disk.allocated}`);
  return took;
}

/** The output must read the same as the source; fails the bench otherwise. Returns the seconds it took. */
function verify(disk: Disk, out: string, what: string): number {
  const t = process.hrtime.bigint();
  try {
    execFileSync("qemu-img", ["compare", "-q", "-f", "qcow2", "-F", "vhdx", disk.path, out], { stdio: ["ignore", "ignore", "pipe"] });
  } catch (error) {
    const e = error as { status?: number; stderr?: Buffer };
    throw new Error(`${what}: ${out} does not match ${disk.path} (qemu-img compare exit ${e.status}: ${e.stderr?.toString().trim() ?? ""})`);
  }
  return seconds(t);
}

// ---------------------------------------------------------------------------------------------
// The baselines.

function convertToVhdx(src: string, out: string): void {
  qemuImg(["convert", "-f", "qcow2", "-O", "vhdx", "-o", "subformat=dynamic", src, out]);
}

/** The nbdcopy command line (after `qemu-img create` of the destination). */
function nbdcopyArgs(src: string, out: string): string[] {
  return ["--destination-is-zero", "--flush", "--", "[", "qemu-nbd", "-r", "-f", "qcow2", src, "]", "[", "qemu-nbd", "-f", "vhdx", out, "]"];
}

function nbdcopyToVhdx(disk: Disk, out: string): void {
  qemuImg(["create", "-q", "-f", "vhdx", "-o", "subformat=dynamic", out, String(disk.virtualSize)]);
  execFileSync("nbdcopy", nbdcopyArgs(disk.path, out), { stdio: ["ignore", "ignore", "pipe"] });
}

// ---------------------------------------------------------------------------------------------
// The engine: one `$export` job, submission to complete.

interface EngineRun {
  /** Submit -> the poll that saw `complete`. */
  total: number;
  /** Submit -> the job's own finishedAt (the engine's clock, this machine): no wait for the next poll. */
  finished: number;
  /** Steps' durations from the job record, by name. */
  steps: Record<string, number>;
  peakRssMiB: number;
}

async function engineExport(engine: EngineProcess, disk: Disk, outputStorageLocation: { location: string; credentialId?: string }, outName: string, resetRss: boolean): Promise<EngineRun> {
  const client = engine.client(BENCH_CLIENT);
  const pid = engine.child.pid!;
  const rssReset = resetRss ? resetPeakRss(pid) : true;
  const t = process.hrtime.bigint();
  const submitted = Date.now();
  const job = (await client.jobs.start("export", {
    clientToken: randomUUID(), // repeatable, so retried like any idempotent call
    inputStorageLocation: { location: pathToFileURL(disk.dir).href + "/" },
    inputImageFilename: disk.name,
    outputStorageLocation,
    outputImageFilename: outName,
    outputImageFormat: "vhdx",
  })) as Job;
  const result = await waitForJob(client.jobs, job.id, { ...POLL, maxWaitMs: Math.max(1, deadlineAt - Date.now()) });
  const total = seconds(t);
  const done = result.last;
  if (done?.status !== "complete") throw new Error(`engine export job ${job.id} ${done?.status ?? result.state}: ${JSON.stringify(done?.error ?? result.reason)}`);
  const steps: Record<string, number> = {};
  for (const s of done.steps) if (s.startedAt && s.finishedAt) steps[s.name] = (Date.parse(s.finishedAt) - Date.parse(s.startedAt)) / 1000;
  return { total, finished: (Date.parse(done.finishedAt!) - submitted) / 1000, steps, peakRssMiB: rssReset ? peakRssMiB(pid) : NaN };
}

function stepsLine(runs: EngineRun[]): string {
  const names = Object.keys(runs[0]?.steps ?? {});
  return names.map((n) => `${n} ${median(runs.map((r) => r.steps[n] ?? NaN)).toFixed(2)}`).join(", ") + " s";
}

// ---------------------------------------------------------------------------------------------
// Cleanup: one stack; each case unwinds its own part in finally, the watchdog unwinds it all.
// Servers still starting are awaited first, so one that comes up after the deadline is stopped too.

const cleanups: Array<() => unknown> = [];
const starting = new Set<Promise<unknown>>();
/** Set by the deadline or a signal: no server starts any more, and the run's own error is moot. */
let stopping = false;

function defer(f: () => unknown): void {
  cleanups.push(f);
}

let unwinding: Promise<void> = Promise.resolve();

/** Runs the cleanups above `depth`, newest first; after any unwinding already under way (a case's and the watchdog's may overlap). */
function unwindTo(depth: number): Promise<void> {
  unwinding = unwinding.then(async () => {
    while (cleanups.length > depth) {
      const f = cleanups.pop()!;
      try {
        await f();
      } catch (error) {
        console.error(`cleanup: ${(error as Error).message}`);
      }
    }
  });
  return unwinding;
}

async function stopEverything(): Promise<void> {
  stopping = true;
  await Promise.allSettled([...starting]);
  await unwindTo(0);
}

/** Starts a server and registers its stop before anything else can run. */
async function started<T>(start: () => Promise<T>, stop: (server: T) => unknown): Promise<T> {
  if (stopping) throw new Error("stopping: no new server");
  const pending = start();
  starting.add(pending);
  try {
    const server = await pending;
    defer(() => stop(server));
    return server;
  } finally {
    starting.delete(pending);
  }
}

function freshEngine(): Promise<EngineProcess> {
  return started(() => EngineProcess.start(), (engine) => engine.stop());
}

// ---------------------------------------------------------------------------------------------
// Output: aligned text tables per case, one markdown table at the end.

/** One figure: the engine's (or a job's) value against a baseline's, measured in the same run. */
interface Figure {
  figure: string;
  engine: number[];
  baselineName: string;
  baseline: number[];
  unit: Unit;
  /** Shown after the ratio, e.g. the target. */
  note?: string;
}

interface CaseReport {
  name: CaseName;
  title: string;
  figures: Figure[];
}

const reports: CaseReport[] = [];

function printTable(rows: string[][], rightAligned: number[]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) =>
    r
      .map((cell, i) => (rightAligned.includes(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  console.log(line(rows[0]!));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rows.slice(1)) console.log(line(r));
}

function printFigures(figures: Figure[]): void {
  const rows = [["figure", "engine", "rounds", "baseline", "median", "rounds", "ratio"]];
  for (const f of figures) {
    const e = median(f.engine);
    const b = median(f.baseline);
    rows.push([f.figure, fmt(e, f.unit), f.engine.length ? fmtRounds(f.engine, f.unit) : "", f.baselineName, fmt(b, f.unit), f.baseline.length ? fmtRounds(f.baseline, f.unit) : "", ratio(e, b) + (f.note ? `  ${f.note}` : "")]);
  }
  printTable(rows, [1, 4]);
}

function header(name: CaseName, title: string, disk: string): void {
  console.log(`\n== ${name}: ${title} ==`);
  console.log(`disk: ${disk}`);
  console.log(`${ROUNDS} round(s); medians, then each round's value; load average ${loadavg().map((l) => l.toFixed(2)).join(" ")} at start`);
}

function printSummary(): void {
  console.log("\n## Summary (markdown, for bench/RESULTS.md)\n");
  console.log(`${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores, ${qemuImg(["--version"]).split("\n")[0]}, Node ${process.version}, ${ROUNDS} round(s), medians.\n`);
  console.log("| case | figure | engine | baseline | ratio |");
  console.log("|---|---|---|---|---|");
  for (const r of reports) {
    for (const f of r.figures) {
      console.log(`| ${r.title} | ${f.figure} | ${fmt(median(f.engine), f.unit)} | ${f.baselineName}: ${fmt(median(f.baseline), f.unit)} | ${ratio(median(f.engine), median(f.baseline))}${f.note ? ` ${f.note}` : ""} |`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The cases.

interface World {
  root: string;
  /** The local and smb cases' disk, made once when either runs. */
  golden?: Disk;
}

async function goldenDisk(w: World): Promise<Disk> {
  w.golden ??= await makeDisk(join(w.root, "golden"), "golden.qcow2", LOCAL.virtual, LOCAL.data);
  return w.golden;
}

function outDir(w: World, name: string): string {
  const dir = join(w.root, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Runs the rounds, alternating which side goes first: `sides` in order on even rounds, reversed on odd ones. */
async function rounds(sides: Array<(round: number) => Promise<void> | void>): Promise<void> {
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? sides : [...sides].reverse();
    for (const side of order) await side(round);
  }
}

async function caseLocal(w: World): Promise<void> {
  const disk = await goldenDisk(w);
  header("local", "export to a local directory", describe(disk));
  const engine = await freshEngine();
  const out = outDir(w, "local-out");
  const floor: number[] = [];
  const convert: number[] = [];
  const convertSync: number[] = [];
  const nbd: number[] = [];
  const runs: EngineRun[] = [];
  let verifySeconds = 0;
  await rounds([
    (round) => {
      floor.push(physicalFloor(disk));
      const file = join(out, `baseline-${round}.vhdx`);
      const c = timed(() => convertToVhdx(disk.path, file));
      convert.push(c);
      convertSync.push(c + timed(() => fsyncFile(file)));
      if (round === 0) verifySeconds += verify(disk, file, "qemu-img convert");
      rmSync(file);
      const nbdFile = join(out, `nbdcopy-${round}.vhdx`);
      nbd.push(timed(() => nbdcopyToVhdx(disk, nbdFile)));
      if (round === 0) verifySeconds += verify(disk, nbdFile, "nbdcopy");
      rmSync(nbdFile);
    },
    async (round) => {
      const name = `export-${round}.vhdx`;
      runs.push(await engineExport(engine, disk, { location: pathToFileURL(out).href + "/" }, name, round > 0));
      if (round === 0) verifySeconds += verify(disk, join(out, name), "engine $export");
      rmSync(join(out, name));
    },
  ]);
  const eng = runs.map((r) => r.total);
  const floorName = `physical floor: read the ${disk.extents.length} data extents (${size(disk.allocated)}) at their qcow2 offsets`;
  const figures: Figure[] = [
    { figure: "engine $export (submit -> complete)", engine: eng, baselineName: "qemu-img convert -O vhdx + fsync", baseline: convertSync, unit: "s" },
    { figure: "engine $export (submit -> the job's finishedAt, no poll wait)", engine: runs.map((r) => r.finished), baselineName: "qemu-img convert -O vhdx + fsync", baseline: convertSync, unit: "s" },
    { figure: "engine $export", engine: eng, baselineName: "qemu-img convert -O vhdx alone", baseline: convert, unit: "s" },
    { figure: "engine $export", engine: eng, baselineName: "qemu-img create + nbdcopy --flush (qemu-nbd qcow2 -> qemu-nbd vhdx)", baseline: nbd, unit: "s" },
    { figure: "engine $export", engine: eng, baselineName: floorName, baseline: floor, unit: "s" },
  ];
  printFigures(figures);
  console.log("\nevery job against the physical floor:");
  const rows = [["job", "median", "rounds", "/ floor"]];
  for (const [what, values] of [
    ["physical floor", floor],
    ["qemu-img convert -O vhdx alone", convert],
    ["qemu-img convert -O vhdx + fsync", convertSync],
    ["qemu-img create + nbdcopy --flush", nbd],
    ["engine $export", eng],
  ] as const) {
    rows.push([what, fmt(median(values), "s"), fmtRounds(values, "s"), ratio(median(values), median(floor))]);
  }
  printTable(rows, [1, 3]);
  console.log(`\nengine steps (median): ${stepsLine(runs)}`);
  console.log(`engine process peak RSS per job (VmHWM): ${fmtRounds(runs.map((r) => r.peakRssMiB), "MiB")} MiB`);
  console.log(`nbdcopy: nbdcopy ${nbdcopyArgs("SRC.qcow2", "DST.vhdx").join(" ")}  (DST made by qemu-img create -f vhdx -o subformat=dynamic DST ${disk.virtualSize})`);
  console.log(`verified with qemu-img compare (round 1: engine, convert, nbdcopy) in ${verifySeconds.toFixed(1)} s`);
  reports.push({
    name: "local",
    title: `local dir, ${size(disk.virtualSize)} qcow2 / ${size(disk.dataBytes)} data`,
    figures: [figures[0]!, figures[1]!, figures[2]!, { ...figures[3]!, baselineName: "nbdcopy + flush" }, { ...figures[4]!, baselineName: `floor (read ${size(disk.allocated)} of extents)` }],
  });
}

async function caseSparse(w: World): Promise<void> {
  const dir = join(w.root, "sparse-in");
  const dense = await makeDisk(dir, "dense.qcow2", SPARSE.data, SPARSE.data);
  const sparse = await makeDisk(dir, "sparse.qcow2", SPARSE.virtual, SPARSE.data);
  defer(() => rmSync(dir, { recursive: true, force: true }));
  header("sparse", "cost follows the data", `dense: ${describe(dense)}\n      sparse: ${describe(sparse)}`);
  const engine = await freshEngine();
  const out = outDir(w, "sparse-out");
  const eng = { dense: [] as EngineRun[], sparse: [] as EngineRun[] };
  const base = { dense: [] as number[], sparse: [] as number[] };
  let verifySeconds = 0;
  await rounds([
    (round) => {
      for (const [key, disk] of [["dense", dense], ["sparse", sparse]] as const) {
        const file = join(out, `baseline-${key}-${round}.vhdx`);
        base[key].push(timed(() => convertToVhdx(disk.path, file)) + timed(() => fsyncFile(file)));
        rmSync(file);
      }
    },
    async (round) => {
      for (const [key, disk] of [["dense", dense], ["sparse", sparse]] as const) {
        const name = `export-${key}-${round}.vhdx`;
        eng[key].push(await engineExport(engine, disk, { location: pathToFileURL(out).href + "/" }, name, round > 0 || key === "sparse"));
        if (round === 0) verifySeconds += verify(disk, join(out, name), `engine $export of ${key}`);
        rmSync(join(out, name));
      }
    },
  ]);
  const e = { dense: eng.dense.map((r) => r.total), sparse: eng.sparse.map((r) => r.total) };
  const figures: Figure[] = [
    { figure: `engine $export, dense ${size(dense.virtualSize)}-virtual`, engine: e.dense, baselineName: "qemu-img convert + fsync", baseline: base.dense, unit: "s" },
    { figure: `engine $export, ${size(sparse.virtualSize)}-virtual`, engine: e.sparse, baselineName: "qemu-img convert + fsync", baseline: base.sparse, unit: "s" },
    {
      figure: `engine: ${size(sparse.virtualSize)}-virtual against dense`,
      engine: e.sparse,
      baselineName: `engine, dense ${size(dense.virtualSize)}`,
      baseline: e.dense,
      unit: "s",
      note: `(target <= ${SPARSE_TARGET}x)`,
    },
  ];
  printFigures(figures);
  console.log(`(qemu-img convert + fsync, ${size(sparse.virtualSize)}-virtual against dense: ${ratio(median(base.sparse), median(base.dense))})`);
  console.log(`\nengine steps (median): dense ${stepsLine(eng.dense)}; sparse ${stepsLine(eng.sparse)}`);
  console.log(`engine process peak RSS per job (VmHWM): dense ${fmtRounds(eng.dense.map((r) => r.peakRssMiB), "MiB")} MiB; sparse ${fmtRounds(eng.sparse.map((r) => r.peakRssMiB), "MiB")} MiB`);
  console.log(`verified with qemu-img compare (round 1, engine outputs) in ${verifySeconds.toFixed(1)} s`);
  reports.push({ name: "sparse", title: `${size(sparse.virtualSize)} vs ${size(dense.virtualSize)} virtual, ${size(SPARSE.data)} data`, figures });
}

async function caseHuge(w: World): Promise<void> {
  const dir = join(w.root, "huge-in");
  defer(() => rmSync(dir, { recursive: true, force: true }));
  const disk = await makeDisk(dir, "huge.qcow2", HUGE.virtual, HUGE.data);
  header("huge", `${size(disk.virtualSize)}-virtual disk holding ${size(disk.dataBytes)}`, describe(disk));
  const engine = await freshEngine();
  const out = outDir(w, "huge-out");
  defer(() => rmSync(out, { recursive: true, force: true }));
  const floor: number[] = [];
  const base: number[] = [];
  const runs: EngineRun[] = [];
  let verifySeconds = 0;
  let outputFile = "";
  await rounds([
    (round) => {
      floor.push(physicalFloor(disk));
      const file = join(out, `baseline-${round}.vhdx`);
      base.push(timed(() => convertToVhdx(disk.path, file)) + timed(() => fsyncFile(file)));
      rmSync(file);
    },
    async (round) => {
      const name = `export-${round}.vhdx`;
      const file = join(out, name);
      // Round 1 on the fresh engine: VmHWM is the process's own peak, start-up included.
      runs.push(await engineExport(engine, disk, { location: pathToFileURL(out).href + "/" }, name, round > 0));
      const st = statSync(file);
      outputFile = `engine output: ${size(st.size)} apparent, ${size(st.blocks * 512)} allocated (a sparse file)`;
      if (round === 0) verifySeconds += verify(disk, file, "engine $export");
      rmSync(file);
    },
  ]);
  const eng = runs.map((r) => r.total);
  const rss = runs.map((r) => r.peakRssMiB);
  const figures: Figure[] = [
    { figure: "engine $export (submit -> complete)", engine: eng, baselineName: "qemu-img convert + fsync", baseline: base, unit: "s" },
    { figure: "engine $export", engine: eng, baselineName: `physical floor (read ${size(disk.allocated)} of extents)`, baseline: floor, unit: "s" },
    { figure: "engine process peak RSS (VmHWM)", engine: rss, baselineName: "the disk's data", baseline: [disk.dataBytes / MIB], unit: "MiB" },
  ];
  printFigures(figures);
  console.log(`\nengine steps (median): ${stepsLine(runs)}`);
  console.log(`peak RSS: round 1 is the fresh engine process's whole-life peak; later rounds reset VmHWM before the job; qemu-img children not included`);
  console.log(outputFile);
  console.log(`verified with qemu-img compare (round 1) in ${verifySeconds.toFixed(1)} s`);
  reports.push({ name: "huge", title: `${size(disk.virtualSize)} virtual / ${size(disk.dataBytes)} data`, figures });
}

async function caseSmb(w: World): Promise<void> {
  const disk = await goldenDisk(w);
  header("smb", "export to a Samba share (smbd on 127.0.0.1)", describe(disk));
  const share = outDir(w, "smb-share");
  execFileSync("chmod", ["0777", share]);
  const user = { username: unixUserName(), password: "bench-password" };
  const samba: Samba = await started(() => startSamba({ shares: { images: share }, users: [user] }), (server) => server.stop());
  const authFile = join(w.root, "smb-auth");
  writeFileSync(authFile, `username = ${user.username}\npassword = ${user.password}\n`, { mode: 0o600 });
  const engine = await freshEngine();
  await engine.client(BENCH_CLIENT).credentials.create("bench-smb", { type: "UsernamePassword", ...user } as never);
  const staging = outDir(w, "smb-staging");

  const base = { convert: [] as number[], put: [] as number[], total: [] as number[], stored: [] as number[], readBack: [] as number[], fileSize: 0 };
  const eng = { runs: [] as EngineRun[], stored: [] as number[], readBack: [] as number[], fileSize: 0 };
  let verifySeconds = 0;
  const idle = treeIo(samba.pid).processes;
  await rounds([
    async (round) => {
      const file = join(staging, `baseline-${round}.vhdx`);
      const remote = `baseline-${round}.vhdx`;
      const before = await settledTreeIo(samba.pid, idle);
      const c = timed(() => convertToVhdx(disk.path, file));
      const p = timed(() =>
        execFileSync("smbclient", [`//127.0.0.1/images`, "-p", String(samba.port), "-m", "SMB3", "-A", authFile, "-c", `put ${file} ${remote}`], { stdio: "ignore" }),
      );
      const after = await settledTreeIo(samba.pid, idle);
      base.convert.push(c);
      base.put.push(p);
      base.total.push(c + p);
      base.stored.push(after.wchar - before.wchar);
      base.readBack.push(after.rchar - before.rchar);
      base.fileSize = statSync(join(share, remote)).size;
      if (round === 0) verifySeconds += verify(disk, join(share, remote), "qemu-img convert + smbclient put");
      rmSync(file);
      rmSync(join(share, remote));
    },
    async (round) => {
      const name = `export-${round}.vhdx`;
      const before = await settledTreeIo(samba.pid, idle);
      eng.runs.push(await engineExport(engine, disk, { location: samba.location("images"), credentialId: "bench-smb" }, name, round > 0));
      const after = await settledTreeIo(samba.pid, idle);
      eng.stored.push(after.wchar - before.wchar);
      eng.readBack.push(after.rchar - before.rchar);
      eng.fileSize = statSync(join(share, name)).size;
      if (round === 0) verifySeconds += verify(disk, join(share, name), "engine $export to smb");
      rmSync(join(share, name));
    },
  ]);
  const e = eng.runs.map((r) => r.total);
  const perAllocated = (values: number[]) => values.map((v) => v / disk.allocated);
  const figures: Figure[] = [
    { figure: "engine $export to smb:// (submit -> complete)", engine: e, baselineName: "qemu-img convert + smbclient put", baseline: base.total, unit: "s" },
    { figure: "bytes stored on the share (smbd wchar)", engine: eng.stored, baselineName: "qemu-img convert + smbclient put", baseline: base.stored, unit: "bytes" },
  ];
  printFigures(figures);
  console.log("");
  const rows = [["bytes sent to the share / the disk's allocated bytes", "engine", "baseline"]];
  rows.push([`allocated (qemu-img map, data: true)`, `${disk.allocated} B`, `${disk.allocated} B`]);
  rows.push(["stored by smbd (wchar of its process tree), median", `${Math.round(median(eng.stored))} B`, `${Math.round(median(base.stored))} B`]);
  rows.push(["stored / allocated", `${median(perAllocated(eng.stored)).toFixed(2)}x`, `${median(perAllocated(base.stored)).toFixed(2)}x`]);
  rows.push(["file on the share, apparent size", `${eng.fileSize} B`, `${base.fileSize} B`]);
  rows.push(["file apparent size / allocated", ratio(eng.fileSize, disk.allocated), ratio(base.fileSize, disk.allocated)]);
  rows.push(["read back by smbd (rchar of its process tree), median", `${Math.round(median(eng.readBack))} B`, `${Math.round(median(base.readBack))} B`]);
  printTable(rows, [1, 2]);
  console.log(`\nbaseline split (median): qemu-img convert ${fmt(median(base.convert), "s")}, smbclient put ${fmt(median(base.put), "s")}`);
  console.log(`engine steps (median): ${stepsLine(eng.runs)}`);
  console.log(`engine process peak RSS per job (VmHWM): ${fmtRounds(eng.runs.map((r) => r.peakRssMiB), "MiB")} MiB`);
  console.log(`verified with qemu-img compare (round 1: engine, baseline) in ${verifySeconds.toFixed(1)} s`);
  reports.push({
    name: "smb",
    title: `Samba share, ${size(disk.virtualSize)} qcow2 / ${size(disk.dataBytes)} data`,
    figures: [
      figures[0]!,
      {
        figure: "bytes stored on the share / allocated bytes",
        engine: perAllocated(eng.stored),
        baselineName: "convert + put",
        baseline: perAllocated(base.stored),
        unit: "x",
      },
    ],
  });
}

// ---------------------------------------------------------------------------------------------

const CASE_RUNNERS: Record<CaseName, (w: World) => Promise<void>> = { local: caseLocal, sparse: caseSparse, huge: caseHuge, smb: caseSmb };

async function main(): Promise<void> {
  const watchdog = setTimeout(() => {
    console.error(`bench/export: past the ${DEADLINE_MS / 1000} s deadline; stopping everything`);
    void stopEverything().finally(() => process.exit(2));
  }, DEADLINE_MS);
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => void stopEverything().finally(() => process.exit(130)));

  const runStart = process.hrtime.bigint();
  const root = mkdtempSync(join(tmpdir(), "imageport-bench-export-"));
  defer(() => rmSync(root, { recursive: true, force: true }));
  console.log(
    `machine: ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}; ${qemuImg(["--version"]).split("\n")[0]}; ` +
      `${execFileSync("nbdcopy", ["--version"]).toString().split("\n")[0]}; Node ${process.version}; cases ${CASES.join(",")}; ${ROUNDS} round(s)`,
  );
  const w: World = { root };
  for (const name of CASES) {
    const depth = cleanups.length;
    const t = process.hrtime.bigint();
    try {
      await CASE_RUNNERS[name](w);
    } finally {
      await unwindTo(depth);
    }
    console.log(`(${name}: ${seconds(t).toFixed(1)} s, load average ${loadavg()[0]!.toFixed(2)} at end)`);
  }
  printSummary();
  console.log(`\nwhole run: ${seconds(runStart).toFixed(0)} s; load average at end ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  clearTimeout(watchdog);
}

main()
  .catch((err) => {
    if (stopping) {
      console.error(`(after the stop: ${(err as Error).message})`);
      process.exitCode = 2;
    } else {
      console.error(err);
      process.exitCode = 1;
    }
  })
  .finally(async () => {
    await stopEverything();
    process.exit();
  });
