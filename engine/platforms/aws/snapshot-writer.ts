// An EBS snapshot written through the EBS direct API: StartSnapshot, one PutSnapshotBlock per
// block that holds data (a bounded number in flight, each with its SHA-256 as real AWS
// requires even where an emulator does not check), CompleteSnapshot with the block count and
// the LINEAR aggregate checksum. The content's digests are taken from the same reads.

import { createHash } from "node:crypto";
import { CompleteSnapshotCommand, PutSnapshotBlockCommand, StartSnapshotCommand } from "@aws-sdk/client-ebs";
import { DescribeSnapshotsCommand } from "@aws-sdk/client-ec2";
import { setTimeout as sleep } from "node:timers/promises";
import { jobFailure } from "../../errors";
import { AwsClients } from "./clients";
import { checkedDataRanges, ContentDigests, DiskSource } from "../../disk";
import { DataBlock, dataBlocks, EBS_BLOCK } from "./data-blocks";
import { awsFailure } from "./failures";
import { sendBounded } from "../send-bounded";

const GIB = 1024 * 1024 * 1024;
export const DEFAULT_BLOCKS_IN_FLIGHT = 4;

export interface SnapshotWriteOptions {
  clients: AwsClients;
  /** The StartSnapshot ClientToken: the same token gives the same snapshot (a resumed job). */
  clientToken: string;
  description: string;
  tags: Record<string, string>;
  /** The disk to write (any DiskSource: only its data ranges are read). */
  source: DiskSource;
  signal: AbortSignal;
  /** Called as soon as the snapshot exists, so the caller can remove it if what follows fails. */
  onStarted(snapshotId: string): void;
  /** Fraction 0..1 of the disk scanned and sent. */
  onProgress?(fraction: number): void;
  blocksInFlight?: number;
  /** Also compute the full-content sha256 (hashDisk): a pass over every byte, zeros included. */
  sha256?: boolean;
}

export interface WrittenSnapshot {
  snapshotId: string;
  volumeSizeGiB: number;
  blocksWritten: number;
  /** The block digest (engine/disk/block-digest.ts) of the content sent. */
  blockDigest: string;
  sha256?: string;
}

/** The EBS volume size for a disk: whole GiB, at least 1. */
export function volumeSizeGiB(virtualSize: number): number {
  return Math.max(1, Math.ceil(virtualSize / GIB));
}

export async function writeSnapshot(options: SnapshotWriteOptions): Promise<WrittenSnapshot> {
  const { clients, source, signal } = options;
  const fail = (call: string, what: string, error: unknown) =>
    signal.aborted ? signal.reason : awsFailure(call, what, clients.region, clients.endpoint, error);
  const volumeSize = volumeSizeGiB(source.virtualSize);
  const tags = Object.entries(options.tags).map(([Key, Value]) => ({ Key, Value }));

  let snapshotId: string;
  try {
    const started = await clients.ebs.send(
      new StartSnapshotCommand({
        VolumeSize: volumeSize,
        ClientToken: options.clientToken,
        Description: options.description,
        Tags: tags.length > 0 ? tags : undefined,
        Timeout: 60,
      }),
      { abortSignal: signal },
    );
    if (!started.SnapshotId) throw new Error("StartSnapshot answered without a SnapshotId");
    snapshotId = started.SnapshotId;
  } catch (error) {
    throw fail("StartSnapshot", `a ${volumeSize} GiB snapshot`, error);
  }
  options.onStarted(snapshotId);

  let blocksWritten = 0;
  let scanned = 0;
  const ranges = checkedDataRanges(await source.dataRanges(signal), source.virtualSize, source.name);
  const digests = new ContentDigests(source.virtualSize, ranges, { sha256: options.sha256 === true });
  /** The checksums of the blocks sent, for the LINEAR aggregate (in index order at the end). */
  const checksums: Array<{ index: number; checksum: Buffer }> = [];
  const progress = () => options.onProgress?.(source.virtualSize === 0 ? 1 : scanned / source.virtualSize);

  let digest;
  try {
    await sendBounded({
      items: (sending) => dataBlocks(source, { signal: sending, ranges, onData: (offset, data) => digests.add(offset, data), onScanned: (bytes) => (scanned = bytes) }),
      limit: options.blocksInFlight ?? DEFAULT_BLOCKS_IN_FLIGHT,
      signal,
      send: (block, sending) => putBlock(block, sending),
      describe: (block, error) => fail("PutSnapshotBlock", `block ${block.index} of snapshot ${snapshotId}`, error),
    });
    digest = await digests.digest();
  } finally {
    digests.close();
  }
  progress();

  async function putBlock(block: DataBlock, sending: AbortSignal): Promise<void> {
    const checksum = await block.checksum;
    if (!checksum) return; // all zeros: EBS reads an unwritten block as zeros
    const put = new PutSnapshotBlockCommand({
      SnapshotId: snapshotId,
      BlockIndex: block.index,
      BlockData: block.data,
      DataLength: EBS_BLOCK,
      Checksum: checksum.toString("base64"),
      ChecksumAlgorithm: "SHA256",
    });
    signWithKnownPayloadHash(put, checksum);
    await clients.ebs.send(put, { abortSignal: sending });
    checksums.push({ index: block.index, checksum });
    blocksWritten++;
    progress();
  }

  // LINEAR: the sha256 of the block checksums in index order.
  const aggregate = createHash("sha256");
  for (const c of checksums.sort((a, b) => a.index - b.index)) aggregate.update(c.checksum);

  try {
    const done = await clients.ebs.send(
      new CompleteSnapshotCommand({
        SnapshotId: snapshotId,
        ChangedBlocksCount: blocksWritten,
        Checksum: aggregate.digest("base64"),
        ChecksumAlgorithm: "SHA256",
        ChecksumAggregationMethod: "LINEAR",
      }),
      { abortSignal: signal },
    );
    if (done.Status === "error") {
      throw jobFailure("SHARE_WRITE_FAILED", `AWS CompleteSnapshot put snapshot ${snapshotId} in the error state; the upload is lost. Run the job again.`);
    }
  } catch (error) {
    throw fail("CompleteSnapshot", `snapshot ${snapshotId} with ${blocksWritten} blocks`, error);
  }
  return { snapshotId, volumeSizeGiB: volumeSize, blocksWritten, ...digest };
}

/**
 * Waits until AWS reports the snapshot `completed` (it is `pending` for a while after
 * CompleteSnapshot, and an AMI can be registered only from a completed one). Bounded by the
 * job's own deadline through `signal`.
 */
export async function waitForSnapshot(clients: AwsClients, snapshotId: string, signal: AbortSignal, onProgress?: (fraction: number) => void): Promise<void> {
  for (let delay = 250; ; delay = Math.min(delay * 2, 5000)) {
    let state: string | undefined;
    let progress: string | undefined;
    try {
      const answer = await clients.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] }), { abortSignal: signal });
      state = answer.Snapshots?.[0]?.State;
      progress = answer.Snapshots?.[0]?.Progress;
    } catch (error) {
      throw signal.aborted ? signal.reason : awsFailure("DescribeSnapshots", `the state of snapshot ${snapshotId}`, clients.region, clients.endpoint, error);
    }
    if (state === "completed") return;
    if (state === "error" || state === undefined) {
      throw jobFailure("SHARE_WRITE_FAILED", `AWS reports snapshot ${snapshotId} as ${state ?? "missing"} after CompleteSnapshot; the upload is lost. Run the job again.`);
    }
    const percent = Number.parseInt(progress ?? "", 10);
    if (Number.isFinite(percent)) onProgress?.(percent / 100);
    await sleep(delay, undefined, { signal });
  }
}

/**
 * SigV4 signs the sha256 of the body (x-amz-content-sha256); the SDK computes it on the event
 * loop unless the header is there. The block's checksum is that very sha256 (of the same
 * bytes, taken on a hashing thread), so it goes in the header and the block is hashed once.
 */
export function signWithKnownPayloadHash(command: PutSnapshotBlockCommand, sha256: Buffer): void {
  command.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers) request.headers["x-amz-content-sha256"] = sha256.toString("hex");
      return next(args);
    },
    { step: "build", name: "imageportKnownPayloadHash" },
  );
}
