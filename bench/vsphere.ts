// Benchmark (not a test): a VM's disk on vCenter (the vSphere simulator fake, test/fakes/vcsim)
// exported to VHDX in a local directory and uploaded to an EBS snapshot (moto), through the
// engine (`imageport serve` in its own process, jobs submitted and polled over HTTP), against
// what a user would do by hand, measured in the same run:
//   - VHDX: ranged GETs of the disk's allocated areas (the ranges changed-block tracking reports)
//     from the fake's /folder URL into a local sparse raw file, then `qemu-img convert -O vhdx`;
//   - EBS: the same download, then a minimal EBS direct API client (StartSnapshot, one
//     PutSnapshotBlock with its SHA-256 per non-zero 512 KiB block, 4 in flight as the engine,
//     CompleteSnapshot with the LINEAR checksum): the "send the same blocks" floor.
// Also: bytes read from the datastore (the fake's folderBytesSent, the job's sourceBytesRead)
// against the disk's allocated bytes (`qemu-img map` of the flat extent: exact, and rounded to
// the fake's 64 KiB tracking blocks), the engine's peak RSS, CPU seconds per process, and one
// run per case with change tracking off. Everything listens on 127.0.0.1 and is stopped by pid.
//
// Run: `npx tsc -p tsconfig.json && npm run bench:vsphere` (after scripts/setup).
// Settings: BENCH_ROUNDS (3), BENCH_CBT_OFF (1: also the runs without tracking; 0: skip them),
// BENCH_DEADLINE_S (1800: everything is stopped and the run fails after this), BENCH_CPU_PROF
// (a directory: the engine writes a V8 CPU profile of the whole run there), BENCH_CASES
// (vhdx,ebs: which cases to run).

import { execFileSync } from "node:child_process";
import { createCipheriv, createHash, randomUUID } from "node:crypto";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeSync, ftruncateSync } from "node:fs";
import { request as httpsRequest, Agent as HttpsAgent } from "node:https";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { CompleteSnapshotCommand, EBSClient, PutSnapshotBlockCommand, StartSnapshotCommand } from "@aws-sdk/client-ebs";
import { Job } from "../client/jobs";
import { waitForJob } from "../client/waiter";
import { VsphereClient } from "../engine/platforms/vsphere/client";
import { text } from "../engine/platforms/vsphere/soap";
import { EngineProcess } from "../test/helpers/engine-process";
import { Moto, MOTO_KEYS, MOTO_REGION, startMoto } from "../test/helpers/moto";
import { startVcsim, Vcsim } from "../test/helpers/vcsim";
import { BENCH_CLIENT, CLK_TCK, cpuOf, Figures, peakRssMiB, resetPeakRss, seconds, Series } from "./common";

const KIB = 1024;
const MIB = 1024 * KIB;
const GIB = 1024 * MIB;
const VIRTUAL = 4 * GIB;
/** Data in runs of 1-64 MiB, plus METADATA_PIECES small pieces (4-64 KiB) in between. */
const DATA = 512 * MIB;
const METADATA_PIECES = 256;
const CBT_BLOCK = 64 * KIB; // the fake's tracking block (test/fakes/vcsim/cbt.go)
const EBS_BLOCK = 512 * KIB;
const EBS_IN_FLIGHT = 4; // the engine's DEFAULT_BLOCKS_IN_FLIGHT
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CBT_OFF = (process.env.BENCH_CBT_OFF ?? "1") !== "0";
const CASES = (process.env.BENCH_CASES ?? "vhdx,ebs").split(",").filter((c): c is "vhdx" | "ebs" => c === "vhdx" || c === "ebs");
const DEADLINE_MS = Number(process.env.BENCH_DEADLINE_S ?? 1800) * 1000;
const JOB_MAX_WAIT_MS = 600_000;
const VM_CBT = "DC0_H0_VM0";
const VM_PLAIN = "DC0_H0_VM1";
const VC_USER = { username: "administrator", password: "bench-pw" }; // the fake without users accepts any login

// ---------------------------------------------------------------------------------------------
// Small tools: time, medians, /proc figures.


/**
 * CPU seconds of the whole machine (all cores) from /proc/stat: user + nice + system, what
 * processes are charged with; and irq + softirq (loopback networking, mostly), charged to none.
 */
function machineCpu(): { processes: number; irq: number } {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { processes: (f[0]! + f[1]! + f[2]!) / CLK_TCK, irq: (f[5]! + f[6]!) / CLK_TCK };
}

function machineBusy(): number {
  const m = machineCpu();
  return m.processes + m.irq;
}

function qemu(args: string[]): string {
  return execFileSync("qemu-img", args, { maxBuffer: 256 * MIB }).toString();
}

/** Seeded pseudo-random numbers in [0, 1) (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Range {
  start: number;
  length: number;
}

// ---------------------------------------------------------------------------------------------
// The disk: a golden image scaled down. 4 GiB virtual; ~504 MiB in runs of 1-64 MiB (sizes
// log-uniform, 4 KiB multiples, each at a random 4 KiB-aligned place in its own slice of the
// disk) and 256 small pieces of 4-64 KiB scattered between them (file-system metadata); random
// (incompressible) bytes, as AES-CTR keystream.

function layout(seed: number): { runs: Range[]; pieces: Range[] } {
  const rand = prng(seed);
  const align = (n: number) => Math.floor(n / (4 * KIB)) * 4 * KIB;
  const pieceSizes = Array.from({ length: METADATA_PIECES }, () => (1 + Math.floor(rand() * 16)) * 4 * KIB);
  const runBudget = DATA - pieceSizes.reduce((a, b) => a + b, 0);
  const runSizes: number[] = [];
  for (let left = runBudget; left > 0; ) {
    let size = Math.max(MIB, align(MIB * Math.pow(64, rand()))); // 1..64 MiB, log-uniform
    if (left - size < MIB) size = left; // the last run takes the rest (at least 1 MiB, at most 65 MiB)
    runSizes.push(size);
    left -= size;
  }
  const slot = align(VIRTUAL / runSizes.length);
  if (Math.max(...runSizes) > slot) throw new Error(`layout: a ${Math.max(...runSizes) / MIB} MiB run does not fit a ${slot / MIB} MiB slot`);
  const runs = runSizes.map((length, i) => ({ start: i * slot + align(rand() * (slot - length)), length }));
  // Pieces go into the gaps, 128 KiB clear of everything else (rejection sampling).
  const taken: Range[] = [...runs];
  const pieces: Range[] = [];
  const clear = 128 * KIB;
  for (const length of pieceSizes) {
    for (let tries = 0; ; tries++) {
      if (tries > 10_000) throw new Error("layout: no room for a metadata piece");
      const start = align(rand() * (VIRTUAL - length));
      if (taken.every((r) => start + length + clear <= r.start || start >= r.start + r.length + clear)) {
        pieces.push({ start, length });
        taken.push({ start, length });
        break;
      }
    }
  }
  return { runs, pieces: pieces.sort((a, b) => a.start - b.start) };
}

function writeGoldenDisk(path: string, seed: number): { runs: number; pieces: number; dataBytes: number; runSizesMiB: number[] } {
  const { runs, pieces } = layout(seed);
  const key = createHash("sha256").update(`bench-vsphere/${seed}`).digest().subarray(0, 16);
  const cipher = createCipheriv("aes-128-ctr", key, Buffer.alloc(16));
  const fd = openSync(path, "w");
  try {
    ftruncateSync(fd, VIRTUAL);
    for (const r of [...runs, ...pieces].sort((a, b) => a.start - b.start)) {
      for (let at = 0; at < r.length; at += 8 * MIB) {
        const n = Math.min(8 * MIB, r.length - at);
        writeSync(fd, cipher.update(Buffer.alloc(n)), 0, n, r.start + at);
      }
    }
  } finally {
    closeSync(fd);
  }
  const dataBytes = [...runs, ...pieces].reduce((n, r) => n + r.length, 0);
  return { runs: runs.length, pieces: pieces.length, dataBytes, runSizesMiB: runs.map((r) => r.length / MIB) };
}

/** Bytes of data extents of a raw file as `qemu-img map` reports them, exact and in 64 KiB tracking blocks. */
function allocatedBytes(path: string): { exact: number; cbtBlocks: number; extents: number } {
  const map = JSON.parse(qemu(["map", "-f", "raw", "--output=json", path])) as Array<{ start: number; length: number; data: boolean }>;
  const data = map.filter((e) => e.data);
  const blocks = new Set<number>();
  for (const e of data) for (let b = Math.floor(e.start / CBT_BLOCK); b * CBT_BLOCK < e.start + e.length; b++) blocks.add(b);
  return { exact: data.reduce((n, e) => n + e.length, 0), cbtBlocks: blocks.size * CBT_BLOCK, extents: data.length };
}

// ---------------------------------------------------------------------------------------------
// The baseline: what a user does by hand with the same vCenter.

interface VsphereSession {
  client: VsphereClient;
  cookie: string;
  /** The disk's allocated areas as changed-block tracking reports them (changeId "*"). */
  ranges: Range[];
  /** /folder path of the disk's flat extent. */
  flatUrlPath: string;
  /** Removes the snapshot and logs out. */
  close(): Promise<void>;
}

/** Log in, snapshot the VM, ask QueryChangedDiskAreas for the allocated areas (as the engine does, with the engine's SOAP client). */
async function openBaselineSession(vcsim: Vcsim, vmName: string, snapshotName: string): Promise<VsphereSession> {
  const signal = AbortSignal.timeout(300_000);
  const client = new VsphereClient({ host: vcsim.host, port: vcsim.port, ...VC_USER, tls: { caCertificate: vcsim.certificatePem } });
  await client.login(signal);
  let snapshot: Awaited<ReturnType<VsphereClient["createSnapshot"]>> | undefined;
  try {
    const found = (await client.listVms(["name"], signal)).find((v) => text(v.props["name"]) === vmName);
    if (!found) throw new Error(`no VM ${vmName}`);
    const vm = await client.vmSummary(found.obj, signal);
    const disk = vm.disks[0]!;
    snapshot = await client.createSnapshot(vm.ref, snapshotName, "bench baseline", signal);
    const atSnapshot = (await client.snapshotDisks(snapshot, signal)).find((d) => d.key === disk.key)!;
    if (!atSnapshot.changeId) throw new Error(`${vmName}: the snapshot gave no changeId (tracking off?)`);
    const ranges: Range[] = [];
    for (let offset = 0; offset < atSnapshot.capacityBytes; ) {
      const page = await client.changedDiskAreas(vm.ref, snapshot, disk.key, offset, "*", signal);
      for (const a of page.areas) {
        const last = ranges[ranges.length - 1];
        if (last && last.start + last.length === a.start) last.length += a.length;
        else ranges.push({ ...a });
      }
      offset = page.startOffset + page.length;
    }
    const m = /^\[([^\]]+)\]\s*(.+)\.vmdk$/.exec(atSnapshot.fileName)!;
    const dc = await client.datacenterPath(vm.ref, signal);
    const flatUrlPath = `/folder/${m[2]!.split("/").map(encodeURIComponent).join("/")}-flat.vmdk?dcPath=${encodeURIComponent(dc)}&dsName=${encodeURIComponent(m[1]!)}`;
    const taken = snapshot;
    return {
      client,
      cookie: client.transport.sessionCookie!,
      ranges,
      flatUrlPath,
      async close() {
        try {
          await client.removeSnapshot(taken, AbortSignal.timeout(120_000));
        } finally {
          await client.logout();
        }
      },
    };
  } catch (error) {
    if (snapshot) await client.removeSnapshot(snapshot, AbortSignal.timeout(120_000)).catch(() => undefined);
    await client.logout();
    throw error;
  }
}

/** A plain ranged download: one GET per area, in order, one keep-alive connection, streamed into a sparse raw file. */
async function rangedDownload(vcsim: Vcsim, session: VsphereSession, out: string): Promise<{ bytes: number; requests: number }> {
  const agent = new HttpsAgent({ keepAlive: true, maxSockets: 1, ca: vcsim.certificatePem });
  const fd = openSync(out, "w");
  let bytes = 0;
  try {
    ftruncateSync(fd, VIRTUAL);
    for (const r of session.ranges) {
      await new Promise<void>((resolve, reject) => {
        const req = httpsRequest(
          { host: vcsim.host, port: vcsim.port, path: session.flatUrlPath, agent, headers: { cookie: session.cookie, range: `bytes=${r.start}-${r.start + r.length - 1}` } },
          (res) => {
            if (res.statusCode !== 206) {
              res.resume();
              reject(new Error(`GET ${session.flatUrlPath} ${r.start}+${r.length}: HTTP ${res.statusCode}`));
              return;
            }
            let at = r.start;
            res.on("data", (chunk: Buffer) => {
              writeSync(fd, chunk, 0, chunk.length, at);
              at += chunk.length;
            });
            res.on("end", () => {
              bytes += at - r.start;
              if (at - r.start !== r.length) reject(new Error(`short answer at ${r.start}: ${at - r.start} of ${r.length}`));
              else resolve();
            });
            res.on("error", reject);
          },
        );
        req.setTimeout(120_000, () => req.destroy(new Error("ranged GET timed out")));
        req.on("error", reject);
        req.end();
      });
    }
  } finally {
    closeSync(fd);
    agent.destroy();
  }
  return { bytes, requests: session.ranges.length };
}

/** The "send the same blocks" floor: the non-zero 512 KiB blocks of the downloaded raw file into an EBS snapshot. */
async function putBlocks(ebs: EBSClient, raw: string, ranges: Range[]): Promise<{ blocks: number; snapshotId: string }> {
  const started = await ebs.send(new StartSnapshotCommand({ VolumeSize: Math.ceil(VIRTUAL / GIB), Timeout: 60, Description: "bench baseline" }));
  const snapshotId = started.SnapshotId!;
  const indexes: number[] = [];
  for (const r of ranges) {
    for (let i = Math.floor(r.start / EBS_BLOCK); i * EBS_BLOCK < r.start + r.length; i++) if (indexes[indexes.length - 1] !== i) indexes.push(i);
  }
  const checksums = new Map<number, Buffer>();
  const fd = openSync(raw, "r");
  try {
    let next = 0;
    const worker = async () => {
      while (next < indexes.length) {
        const index = indexes[next++]!;
        const data = Buffer.alloc(EBS_BLOCK);
        readSync(fd, data, 0, EBS_BLOCK, index * EBS_BLOCK);
        if (!data.some((b) => b !== 0)) continue;
        const checksum = createHash("sha256").update(data).digest();
        checksums.set(index, checksum);
        await ebs.send(
          new PutSnapshotBlockCommand({ SnapshotId: snapshotId, BlockIndex: index, BlockData: data, DataLength: EBS_BLOCK, Checksum: checksum.toString("base64"), ChecksumAlgorithm: "SHA256" }),
        );
      }
    };
    await Promise.all(Array.from({ length: EBS_IN_FLIGHT }, worker));
  } finally {
    closeSync(fd);
  }
  const aggregate = createHash("sha256");
  for (const i of [...checksums.keys()].sort((a, b) => a - b)) aggregate.update(checksums.get(i)!);
  await ebs.send(
    new CompleteSnapshotCommand({ SnapshotId: snapshotId, ChangedBlocksCount: checksums.size, Checksum: aggregate.digest("base64"), ChecksumAlgorithm: "SHA256", ChecksumAggregationMethod: "LINEAR" }),
  );
  return { blocks: checksums.size, snapshotId };
}

// ---------------------------------------------------------------------------------------------
// Figures of one measured thing (one round), and the run's collections of them.

/** CPU seconds of the processes at work, between two readings. */
class CpuMeter {
  private readonly start: Record<string, number>;
  constructor(private readonly pids: Record<string, number | "self">) {
    this.start = this.read();
  }
  private read(): Record<string, number> {
    const m = machineCpu();
    const out: Record<string, number> = { machine: m.processes, irq: m.irq };
    for (const [name, pid] of Object.entries(this.pids)) {
      const c = cpuOf(pid);
      out[name] = pid === "self" ? process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6 : c.self;
      out[`${name}Children`] = c.children;
    }
    return out;
  }
  /** cpu.<name>, cpu.<name>Children, cpu.machine, cpu.irq and cpu.other (CPU-s of every other process, kernel threads included). */
  stop(): Figures {
    const end = this.read();
    const out: Figures = {};
    let ours = 0;
    for (const key of Object.keys(end)) {
      out[`cpu.${key}`] = end[key]! - this.start[key]!;
      if (key !== "machine" && key !== "irq") ours += out[`cpu.${key}`]!;
    }
    out["cpu.other"] = out["cpu.machine"]! - ours;
    return out;
  }
}

// ---------------------------------------------------------------------------------------------

interface World {
  root: string;
  vcsim: Vcsim;
  moto: Moto;
  engine: EngineProcess;
  ebs: EBSClient;
  outDir: string;
  sourceRaw: string;
}

const cleanups: Array<() => Promise<void> | void> = [];
let cleaned = false;
async function cleanup(): Promise<void> {
  if (cleaned) return;
  cleaned = true;
  for (const f of cleanups.reverse()) {
    try {
      await f();
    } catch (error) {
      console.error(`cleanup: ${(error as Error).message}`);
    }
  }
}

async function resetMoto(moto: Moto): Promise<void> {
  // The EBS blocks of earlier snapshots stay in moto's memory (DeleteSnapshot keeps them): drop them between runs.
  const res = await fetch(`${moto.motoUrl}/moto-api/reset`, { method: "POST", signal: AbortSignal.timeout(30_000) });
  if (!res.ok) throw new Error(`moto reset: ${res.status}`);
}

let snapshotSeq = 0;

/** The baseline of one case, one round. */
async function runBaseline(w: World, kind: "vhdx" | "ebs", round: number, verify: boolean): Promise<Figures> {
  const cpu = new CpuMeter({ bench: "self", vcsim: w.vcsim.pid, moto: w.moto.pid });
  const statsBefore = await w.vcsim.stats();
  const raw = join(w.root, `baseline-${kind}-${round}.raw`);
  const out = join(w.root, `baseline-${round}.vhdx`);
  let t = process.hrtime.bigint();
  const session = await openBaselineSession(w.vcsim, VM_CBT, `bench-baseline-${++snapshotSeq}`);
  const prep = seconds(t);
  const f: Figures = { prep };
  try {
    t = process.hrtime.bigint();
    const got = await rangedDownload(w.vcsim, session, raw);
    f.download = seconds(t);
    f.requests = got.requests;
    f.downloadBytes = got.bytes;
    const statsMid = await w.vcsim.stats();
    f.folderBytes = statsMid.folderBytesSent - statsBefore.folderBytesSent;
    f.folderGets = statsMid.folderGets - statsBefore.folderGets;
    if (kind === "vhdx") {
      t = process.hrtime.bigint();
      qemu(["convert", "-f", "raw", "-O", "vhdx", "-o", "subformat=dynamic", raw, out]);
      f.convert = seconds(t);
      t = process.hrtime.bigint();
      execFileSync("sync", [out]);
      f.fsync = seconds(t);
      f.total = f.download + f.convert;
    } else {
      t = process.hrtime.bigint();
      const put = await putBlocks(w.ebs, raw, session.ranges);
      f.put = seconds(t);
      f.blocks = put.blocks;
      f.total = f.download + f.put;
    }
  } finally {
    t = process.hrtime.bigint();
    await session.close();
    f.remove = seconds(t);
  }
  f.byHand = f.prep! + f.total! + f.remove;
  Object.assign(f, cpu.stop());
  // Checked outside the timed and metered part: the download and the VHDX hold the disk.
  try {
    if (verify) {
      qemu(["compare", "-f", "raw", "-F", "raw", w.sourceRaw, raw]);
      if (kind === "vhdx") qemu(["compare", "-f", "raw", "-F", "vhdx", w.sourceRaw, out]);
    }
  } finally {
    rmSync(raw, { force: true });
    rmSync(out, { force: true });
  }
  if (kind === "ebs") await resetMoto(w.moto);
  return f;
}

/** One engine job of one case: submission to complete, its steps, bytes read, peak RSS, CPU. */
async function runEngine(w: World, kind: "vhdx" | "ebs", vm: string, name: string, verify: boolean): Promise<Figures> {
  const client = w.engine.client(BENCH_CLIENT);
  const pid = w.engine.child.pid!;
  const vsphere = {
    vsphereHost: w.vcsim.host,
    vspherePort: w.vcsim.port,
    vsphereCredentialId: "vc",
    vsphereSslCaCertificate: w.vcsim.certificatePem,
    sourceVmName: vm,
  };
  const body =
    kind === "vhdx"
      ? { ...vsphere, outputStorageLocation: { location: pathToFileURL(w.outDir).href + "/" }, outputImageFilename: `${name}.vhdx`, outputImageFormat: "vhdx" }
      : { ...vsphere, platform: "aws", region: MOTO_REGION, platformCredentialId: "aws", createAmi: false, targetSnapshotName: name };
  const rssReset = resetPeakRss(pid);
  const statsBefore = await w.vcsim.stats();
  const cpu = new CpuMeter({ engine: pid, vcsim: w.vcsim.pid, moto: w.moto.pid, bench: "self" });
  const t = process.hrtime.bigint();
  const job = (await client.jobs.start(kind === "vhdx" ? "export" : "upload", { clientToken: randomUUID(), ...body })) as Job;
  const result = await waitForJob(client.jobs, job.id, { maxWaitMs: JOB_MAX_WAIT_MS, minDelayMs: 50, maxDelayMs: 200 });
  const total = seconds(t);
  const c = cpu.stop();
  const done = result.last;
  if (done?.status !== "complete") throw new Error(`engine ${kind} job ${job.id} ${done?.status ?? result.state}: ${JSON.stringify(done?.error ?? result.reason)}`);
  const statsAfter = await w.vcsim.stats();
  const f: Figures = { total, ...c };
  f.serverSide = (Date.parse(done.finishedAt!) - Date.parse(done.createdAt)) / 1000;
  for (const s of done.steps) if (s.startedAt && s.finishedAt) f[`step.${s.name}`] = (Date.parse(s.finishedAt) - Date.parse(s.startedAt)) / 1000;
  f.folderBytes = statsAfter.folderBytesSent - statsBefore.folderBytesSent;
  f.folderGets = statsAfter.folderGets - statsBefore.folderGets;
  const artifacts = done.additionalInfo.artifacts as Record<string, unknown>;
  if (typeof artifacts.sourceBytesRead === "number") f.sourceBytesRead = artifacts.sourceBytesRead;
  if (typeof artifacts.blocksWritten === "number") f.blocks = artifacts.blocksWritten;
  f.peakRssMiB = rssReset ? peakRssMiB(pid) : NaN;
  if (kind === "vhdx") {
    const out = join(w.outDir, `${name}.vhdx`);
    if (verify) qemu(["compare", "-f", "raw", "-F", "vhdx", w.sourceRaw, out]);
    rmSync(out);
  } else {
    await resetMoto(w.moto);
  }
  return f;
}

/** How fast this process hashes zeros with sha256 in 512 KiB pieces (the upload hashes the whole disk, zeros included). */
function sha256ZerosGBps(): number {
  const zeros = Buffer.alloc(EBS_BLOCK);
  const hash = createHash("sha256");
  const t = process.hrtime.bigint();
  for (let i = 0; i < GIB / EBS_BLOCK; i++) hash.update(zeros);
  hash.digest();
  return GIB / 1e9 / seconds(t);
}

// ---------------------------------------------------------------------------------------------

const fmtS = (v: number) => `${v.toFixed(2)} s`;
const fmtMiB = (v: number) => `${(v / MIB).toFixed(1)} MiB`;

function printCase(title: string, kind: "vhdx" | "ebs", base: Series, eng: Series, alloc: { exact: number; cbtBlocks: number }, off?: Figures): void {
  const b = base.med("total");
  console.log(`\n### ${title}  (${ROUNDS} rounds, medians; ratio = median / median of the baseline)`);
  console.log("| what | median | rounds | ratio |");
  console.log("|---|---|---|---|");
  const row = (what: string, s: Series, key: string, ratioTo?: number) =>
    console.log(`| ${what} | ${fmtS(s.med(key))} | ${s.list(key)} | ${ratioTo ? (s.med(key) / ratioTo).toFixed(2) + "x" : ""} |`);
  row(`baseline: ranged download of the CBT areas (${base.med("requests")} GETs, 1 connection)`, base, "download");
  if (kind === "vhdx") {
    row("baseline: `qemu-img convert -O vhdx` of the sparse raw", base, "convert");
    row("**baseline: download + convert**", base, "total", b);
    row("(baseline: + fsync of the output, for reference)", base, "fsync");
  } else {
    row(`baseline: ${base.med("blocks")} PutSnapshotBlock (4 in flight) + Start/Complete`, base, "put");
    row("**baseline: download + put**", base, "total", b);
  }
  row("baseline prep: login, snapshot, QueryChangedDiskAreas", base, "prep");
  row("baseline: all by hand (prep + total + snapshot removal)", base, "byHand", b);
  row(`**engine ${kind === "vhdx" ? "$export to VHDX, local dir" : "$upload to EBS (createAmi false)"}: submit -> complete**`, eng, "total", b);
  console.log(`| engine vs all by hand | | | ${(eng.med("total") / base.med("byHand")).toFixed(2)}x |`);
  row("engine job, server side (createdAt -> finishedAt)", eng, "serverSide", b);
  const steps = Object.keys(eng.rounds[0] ?? {}).filter((k) => k.startsWith("step."));
  console.log(`| engine steps | ${steps.map((k) => `${k.slice(5)} ${eng.med(k).toFixed(2)}`).join(", ")} s | | |`);
  if (off) console.log(`| engine, change tracking OFF (1 run) | ${fmtS(off.total!)} | steps: ${Object.keys(off).filter((k) => k.startsWith("step.")).map((k) => `${k.slice(5)} ${off[k]!.toFixed(2)}`).join(", ")} | ${(off.total! / b).toFixed(2)}x |`);

  console.log("\n| bytes from the datastore | bytes | / allocated (exact) | / allocated (64 KiB blocks) |");
  console.log("|---|---|---|---|");
  const bytesRow = (what: string, v: number) => console.log(`| ${what} | ${v} (${fmtMiB(v)}) | ${(v / alloc.exact).toFixed(4)} | ${(v / alloc.cbtBlocks).toFixed(4)} |`);
  bytesRow("allocated, exact (`qemu-img map` of the flat extent)", alloc.exact);
  bytesRow("allocated, in the fake's 64 KiB CBT blocks", alloc.cbtBlocks);
  bytesRow("baseline: fake's folderBytesSent delta", base.med("folderBytes"));
  bytesRow("engine: fake's folderBytesSent delta (descriptor included)", eng.med("folderBytes"));
  if (eng.values("sourceBytesRead").length) bytesRow("engine: job artifact sourceBytesRead", eng.med("sourceBytesRead"));
  else console.log("| engine: job artifact sourceBytesRead | not recorded by $upload | | |");
  if (off) bytesRow("engine, tracking OFF: folderBytesSent delta", off.folderBytes!);
  console.log(`(GETs on /folder: baseline ${base.med("folderGets")}, engine ${eng.med("folderGets")}${off ? `, engine tracking off ${off.folderGets}` : ""})`);
  if (kind === "ebs") console.log(`(blocks sent: baseline ${base.med("blocks")}, engine ${eng.med("blocks")}${off ? `, engine tracking off ${off.blocks}` : ""})`);

  console.log("\n| CPU seconds (median) | engine | engine's children (qemu-img) | vcsim fake | moto | bench process | other processes | irq+softirq |");
  console.log("|---|---|---|---|---|---|---|---|");
  const c = (s: Series | Figures, k: string) => (s instanceof Series ? s.med(k) : s[k] ?? NaN);
  const cpuRow = (what: string, s: Series | Figures, engine: boolean) =>
    console.log(
      `| ${what} | ${engine ? c(s, "cpu.engine").toFixed(2) : "-"} | ${engine ? c(s, "cpu.engineChildren").toFixed(2) : c(s, "cpu.benchChildren").toFixed(2)} | ${c(s, "cpu.vcsim").toFixed(2)} | ${c(s, "cpu.moto").toFixed(2)} | ${c(s, "cpu.bench").toFixed(2)} | ${c(s, "cpu.other").toFixed(2)} | ${c(s, "cpu.irq").toFixed(2)} |`,
    );
  cpuRow("baseline (prep + total + removal)", base, false);
  cpuRow("engine job", eng, true);
  if (off) cpuRow("engine job, tracking off", off, true);
  console.log(`\nengine process peak RSS during the job (VmHWM): median ${eng.med("peakRssMiB").toFixed(0)} MiB (${eng.list("peakRssMiB", 0)})${off ? `; tracking off ${off.peakRssMiB!.toFixed(0)} MiB` : ""}`);
}

async function main(): Promise<void> {
  const watchdog = setTimeout(() => {
    console.error(`bench/vsphere: past the ${DEADLINE_MS / 1000} s deadline; stopping everything`);
    void cleanup().finally(() => process.exit(2));
  }, DEADLINE_MS);
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => void cleanup().finally(() => process.exit(130)));

  const runStart = process.hrtime.bigint();
  const busyStart = machineBusy();
  const root = mkdtempSync(join(tmpdir(), "imageport-bench-vsphere-"));
  cleanups.push(() => rmSync(root, { recursive: true, force: true }));
  const outDir = join(root, "out");
  mkdirSync(outDir);
  console.log(`machine: ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(" ")} at start; ${execFileSync("qemu-img", ["--version"]).toString().split("\n")[0]}; Node ${process.version}`);

  // The disk, seeded into two VMs: one with change tracking, one without.
  const sourceRaw = join(root, "golden.raw");
  let t = process.hrtime.bigint();
  const disk = writeGoldenDisk(sourceRaw, 7);
  const vcsim = await startVcsim();
  cleanups.push(() => vcsim.stop());
  const seeded = await vcsim.seedDisk(VM_CBT, sourceRaw, "raw");
  if (CBT_OFF) await vcsim.seedDisk(VM_PLAIN, sourceRaw, "raw");
  await vcsim.enableChangeTracking(VM_CBT);
  const alloc = allocatedBytes(seeded.flatPath);
  console.log(
    `disk: raw ${VIRTUAL / GIB} GiB virtual, ${fmtMiB(disk.dataBytes)} of data in ${disk.runs} runs of 1-65 MiB ` +
      `(${disk.runSizesMiB.map((s) => s.toFixed(0)).join(" ")}) and ${disk.pieces} pieces of 4-64 KiB; ` +
      `flat extent: ${alloc.extents} data extents, allocated ${alloc.exact} B exact, ${alloc.cbtBlocks} B in 64 KiB blocks (made in ${seconds(t).toFixed(1)} s)`,
  );

  const moto = await startMoto();
  cleanups.push(() => moto.stop());
  // Straight to moto_server, not through the test helper's recording proxy (it buffers and hashes every body).
  // BENCH_CPU_PROF=<dir>: the engine writes a V8 CPU profile there when it stops (for finding where its time goes).
  const profile = process.env.BENCH_CPU_PROF ? { NODE_OPTIONS: `--require ${join(__dirname, "cpu-profile-preload.js")}` } : {};
  const engine = await EngineProcess.start(undefined, { IMAGEPORT_AWS_ENDPOINT_URL: moto.motoUrl, ...profile });
  cleanups.push(() => engine.stop());
  const ebs = new EBSClient({ region: MOTO_REGION, endpoint: moto.motoUrl, credentials: { ...MOTO_KEYS }, maxAttempts: 1 });
  cleanups.push(() => ebs.destroy());
  const client = engine.client(BENCH_CLIENT);
  await client.credentials.create("vc", { type: "UsernamePassword", ...VC_USER });
  await client.credentials.create("aws", { type: "Aws", ...MOTO_KEYS });
  const w: World = { root, vcsim, moto, engine, ebs, outDir, sourceRaw };
  const hashRate = sha256ZerosGBps();
  console.log(`sha256 of zeros in this process: ${hashRate.toFixed(2)} GB/s (a 4 GiB disk: ${((VIRTUAL / 1e9) / hashRate).toFixed(2)} s)`);

  const base = { vhdx: new Series(), ebs: new Series() };
  const eng = { vhdx: new Series(), ebs: new Series() };
  const loads: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const verify = round === 0;
    const busy0 = machineBusy();
    const roundCpu = new CpuMeter({ engine: w.engine.child.pid!, vcsim: vcsim.pid, moto: moto.pid, bench: "self" });
    const r0 = process.hrtime.bigint();
    for (const kind of CASES) {
      // Alternate which goes first, so page cache and warm-up favour neither side.
      const order = round % 2 === 0 ? ["baseline", "engine"] : ["engine", "baseline"];
      for (const who of order) {
        if (who === "baseline") base[kind].add(await runBaseline(w, kind, round, verify));
        else eng[kind].add(await runEngine(w, kind, VM_CBT, `round-${round}`, verify));
      }
    }
    const wall = seconds(r0);
    const used = machineBusy() - busy0;
    const rc = roundCpu.stop();
    loads.push(
      `round ${round + 1}: ${wall.toFixed(1)} s, machine busy ${used.toFixed(1)} CPU-s of ${(wall * cpus().length).toFixed(1)} ` +
        `(other processes ${rc["cpu.other"]!.toFixed(1)}, irq+softirq ${rc["cpu.irq"]!.toFixed(1)}), load avg ${loadavg()[0]!.toFixed(2)}`,
    );
    const figures = CASES.map((k) => `${k} base ${base[k].rounds[round]!.total!.toFixed(2)} s / engine ${eng[k].rounds[round]!.total!.toFixed(2)} s`).join("; ");
    console.log(`${loads[loads.length - 1]}  [${figures}]`);
  }
  const off: { vhdx?: Figures; ebs?: Figures } = {};
  if (CBT_OFF) {
    for (const kind of CASES) off[kind] = await runEngine(w, kind, VM_PLAIN, "cbt-off", false);
    console.log(`tracking off: ${CASES.map((k) => `${k} ${off[k]!.total!.toFixed(2)} s`).join(", ")}, load avg ${loadavg()[0]!.toFixed(2)}`);
  }

  if (CASES.includes("vhdx")) printCase("vSphere -> VHDX (local directory), change tracking on", "vhdx", base.vhdx, eng.vhdx, alloc, off.vhdx);
  if (CASES.includes("ebs")) printCase("vSphere -> EBS snapshot (moto), change tracking on", "ebs", base.ebs, eng.ebs, alloc, off.ebs);
  const wall = seconds(runStart);
  console.log(`\nwhole run: ${wall.toFixed(0)} s, machine busy ${(machineBusy() - busyStart).toFixed(0)} CPU-s of ${(wall * cpus().length).toFixed(0)} available; load average at end ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  clearTimeout(watchdog);
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(async () => {
    await cleanup();
    process.exit();
  });
