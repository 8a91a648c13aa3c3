// The GCP upload tests' world: a real engine (embedded connector) and Samba share (the job
// world), a real fake-gcs-server and the strict Compute fake (test/fakes/gce-fake.ts, which also
// issues tokens), the engine pointed at both through IMAGEPORT_GCS_ENDPOINT_URL,
// IMAGEPORT_GCE_ENDPOINT_URL and IMAGEPORT_GCP_TOKEN_URL, a Gcp credential holding a freshly
// generated service-account key, a bucket, and oracles for what GCS holds.

import { execFileSync } from "node:child_process";
import { recomputeBlockDigest } from "./block-digest-oracle";
import { createHash, generateKeyPairSync } from "node:crypto";
import { closeSync, mkdirSync, openSync, readSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { GceFake, startGceFake } from "../fakes/gce-fake";
import { FakeGcs, startFakeGcs } from "./fake-gcs";
import { startJobWorld, JobWorld } from "./job-world";

export const GCP_CREDENTIAL_ID = "gcp-fake";
export const GCP_PROJECT = "imageport-test-1";
export const GCP_BUCKET = "imageport-images";
export const GCP_CLIENT_EMAIL = `uploader@${GCP_PROJECT}.iam.gserviceaccount.com`;
export const GIB = 1024 ** 3;

const ENV = ["IMAGEPORT_GCS_ENDPOINT_URL", "IMAGEPORT_GCE_ENDPOINT_URL", "IMAGEPORT_GCP_TOKEN_URL"] as const;

export interface GcpWorld {
  world: JobWorld;
  gcs: FakeGcs;
  gce: GceFake;
  /** The private key's PEM body, to check it never leaks. */
  privateKeyPem: string;
  close(): Promise<void>;
}

export async function startGcpWorld(): Promise<GcpWorld> {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const privateKeyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const gcs = await startFakeGcs();
  let gce: GceFake | undefined;
  let world: JobWorld | undefined;
  try {
    gce = await startGceFake({
      gcsUrl: gcs.url,
      clientEmail: GCP_CLIENT_EMAIL,
      publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
      project: GCP_PROJECT,
    });
    await gcs.createBucket(GCP_BUCKET);
    process.env.IMAGEPORT_GCS_ENDPOINT_URL = gcs.url;
    process.env.IMAGEPORT_GCE_ENDPOINT_URL = gce.url;
    process.env.IMAGEPORT_GCP_TOKEN_URL = gce.tokenUrl;
    world = await startJobWorld();
    const serviceAccountKey = JSON.stringify({
      type: "service_account",
      project_id: GCP_PROJECT,
      private_key_id: "0123456789abcdef",
      private_key: privateKeyPem,
      client_email: GCP_CLIENT_EMAIL,
      token_uri: "https://oauth2.googleapis.com/token",
    });
    const cred = await world.engine.api("POST", "/ips/credentials", { id: GCP_CREDENTIAL_ID, type: "Gcp", serviceAccountKey });
    if (cred.status !== 201) throw new Error(`credential: ${cred.status} ${cred.text}`);
  } catch (error) {
    // A half-started world must not outlive the failed before() hook.
    for (const k of ENV) delete process.env[k];
    await world?.close();
    await gce?.stop();
    await gcs.stop();
    throw error;
  }
  return {
    world: world!,
    gcs,
    gce: gce!,
    privateKeyPem,
    async close() {
      for (const k of ENV) delete process.env[k];
      await world!.close();
      await gce!.stop();
      await gcs.stop();
    },
  };
}

/** The source's raw content (qemu-img convert -O raw): sha256, that padded to whole GiB, and its non-zero 64 KiB pieces. */
export function paddedRawOracle(path: string, format: string, scratch: string): { sha256: string; paddedSha256: string; blockDigest: string; virtualSize: number; dataPieces: number } {
  const raw = join(scratch, `oracle-${process.hrtime.bigint()}.raw`);
  execFileSync("qemu-img", ["convert", "-f", format === "vhd" ? "vpc" : format, "-O", "raw", path, raw]);
  try {
    const hash = createHash("sha256");
    const size = statSync(raw).size;
    const piece = Buffer.alloc(64 * 1024);
    const zero = Buffer.alloc(64 * 1024);
    let dataPieces = 0;
    const fd = openSync(raw, "r");
    try {
      for (let at = 0; at < size; at += piece.length) {
        const n = readSync(fd, piece, 0, Math.min(piece.length, size - at), at);
        const view = piece.subarray(0, n);
        if (!view.equals(zero.subarray(0, n))) dataPieces++;
        hash.update(view);
      }
    } finally {
      closeSync(fd);
    }
    const sha256 = hash.copy().digest("hex");
    const padded = Math.ceil(size / GIB) * GIB;
    const mib = Buffer.alloc(1024 * 1024);
    for (let at = size; at < padded; at += mib.length) hash.update(mib.subarray(0, Math.min(mib.length, padded - at)));
    return { sha256, paddedSha256: hash.digest("hex"), blockDigest: recomputeBlockDigest(raw, size), virtualSize: size, dataPieces };
  } finally {
    rmSync(raw, { force: true });
  }
}

/**
 * Extracts an archive with GNU tar into a fresh dir and reports its members, disk.raw's size,
 * sha256 and allocated bytes (GNU tar recreates the holes of a sparse member).
 */
export function untarArchive(archive: Buffer, scratch: string): { members: string[]; size: number; sha256: string; allocatedBytes: number } {
  const dir = join(scratch, `untar-${process.hrtime.bigint()}`);
  mkdirSync(dir);
  const file = join(dir, "..", `${process.hrtime.bigint()}.tar.gz`);
  writeFileSync(file, archive);
  try {
    const members = execFileSync("tar", ["-tzf", file], { encoding: "utf8" }).split("\n").filter(Boolean);
    execFileSync("tar", ["-xzf", file, "-C", dir]);
    const disk = join(dir, "disk.raw");
    const st = statSync(disk);
    const sha256 = execFileSync("sha256sum", [disk], { encoding: "utf8" }).split(" ")[0]!;
    return { members, size: st.size, sha256, allocatedBytes: st.blocks * 512 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(file, { force: true });
  }
}
