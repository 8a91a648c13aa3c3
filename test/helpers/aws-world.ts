// The AWS upload tests' world: a real engine (embedded connector) and Samba share (the job
// world), a real moto_server the engine is pointed at through IMAGEPORT_AWS_ENDPOINT_URL, an
// Aws credential, and oracles that read back what moto holds.

import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { GetSnapshotBlockCommand, ListSnapshotBlocksCommand } from "@aws-sdk/client-ebs";
import { recomputeBlockDigest } from "./block-digest-oracle";
import { startJobWorld, JobWorld } from "./job-world";
import { Moto, MOTO_KEYS, startMoto } from "./moto";

export const EBS_BLOCK = 512 * 1024;
export const AWS_CREDENTIAL_ID = "aws-moto";

export interface AwsWorld {
  world: JobWorld;
  moto: Moto;
  close(): Promise<void>;
}

export async function startAwsWorld(): Promise<AwsWorld> {
  const moto = await startMoto();
  process.env.IMAGEPORT_AWS_ENDPOINT_URL = moto.url;
  let world: JobWorld | undefined;
  try {
    world = await startJobWorld();
    const cred = await world.engine.api("POST", "/ips/credentials", { id: AWS_CREDENTIAL_ID, type: "Aws", ...MOTO_KEYS });
    if (cred.status !== 201) throw new Error(`credential: ${cred.status} ${cred.text}`);
  } catch (error) {
    // A half-started world must not outlive the failed before() hook.
    delete process.env.IMAGEPORT_AWS_ENDPOINT_URL;
    await world?.close();
    await moto.stop();
    throw error;
  }
  return {
    world: world!,
    moto,
    async close() {
      delete process.env.IMAGEPORT_AWS_ENDPOINT_URL;
      await world!.close();
      await moto.stop();
    },
  };
}

/** The raw content of a disk (qemu-img convert -O raw): its sha256, its block digest and its non-zero 512 KiB blocks. */
export function rawOracle(path: string, format: string, scratch: string): { sha256: string; blockDigest: string; dataBlocks: number[]; virtualSize: number } {
  const raw = join(scratch, `oracle-${process.hrtime.bigint()}.raw`);
  execFileSync("qemu-img", ["convert", "-f", format === "vhd" ? "vpc" : format, "-O", "raw", path, raw]);
  try {
    const bytes = readFileSync(raw);
    const dataBlocks: number[] = [];
    for (let i = 0; i * EBS_BLOCK < bytes.length; i++) {
      const block = bytes.subarray(i * EBS_BLOCK, (i + 1) * EBS_BLOCK);
      if (block.some((b) => b !== 0)) dataBlocks.push(i);
    }
    return { sha256: createHash("sha256").update(bytes).digest("hex"), blockDigest: recomputeBlockDigest(raw, bytes.length), dataBlocks, virtualSize: bytes.length };
  } finally {
    rmSync(raw, { force: true });
  }
}

/** Reads every block moto holds for a snapshot and reassembles the disk (zeros elsewhere). */
export async function snapshotContent(moto: Moto, snapshotId: string, virtualSize: number): Promise<{ sha256: string; blockIndexes: number[] }> {
  const content = Buffer.alloc(virtualSize);
  const blockIndexes: number[] = [];
  let nextToken: string | undefined;
  for (let page = 0; page < 1000; page++) {
    const list = await moto.ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: snapshotId, NextToken: nextToken }));
    for (const b of list.Blocks ?? []) {
      const got = await moto.ebs.send(new GetSnapshotBlockCommand({ SnapshotId: snapshotId, BlockIndex: b.BlockIndex!, BlockToken: b.BlockToken! }));
      const data = Buffer.from(await got.BlockData!.transformToByteArray());
      if (data.length !== EBS_BLOCK) throw new Error(`block ${b.BlockIndex} holds ${data.length} bytes, not ${EBS_BLOCK}`);
      data.copy(content, b.BlockIndex! * EBS_BLOCK, 0, Math.min(EBS_BLOCK, virtualSize - b.BlockIndex! * EBS_BLOCK));
      blockIndexes.push(b.BlockIndex!);
    }
    nextToken = list.NextToken;
    // moto ignores pagination and repeats the whole list: stop on a token it does not move.
    if (!nextToken || (list.Blocks ?? []).length === 0) break;
  }
  return { sha256: createHash("sha256").update(content).digest("hex"), blockIndexes: [...new Set(blockIndexes)].sort((a, b) => a - b) };
}
