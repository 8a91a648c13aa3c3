// Benchmark (not a test): `$upload` of a local disk to each cloud emulator through the engine
// (`imageport serve` in its own process, jobs submitted and polled over HTTP), against two
// floors measured in the same run, side by side:
//   - read once: the source's allocated data read once through the kind of source the engine
//     reads (engine/disk openImageSource, its dataRanges read with readRanges, in the engine's
//     read size for that platform), open and close included;
//   - minimal client: the same blocks / pages / object sent to the same emulator with the
//     official SDK, prepared in memory beforehand (outside the timing), so only the sending is
//     timed:
//       aws   (moto_server 5.2.5, EBS direct API): StartSnapshot, one PutSnapshotBlock with its
//             SHA-256 per non-zero 512 KiB block (as many in flight as the engine), CompleteSnapshot
//             with the LINEAR checksum (@aws-sdk/client-ebs);
//       azure (Azurite 3.35): a page blob of the fixed VHD's size, one Put Page per run of
//             non-zero 512-byte sectors cut at 4 MiB windows (as many in flight as the engine),
//             plus the 512-byte VHD footer (@azure/storage-blob PageBlobClient);
//       gcp   (fake-gcs-server v1.56.1): the engine's own object, the sparse disk.raw tar gzipped
//             at level 6 (made beforehand with engine/platforms/gcp sparseTar and parallelGzip),
//             sent as a resumable upload in the engine's chunk size (@google-cloud/storage, no
//             validation).
// and the ratio engine / max(read once, minimal client): a pipelined ideal overlaps the two.
// Reference rows, not in the ratio: azure, the engine's staging by hand (qemu-img convert of
// the source into a fixed VHD in scratch space + fsync, before any Put Page); gcp, the same
// object sent in one request (fake-gcs-server copies what it holds on every chunk), and the
// time the tar.gz took to make (gzip -6 of incompressible data: the engine pays it inline;
// bench/parallel-gzip.ts measures the compression alone).
// The engine's peak RSS (VmHWM, reset before each job) and CPU seconds are printed too.
//
// Everything talks to the emulators directly: the engine is pointed at moto_server itself (not
// the tests' recording proxy) and, for Azure, at the ARM fake (test/fakes/azure-arm-fake.ts,
// with `directBlobs`, so the write SAS names Azurite and Put Page goes straight to it); the GCP
// image is made by the Compute fake (test/fakes/gce-fake.ts, which reads the object back).
// Control-plane steps the minimal clients skip (ARM disk + access, images.insert, the
// snapshot's state) are in the engine's time: its steps are printed to tell them apart.
//
// Run: `npx tsc -p tsconfig.json && npm run bench:upload` (after scripts/setup).
// Settings: BENCH_ROUNDS (3), BENCH_PLATFORMS (aws,azure,gcp), BENCH_DEADLINE_S (1800: everything
// is stopped and the run fails after this), BENCH_VIRTUAL_MIB (2048), BENCH_DATA_MIB (440),
// BENCH_CPU_PROF (a directory: the engine writes a V8 CPU profile of the whole run there).
// Prints figures only; ends with a markdown table for bench/RESULTS.md.

import { execFileSync } from "node:child_process";
import { createHash, generateKeyPairSync } from "node:crypto";
import { closeSync, fsyncSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, statSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { CompleteSnapshotCommand, EBSClient, ListSnapshotBlocksCommand, PutSnapshotBlockCommand, StartSnapshotCommand } from "@aws-sdk/client-ebs";
import { DescribeRegionsCommand, EC2Client } from "@aws-sdk/client-ec2";
import { Storage } from "@google-cloud/storage";
import { BlockDigest, checkedDataRanges, DiskSource, openImageSource, readRanges } from "../engine/disk";
import { DEFAULT_BLOCKS_IN_FLIGHT, EBS_BLOCK } from "../engine/platforms/aws";
import { azureDiskBytes, DEFAULT_RANGES_IN_FLIGHT, MAX_PUT_PAGE, PAGE } from "../engine/platforms/azure";
import { parallelGzip, rawSizeFor, sparseTar, SparseTarResult, UPLOAD_CHUNK } from "../engine/platforms/gcp";
import { ArmFake, startArmFake } from "../test/fakes/azure-arm-fake";
import { GceFake, startGceFake } from "../test/fakes/gce-fake";
import { Azurite, startAzurite } from "../test/helpers/azurite";
import { AZURE_SECRET, LOCATION, RESOURCE_GROUP, SUBSCRIPTION_ID } from "../test/helpers/azure-world";
import { makeSparseDisk } from "../test/helpers/disks";
import { EngineProcess } from "../test/helpers/engine-process";
import { FakeGcs, startFakeGcs } from "../test/helpers/fake-gcs";
import { GCP_BUCKET, GCP_CLIENT_EMAIL, GCP_PROJECT } from "../test/helpers/gcp-world";
import { Moto, MOTO_KEYS, MOTO_REGION, startMoto } from "../test/helpers/moto";
import { BENCH_CLIENT, Cleanups, cpuOf, Figures, GIB, MIB, numberKnob, peakRssMiB, resetPeakRss, runJob, seconds, Series } from "./common";

type Platform = "aws" | "azure" | "gcp";
const ALL_PLATFORMS: Platform[] = ["aws", "azure", "gcp"];

const VIRTUAL = numberKnob("BENCH_VIRTUAL_MIB", 2048) * MIB;
const DATA = numberKnob("BENCH_DATA_MIB", 440) * MIB;
const ROUNDS = Math.max(1, Math.floor(numberKnob("BENCH_ROUNDS", 3)));
const DEADLINE_MS = numberKnob("BENCH_DEADLINE_S", 1800) * 1000;
const PLATFORMS = (process.env.BENCH_PLATFORMS ?? ALL_PLATFORMS.join(","))
  .split(",")
  .map((p) => p.trim())
  .filter((p): p is Platform => {
    if (p === "") return false;
    if (!(ALL_PLATFORMS as string[]).includes(p)) throw new Error(`BENCH_PLATFORMS: unknown platform '${p}' (aws, azure, gcp)`);
    return true;
  });
const JOB_MAX_WAIT_MS = 900_000;
const SOURCE_NAME = "golden.qcow2";
/** What the engine reads per platform (aws: data-blocks READ_CHUNK cut at blocks; azure: qemu-img; gcp: sparse-tar READ_CHUNK). */
const READ_SIZE: Record<Platform, { chunk: number; align: number }> = {
  aws: { chunk: 8 * EBS_BLOCK, align: EBS_BLOCK },
  azure: { chunk: MAX_PUT_PAGE, align: MAX_PUT_PAGE },
  gcp: { chunk: MIB, align: MIB },
};
const CRED = { aws: "bench-aws", azure: "bench-azure", gcp: "bench-gcp" } as const;

// ---------------------------------------------------------------------------------------------
// The payloads the minimal clients send, made once from the source before anything is timed.

interface Payloads {
  /** The block digest of the guest content: what every engine job must report. */
  blockDigest: string;
  /** Non-zero 512 KiB blocks, in index order. */
  blocks?: Array<{ index: number; data: Buffer }>;
  /** Put Page runs (non-zero sectors, within 4 MiB windows) and the footer, in offset order. */
  pages?: { fileSize: number; runs: Array<{ offset: number; data: Buffer }> };
  /** The gzipped sparse tar, and what making it took. */
  archive?: { gz: Buffer; tar: SparseTarResult; makeSeconds: number };
}

async function withSource<T>(path: string, workDir: string, use: (source: DiskSource, signal: AbortSignal) => Promise<T>): Promise<T> {
  const signal = AbortSignal.timeout(600_000);
  const source = await openImageSource(path, "qcow2", workDir, signal);
  try {
    return await use(source, signal);
  } finally {
    await source.close();
  }
}

/** The 512-byte footer qemu-img writes for a fixed VHD of `diskSize` bytes (force_size, as the engine). */
function fixedVhdFooter(diskSize: number, scratch: string): Buffer {
  const file = join(scratch, "footer.vhd");
  execFileSync("qemu-img", ["create", "-q", "-f", "vpc", "-o", "subformat=fixed,force_size=on", file, String(diskSize)]);
  const fd = openSync(file, "r");
  try {
    const footer = Buffer.alloc(PAGE);
    readSync(fd, footer, 0, PAGE, statSync(file).size - PAGE);
    return footer;
  } finally {
    closeSync(fd);
    rmSync(file, { force: true });
  }
}

/** Non-zero 512-byte runs of a piece that lies within one 4 MiB window (copied out). */
function pageRuns(offset: number, data: Buffer, out: Array<{ offset: number; data: Buffer }>): void {
  const zero = Buffer.alloc(PAGE);
  let runStart = -1;
  for (let at = 0; at <= data.length; at += PAGE) {
    const isZero = at === data.length || data.subarray(at, Math.min(at + PAGE, data.length)).equals(zero.subarray(0, Math.min(PAGE, data.length - at)));
    if (!isZero && runStart < 0) runStart = at;
    if (isZero && runStart >= 0) {
      out.push({ offset: offset + runStart, data: Buffer.from(data.subarray(runStart, at)) });
      runStart = -1;
    }
  }
}

async function preparePayloads(path: string, workDir: string, platforms: Platform[]): Promise<Payloads> {
  const blocks = new Map<number, Buffer>();
  const runs: Array<{ offset: number; data: Buffer }> = [];
  let digest: BlockDigest | undefined;
  const virtualSize = await withSource(path, workDir, async (source, signal) => {
    const ranges = checkedDataRanges(await source.dataRanges(signal), source.virtualSize, source.name);
    const hash = (digest = new BlockDigest(source.virtualSize));
    let hashed = 0;
    const hashZerosTo = (end: number) => {
      hash.zeros(end - hashed);
      hashed = end;
    };
    // 4 MiB pieces cut at 4 MiB: each lies in one Put Page window and covers whole or part EBS blocks.
    for await (const { offset, data } of readRanges(source, ranges, { signal, chunk: MAX_PUT_PAGE, align: MAX_PUT_PAGE })) {
      hashZerosTo(offset);
      hash.data(data);
      hashed = offset + data.length;
      if (platforms.includes("aws")) {
        for (let i = Math.floor(offset / EBS_BLOCK); i * EBS_BLOCK < offset + data.length; i++) {
          const block = blocks.get(i) ?? Buffer.alloc(EBS_BLOCK);
          blocks.set(i, block);
          const from = Math.max(offset, i * EBS_BLOCK);
          const to = Math.min(offset + data.length, (i + 1) * EBS_BLOCK);
          data.copy(block, from - i * EBS_BLOCK, from - offset, to - offset);
        }
      }
      if (platforms.includes("azure")) pageRuns(offset, data, runs);
    }
    hashZerosTo(source.virtualSize);
    return source.virtualSize;
  });
  const out: Payloads = { blockDigest: digest!.digest() };
  if (platforms.includes("aws")) {
    const zero = Buffer.alloc(EBS_BLOCK);
    out.blocks = [...blocks.entries()].filter(([, d]) => !d.equals(zero)).sort((a, b) => a[0] - b[0]).map(([index, data]) => ({ index, data }));
  }
  if (platforms.includes("azure")) {
    const diskSize = azureDiskBytes(virtualSize);
    runs.push({ offset: diskSize, data: fixedVhdFooter(diskSize, workDir) });
    out.pages = { fileSize: diskSize + PAGE, runs };
  }
  if (platforms.includes("gcp")) {
    const t = process.hrtime.bigint();
    let tar: SparseTarResult | undefined;
    const chunks: Buffer[] = [];
    await withSource(path, workDir, async (source, signal) => {
      for await (const piece of parallelGzip(sparseTar(source, rawSizeFor(source.virtualSize), { signal, onDone: (r) => (tar = r) }), { signal })) chunks.push(piece);
    });
    out.archive = { gz: Buffer.concat(chunks), tar: tar!, makeSeconds: seconds(t) };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The world: emulators, fakes, one engine pointed at all of them.

interface World {
  root: string;
  inputDir: string;
  workDir: string;
  source: string;
  engine: EngineProcess;
  moto?: Moto;
  ebs?: EBSClient;
  ec2?: EC2Client;
  azurite?: Azurite;
  arm?: ArmFake;
  gcs?: FakeGcs;
  gce?: GceFake;
  storage?: Storage;
}

async function startWorld(cleanups: Cleanups): Promise<World> {
  const root = mkdtempSync(join(tmpdir(), "imageport-bench-upload-"));
  cleanups.add("temp dir", () => rmSync(root, { recursive: true, force: true }));
  const inputDir = join(root, "in");
  const workDir = join(root, "work");
  for (const d of [inputDir, workDir]) mkdirSync(d);
  const source = join(inputDir, SOURCE_NAME);
  const env: Record<string, string> = {};
  const w: Partial<World> = { root, inputDir, workDir, source };

  if (PLATFORMS.includes("aws")) {
    const moto = await startMoto();
    cleanups.add("moto_server", () => moto.stop());
    env.IMAGEPORT_AWS_ENDPOINT_URL = moto.motoUrl; // moto itself, not the recording proxy
    w.moto = moto;
    w.ebs = new EBSClient({ region: MOTO_REGION, endpoint: moto.motoUrl, credentials: { ...MOTO_KEYS }, maxAttempts: 1 });
    w.ec2 = new EC2Client({ region: MOTO_REGION, endpoint: moto.motoUrl, credentials: { ...MOTO_KEYS }, maxAttempts: 1 });
    cleanups.add("AWS clients", () => {
      w.ebs!.destroy();
      w.ec2!.destroy();
    });
    await resetMoto(w as World);
  }
  if (PLATFORMS.includes("azure")) {
    const azurite = await startAzurite();
    cleanups.add("Azurite", () => azurite.stop());
    const arm = await startArmFake({ azurite, ...AZURE_SECRET, subscriptionId: SUBSCRIPTION_ID, resourceGroups: { [RESOURCE_GROUP]: LOCATION }, directBlobs: true });
    cleanups.add("ARM fake", () => arm.stop());
    env.IMAGEPORT_AZURE_AUTHORITY_HOST = arm.url;
    env.IMAGEPORT_AZURE_ARM_ENDPOINT = arm.url;
    Object.assign(w, { azurite, arm });
  }
  let serviceAccountKey = "";
  if (PLATFORMS.includes("gcp")) {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const gcs = await startFakeGcs();
    cleanups.add("fake-gcs-server", () => gcs.stop());
    const gce = await startGceFake({ gcsUrl: gcs.url, clientEmail: GCP_CLIENT_EMAIL, publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(), project: GCP_PROJECT });
    cleanups.add("Compute fake", () => gce.stop());
    await gcs.createBucket(GCP_BUCKET);
    env.IMAGEPORT_GCS_ENDPOINT_URL = gcs.url;
    env.IMAGEPORT_GCE_ENDPOINT_URL = gce.url;
    env.IMAGEPORT_GCP_TOKEN_URL = gce.tokenUrl;
    serviceAccountKey = JSON.stringify({
      type: "service_account",
      project_id: GCP_PROJECT,
      private_key_id: "0123456789abcdef",
      private_key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      client_email: GCP_CLIENT_EMAIL,
      token_uri: "https://oauth2.googleapis.com/token",
    });
    // The custom endpoint makes the SDK skip auth (fake-gcs-server takes none).
    Object.assign(w, { gcs, gce, storage: new Storage({ apiEndpoint: gcs.url, projectId: GCP_PROJECT }) });
  }

  // BENCH_CPU_PROF=<dir>: the engine writes a V8 CPU profile of the whole run there when it stops.
  if (process.env.BENCH_CPU_PROF) env.NODE_OPTIONS = `--require ${join(__dirname, "cpu-profile-preload.js")}`;
  const engine = await EngineProcess.start(undefined, env);
  cleanups.add("engine", () => engine.stop());
  w.engine = engine;
  const client = engine.client(BENCH_CLIENT);
  if (PLATFORMS.includes("aws")) await client.credentials.create(CRED.aws, { type: "Aws", ...MOTO_KEYS });
  if (PLATFORMS.includes("azure")) await client.credentials.create(CRED.azure, { type: "Azure", ...AZURE_SECRET });
  if (PLATFORMS.includes("gcp")) await client.credentials.create(CRED.gcp, { type: "Gcp", serviceAccountKey });
  return w as World;
}

/**
 * EBS blocks stay in moto's memory (DeleteSnapshot keeps them): everything is dropped between
 * uploads. moto then builds its EC2 backend again on the next EC2 call (about a second, which
 * real AWS never costs): one DescribeRegions here, outside every timing, pays for that.
 */
async function resetMoto(w: World): Promise<void> {
  const res = await fetch(`${w.moto!.motoUrl}/moto-api/reset`, { method: "POST", signal: AbortSignal.timeout(30_000) });
  if (!res.ok) throw new Error(`moto reset: ${res.status}`);
  await w.ec2!.send(new DescribeRegionsCommand({ AllRegions: true }));
}

async function deleteGcsObject(gcs: FakeGcs, name: string): Promise<void> {
  const res = await fetch(`${gcs.url}/storage/v1/b/${GCP_BUCKET}/o/${encodeURIComponent(name)}`, { method: "DELETE", signal: AbortSignal.timeout(30_000) });
  if (!res.ok && res.status !== 404) throw new Error(`delete gs://${GCP_BUCKET}/${name}: ${res.status}`);
}

/** Blocks moto holds for a snapshot (moto repeats the whole list on every page: one call). */
async function motoBlockCount(w: World, snapshotId: string): Promise<number> {
  const list = await w.ebs!.send(new ListSnapshotBlocksCommand({ SnapshotId: snapshotId, MaxResults: 10_000 }));
  return new Set((list.Blocks ?? []).map((b) => b.BlockIndex)).size;
}

/** Bytes in a page blob's written ranges. */
async function pageBlobBytes(w: World, container: string, blob: string): Promise<number> {
  const ranges = await w.azurite!.service.getContainerClient(container).getPageBlobClient(blob).getPageRanges();
  return (ranges.pageRange ?? []).reduce((n, r) => n + (r.count ?? 0), 0);
}

// ---------------------------------------------------------------------------------------------
// The three measured things.

/** Read once: open the source as the engine does and read its data ranges, in the engine's read size. */
/** CPU seconds of this process (the read-once pass and the minimal clients run here). */
function ownCpu(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

async function readOnce(w: World, platform: Platform): Promise<Figures> {
  const cpu0 = ownCpu();
  const t = process.hrtime.bigint();
  let bytes = 0;
  await withSource(w.source, w.workDir, async (source, signal) => {
    const ranges = checkedDataRanges(await source.dataRanges(signal), source.virtualSize, source.name);
    for await (const { data } of readRanges(source, ranges, { signal, ...READ_SIZE[platform] })) bytes += data.length;
  });
  return { total: seconds(t), bytes, cpu: ownCpu() - cpu0 };
}

async function minimalAws(w: World, p: Payloads, round: number, verify: boolean): Promise<Figures> {
  const blocks = p.blocks!;
  const cpu0 = ownCpu();
  const t = process.hrtime.bigint();
  const started = await w.ebs!.send(new StartSnapshotCommand({ VolumeSize: Math.max(1, Math.ceil(VIRTUAL / GIB)), Timeout: 60, Description: `bench minimal ${round}` }));
  const snapshotId = started.SnapshotId!;
  const checksums: Buffer[] = new Array(blocks.length);
  let next = 0;
  const worker = async () => {
    while (next < blocks.length) {
      const i = next++;
      const { index, data } = blocks[i]!;
      const checksum = createHash("sha256").update(data).digest();
      checksums[i] = checksum;
      await w.ebs!.send(
        new PutSnapshotBlockCommand({ SnapshotId: snapshotId, BlockIndex: index, BlockData: data, DataLength: EBS_BLOCK, Checksum: checksum.toString("base64"), ChecksumAlgorithm: "SHA256" }),
      );
    }
  };
  await Promise.all(Array.from({ length: DEFAULT_BLOCKS_IN_FLIGHT }, worker));
  const aggregate = createHash("sha256");
  for (const c of checksums) aggregate.update(c);
  await w.ebs!.send(
    new CompleteSnapshotCommand({ SnapshotId: snapshotId, ChangedBlocksCount: blocks.length, Checksum: aggregate.digest("base64"), ChecksumAlgorithm: "SHA256", ChecksumAggregationMethod: "LINEAR" }),
  );
  const f: Figures = { total: seconds(t), units: blocks.length, bytes: blocks.length * EBS_BLOCK, cpu: ownCpu() - cpu0 };
  if (verify) f.held = await motoBlockCount(w, snapshotId);
  await resetMoto(w);
  return f;
}

/**
 * For reference (not in the ratio): what the engine's Azure path does before its first Put
 * Page, by hand: the source into a fixed VHD in scratch space (qemu-img create, then convert -n
 * --target-is-zero, as engine/disk convertInto) and fsync of that file.
 */
function stageFixedVhd(w: World, fileSize: number): number {
  const vhd = join(w.workDir, "staged.vhd");
  const t = process.hrtime.bigint();
  try {
    execFileSync("qemu-img", ["create", "-q", "-f", "vpc", "-o", "subformat=fixed,force_size=on", vhd, String(fileSize - PAGE)]);
    execFileSync("qemu-img", ["convert", "-n", "--target-is-zero", "-f", "qcow2", "-O", "vpc", w.source, vhd]);
    const fd = openSync(vhd, "r+");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    return seconds(t);
  } finally {
    rmSync(vhd, { force: true });
  }
}

async function minimalAzure(w: World, p: Payloads, round: number, verify: boolean): Promise<Figures> {
  const { fileSize, runs } = p.pages!;
  const container = w.azurite!.service.getContainerClient(`bench-minimal-${round}`);
  await container.create();
  try {
    const blob = container.getPageBlobClient("disk.vhd");
    const cpu0 = ownCpu();
    const t = process.hrtime.bigint();
    await blob.create(fileSize);
    let next = 0;
    const worker = async () => {
      while (next < runs.length) {
        const r = runs[next++]!;
        await blob.uploadPages(r.data, r.offset, r.data.length);
      }
    };
    await Promise.all(Array.from({ length: DEFAULT_RANGES_IN_FLIGHT }, worker));
    const f: Figures = { total: seconds(t), units: runs.length, bytes: runs.reduce((n, r) => n + r.data.length, 0), cpu: ownCpu() - cpu0 };
    if (verify) f.held = await pageBlobBytes(w, container.containerName, "disk.vhd");
    f.staging = stageFixedVhd(w, fileSize);
    return f;
  } finally {
    await container.deleteIfExists();
  }
}

async function minimalGcp(w: World, p: Payloads, round: number): Promise<Figures> {
  const { gz } = p.archive!;
  /** One resumable upload; chunkSize undefined: the whole object in one PUT. */
  const upload = async (name: string, chunkSize: number | undefined) => {
    const file = w.storage!.bucket(GCP_BUCKET).file(name);
    const cpu0 = ownCpu();
    const t = process.hrtime.bigint();
    await file.save(gz, { resumable: true, ...(chunkSize ? { chunkSize } : {}), validation: false, contentType: "application/gzip" });
    const took = { total: seconds(t), cpu: ownCpu() - cpu0 };
    const [meta] = await file.getMetadata();
    await deleteGcsObject(w.gcs!, name);
    return { ...took, held: Number(meta.size) };
  };
  const chunked = await upload(`bench-minimal/${round}/disk.raw.tar.gz`, UPLOAD_CHUNK);
  // For reference (not in the ratio): fake-gcs-server copies what it holds on every chunk, so
  // many chunks cost it far more than one request would; real GCS does not work that way.
  const single = await upload(`bench-minimal/${round}/single.tar.gz`, undefined);
  return { ...chunked, units: Math.ceil(gz.length / UPLOAD_CHUNK), bytes: gz.length, oneRequest: single.total };
}

const inputFields = (w: World) => ({ inputStorageLocation: { location: pathToFileURL(w.inputDir).href + "/" }, inputImageFilename: SOURCE_NAME });

/** One engine $upload: submit -> complete, steps, peak RSS and CPU of the engine; the platform is emptied after. */
async function engineUpload(w: World, platform: Platform, p: Payloads, round: number, verify: boolean, problems: string[]): Promise<Figures> {
  const pid = w.engine.child.pid!;
  const name = `bench-r${round}`;
  const body: Record<string, unknown> =
    platform === "aws"
      ? { platform, platformCredentialId: CRED.aws, region: MOTO_REGION, createAmi: false, targetSnapshotName: name }
      : platform === "azure"
        ? { platform, platformCredentialId: CRED.azure, region: LOCATION, subscriptionId: SUBSCRIPTION_ID, resourceGroup: RESOURCE_GROUP, targetDiskName: name }
        : { platform, platformCredentialId: CRED.gcp, bucket: GCP_BUCKET, targetImageName: name };
  const rssReset = resetPeakRss(pid);
  const cpu0 = cpuOf(pid);
  const { job, total, steps } = await runJob(w.engine, "upload", { ...body, ...inputFields(w) }, JOB_MAX_WAIT_MS);
  const cpu1 = cpuOf(pid);
  const a = job.additionalInfo.artifacts as Record<string, unknown>;
  const f: Figures = {
    total,
    ...steps,
    peakRssMiB: rssReset ? peakRssMiB(pid) : NaN,
    cpu: cpu1.self - cpu0.self,
    cpuChildren: cpu1.children - cpu0.children,
    bytes: Number(a.sizeBytes),
  };
  if (verify && a.blockDigest !== p.blockDigest) problems.push(`${platform}: the engine's block digest ${String(a.blockDigest)} is not the source's ${p.blockDigest}`);
  if (platform === "aws") {
    f.units = Number(a.blocksWritten);
    if (verify) {
      f.held = await motoBlockCount(w, String(a.snapshotId));
      if (f.units !== p.blocks!.length || f.held !== p.blocks!.length) problems.push(`aws: the engine wrote ${f.units} blocks (moto holds ${f.held}), the minimal client ${p.blocks!.length}`);
    }
    await resetMoto(w);
  } else if (platform === "azure") {
    f.units = Number(a.pageRangesWritten);
    const disk = w.arm!.disk(name);
    if (verify && disk) {
      f.held = await pageBlobBytes(w, disk.container, disk.blob);
      const minimalBytes = p.pages!.runs.reduce((n, r) => n + r.data.length, 0);
      if (f.units !== p.pages!.runs.length || f.bytes !== minimalBytes) problems.push(`azure: the engine sent ${f.units} Put Page (${f.bytes} B), the minimal client ${p.pages!.runs.length} (${minimalBytes} B)`);
    }
    if (disk) await w.azurite!.service.getContainerClient(disk.container).deleteIfExists();
  } else {
    f.units = Math.ceil(f.bytes! / UPLOAD_CHUNK);
    f.held = f.bytes!;
    if (verify && a.dataBytes !== p.archive!.tar.dataBytes) problems.push(`gcp: the engine stored ${String(a.dataBytes)} data bytes, the minimal object ${p.archive!.tar.dataBytes}`);
    await deleteGcsObject(w.gcs!, String(a.objectName));
  }
  return f;
}

// ---------------------------------------------------------------------------------------------
// Output.

const fmtS = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)} s` : "n/a");
const fmtMiB = (v: number) => `${(v / MIB).toFixed(1)} MiB`;

interface Results {
  engine: Series;
  read: Series;
  minimal: Series;
}

function floor(r: Results): number {
  return Math.max(r.read.med("total"), r.minimal.med("total"));
}

function printPlatform(platform: Platform, r: Results, p: Payloads): void {
  const title = {
    aws: "aws: EBS snapshot in moto_server (createAmi false)",
    azure: "azure: managed disk (ARM fake) whose page blob is in Azurite",
    gcp: "gcp: disk.raw.tar.gz in fake-gcs-server, image by the Compute fake",
  }[platform];
  const base = floor(r);
  console.log(`\n### ${title}  (${r.engine.rounds.length} round(s), medians; ratio = median / max(read once, minimal client))`);
  console.log("| what | median | rounds | ratio |");
  console.log("|---|---|---|---|");
  const row = (what: string, s: Series, key: string, ratio = true) =>
    console.log(`| ${what} | ${fmtS(s.med(key))} | ${s.list(key)} | ${ratio ? (s.med(key) / base).toFixed(2) + "x" : ""} |`);
  row(`read once (openImageSource + readRanges, ${READ_SIZE[platform].chunk / MIB} MiB reads, ${fmtMiB(r.read.med("bytes"))})`, r.read, "total");
  const minimalWhat = {
    aws: `minimal client: ${r.minimal.med("units")} PutSnapshotBlock (${DEFAULT_BLOCKS_IN_FLIGHT} in flight) + Start/Complete`,
    azure: `minimal client: page blob create + ${r.minimal.med("units")} Put Page (${DEFAULT_RANGES_IN_FLIGHT} in flight, footer included)`,
    gcp: `minimal client: resumable upload of the ${fmtMiB(r.minimal.med("bytes"))} tar.gz in ${UPLOAD_CHUNK / MIB} MiB chunks`,
  }[platform];
  row(minimalWhat, r.minimal, "total");
  if (platform === "gcp") row("(reference, not in the ratio) the same object in one request (no chunks)", r.minimal, "oneRequest", false);
  if (platform === "azure") row("(reference, not in the ratio) staging as the engine does: qemu-img convert to a fixed VHD + fsync", r.minimal, "staging", false);
  row("**engine $upload: submit -> complete**", r.engine, "total");
  const steps = Object.keys(r.engine.rounds[0] ?? {}).filter((k) => k.startsWith("step."));
  for (const k of steps) row(`engine step ${k.slice(5)}`, r.engine, k, k === "step.upload");
  console.log(
    `(sent: engine ${fmtMiB(r.engine.med("bytes"))} in ${r.engine.med("units")} ${platform === "aws" ? "blocks" : platform === "azure" ? "Put Page" : "chunks"}, ` +
      `minimal ${fmtMiB(r.minimal.med("bytes"))} in ${r.minimal.med("units")}; CPU: engine ${r.engine.med("cpu").toFixed(2)} s + children (qemu-img) ${r.engine.med("cpuChildren").toFixed(2)} s, ` +
      `read once ${r.read.med("cpu").toFixed(2)} s, minimal client ${r.minimal.med("cpu").toFixed(2)} s (emulators not counted); ` +
      `engine peak RSS (VmHWM) ${r.engine.med("peakRssMiB").toFixed(0)} MiB (${r.engine.list("peakRssMiB", 0)}))`,
  );
  if (platform === "gcp" && p.archive) {
    console.log(`(the object: engine's sparseTar + gzip -6 made it in ${p.archive.makeSeconds.toFixed(2)} s before the rounds, outside every timing; ${fmtMiB(p.archive.tar.dataBytes)} of data in ${p.archive.tar.segments} segments)`);
  }
}

function printSummary(results: Partial<Record<Platform, Results>>): void {
  console.log(`\n## upload (\`npm run bench:upload\`) summary: ${ROUNDS} round(s), medians (individual values in brackets)`);
  console.log("| platform | engine $upload | engine upload step | read once | minimal client | engine / max(read, minimal) | upload step / max | engine peak RSS |");
  console.log("|---|---|---|---|---|---|---|---|");
  for (const platform of PLATFORMS) {
    const r = results[platform];
    if (!r) continue;
    const base = floor(r);
    const cell = (s: Series, key: string) => `${fmtS(s.med(key))} (${s.list(key)})`;
    console.log(
      `| ${platform} | ${cell(r.engine, "total")} | ${cell(r.engine, "step.upload")} | ${cell(r.read, "total")} | ${cell(r.minimal, "total")} | ` +
        `**${(r.engine.med("total") / base).toFixed(2)}x** | ${(r.engine.med("step.upload") / base).toFixed(2)}x | ${r.engine.med("peakRssMiB").toFixed(0)} MiB |`,
    );
  }
  console.log("target: engine / max(read once, minimal client) <= 1.3x");
}

// ---------------------------------------------------------------------------------------------

async function main(cleanups: Cleanups): Promise<void> {
  const runStart = process.hrtime.bigint();
  if (PLATFORMS.length === 0) throw new Error("BENCH_PLATFORMS names no platform");
  console.log(
    `machine: ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(" ")} at start; ` +
      `${execFileSync("qemu-img", ["--version"]).toString().split("\n")[0]}; Node ${process.version}; platforms ${PLATFORMS.join(",")}; ${ROUNDS} round(s)`,
  );
  const w = await startWorld(cleanups);
  let t = process.hrtime.bigint();
  await makeSparseDisk({ path: w.source, format: "qcow2", virtualSize: VIRTUAL, dataBytes: DATA, seed: "bench-upload", chunk: MIB });
  console.log(`source: ${SOURCE_NAME}: qcow2, ${VIRTUAL / MIB} MiB virtual, ${DATA / MIB} MiB of seeded random data in 1 MiB pieces, file ${fmtMiB(statSync(w.source).size)} (made in ${seconds(t).toFixed(1)} s)`);
  t = process.hrtime.bigint();
  const payloads = await preparePayloads(w.source, w.workDir, PLATFORMS);
  console.log(
    `payloads for the minimal clients (made in ${seconds(t).toFixed(1)} s, outside the timing): ` +
      [
        payloads.blocks && `aws ${payloads.blocks.length} blocks`,
        payloads.pages && `azure ${payloads.pages.runs.length} Put Page (${fmtMiB(payloads.pages.runs.reduce((n, r) => n + r.data.length, 0))}) into ${payloads.pages.fileSize} B`,
        payloads.archive && `gcp ${fmtMiB(payloads.archive.gz.length)} tar.gz (made in ${payloads.archive.makeSeconds.toFixed(2)} s)`,
      ]
        .filter(Boolean)
        .join("; "),
  );

  const results: Partial<Record<Platform, Results>> = {};
  for (const platform of PLATFORMS) results[platform] = { engine: new Series(), read: new Series(), minimal: new Series() };
  const problems: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const verify = round === 0;
    for (const platform of PLATFORMS) {
      const r = results[platform]!;
      // Rotate who goes first, so warm-up and page cache favour none.
      const order = ["engine", "read", "minimal"] as const;
      const rotated = [...order.slice(round % 3), ...order.slice(0, round % 3)];
      for (const who of rotated) {
        if (who === "engine") r.engine.add(await engineUpload(w, platform, payloads, round, verify, problems));
        else if (who === "read") r.read.add(await readOnce(w, platform));
        else
          r.minimal.add(
            platform === "aws" ? await minimalAws(w, payloads, round, verify) : platform === "azure" ? await minimalAzure(w, payloads, round, verify) : await minimalGcp(w, payloads, round),
          );
      }
      const last = (s: Series) => s.rounds[s.rounds.length - 1]!.total!;
      console.log(
        `round ${round + 1} ${platform}: engine ${last(r.engine).toFixed(2)} s (upload step ${(r.engine.rounds[round]!["step.upload"] ?? NaN).toFixed(2)} s), ` +
          `read once ${last(r.read).toFixed(2)} s, minimal ${last(r.minimal).toFixed(2)} s; load avg ${loadavg()[0]!.toFixed(2)}`,
      );
    }
  }

  for (const platform of PLATFORMS) printPlatform(platform, results[platform]!, payloads);
  printSummary(results);
  if (problems.length > 0) {
    console.log(`\nCHECKS FAILED (round 1):\n- ${problems.join("\n- ")}`);
    process.exitCode = 1;
  } else {
    console.log("\nchecks (round 1): every engine job reported the source's block digest and sent what the minimal client sent");
  }
  console.log(`whole run: ${seconds(runStart).toFixed(0)} s; load average at end ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
}

const cleanups = new Cleanups();
cleanups.main("bench/upload", DEADLINE_MS, () => main(cleanups));
