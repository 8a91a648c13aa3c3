// The Azure upload tests' world: a real engine (embedded connector) and Samba share (the job
// world), a real Azurite holding the disks' page blobs, the ARM fake (test/fakes) the engine is
// pointed at through IMAGEPORT_AZURE_AUTHORITY_HOST / IMAGEPORT_AZURE_ARM_ENDPOINT, an Azure
// credential, and oracles computed without the engine.

import { execFileSync } from "node:child_process";
import { blockDigestOfBytes } from "./block-digest-oracle";
import { createHash } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ArmFake, FakeDisk, startArmFake } from "../fakes/azure-arm-fake";
import { Azurite, startAzurite } from "./azurite";
import { JobWorld, startJobWorld } from "./job-world";

export const AZURE_CREDENTIAL_ID = "azure-fake";
export const AZURE_SECRET = { tenantId: "72f988bf-86f1-41af-91ab-2d7cd011db47", clientId: "0c1d2e3f-4a5b-6c7d-8e9f-a0b1c2d3e4f5", clientSecret: "azure-secret-canary-9e2c44" };
export const SUBSCRIPTION_ID = "11111111-2222-3333-4444-555555555555";
export const RESOURCE_GROUP = "rg-images";
export const LOCATION = "westeurope";
const MIB = 1024 * 1024;
const PAGE_MAX = 4 * MIB;

export interface AzureWorld {
  world: JobWorld;
  azurite: Azurite;
  arm: ArmFake;
  /** The body fields every azure upload needs. */
  target: { platform: "azure"; region: string; subscriptionId: string; resourceGroup: string; platformCredentialId: string };
  close(): Promise<void>;
}

export const ENV = { authority: "IMAGEPORT_AZURE_AUTHORITY_HOST", arm: "IMAGEPORT_AZURE_ARM_ENDPOINT" } as const;

export async function startAzureWorld(): Promise<AzureWorld> {
  const azurite = await startAzurite();
  let arm: ArmFake | undefined;
  let world: JobWorld | undefined;
  const unset = () => {
    delete process.env[ENV.authority];
    delete process.env[ENV.arm];
  };
  try {
    arm = await startArmFake({ azurite, ...AZURE_SECRET, subscriptionId: SUBSCRIPTION_ID, resourceGroups: { [RESOURCE_GROUP]: LOCATION } });
    process.env[ENV.authority] = arm.url;
    process.env[ENV.arm] = arm.url;
    world = await startJobWorld();
    const cred = await world.engine.api("POST", "/ips/credentials", { id: AZURE_CREDENTIAL_ID, type: "Azure", ...AZURE_SECRET });
    if (cred.status !== 201) throw new Error(`credential: ${cred.status} ${cred.text}`);
  } catch (error) {
    // A half-started world must not outlive the failed before() hook.
    unset();
    await world?.close();
    await arm?.stop();
    await azurite.stop();
    throw error;
  }
  return {
    world: world!,
    azurite,
    arm: arm!,
    target: { platform: "azure", region: LOCATION, subscriptionId: SUBSCRIPTION_ID, resourceGroup: RESOURCE_GROUP, platformCredentialId: AZURE_CREDENTIAL_ID },
    async close() {
      unset();
      await world!.close();
      await arm!.stop();
      await azurite.stop();
    },
  };
}

/** A disk's raw content (qemu-img convert -O raw, not the engine), its sha256 and length. */
export function rawContent(path: string, format: string, scratch: string): { bytes: Buffer; sha256: string; blockDigest: string } {
  const raw = join(scratch, `oracle-${process.hrtime.bigint()}.raw`);
  execFileSync("qemu-img", ["convert", "-f", format === "vhd" ? "vpc" : format, "-O", "raw", path, raw]);
  try {
    const bytes = readFileSync(raw);
    return { bytes, sha256: createHash("sha256").update(bytes).digest("hex"), blockDigest: blockDigestOfBytes(bytes) };
  } catch (error) {
    throw error;
  } finally {
    rmSync(raw, { force: true });
  }
}

/** The Put Page ranges a correct uploader sends for this content: runs of non-zero 512-byte sectors, cut at 4 MiB windows. */
export function expectedPuts(content: Buffer): Array<{ offset: number; length: number }> {
  const zero = Buffer.alloc(512);
  const puts: Array<{ offset: number; length: number }> = [];
  let start = -1;
  for (let at = 0; at <= content.length; at += 512) {
    const isZero = at === content.length || content.subarray(at, at + 512).equals(zero) || at % PAGE_MAX === 0;
    // A window boundary ends a run (and may start a new one at once).
    if (start >= 0 && isZero) {
      puts.push({ offset: start, length: at - start });
      start = -1;
    }
    if (at < content.length && !content.subarray(at, at + 512).equals(zero) && start < 0) start = at;
  }
  return puts;
}

/** The whole page blob behind a fake disk, read back from Azurite. */
export async function blobContent(az: AzureWorld, disk: FakeDisk): Promise<Buffer> {
  return az.azurite.service.getContainerClient(disk.container).getPageBlobClient(disk.blob).downloadToBuffer();
}

export async function containerExists(az: AzureWorld, container: string): Promise<boolean> {
  return az.azurite.service.getContainerClient(container).exists();
}

export const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
