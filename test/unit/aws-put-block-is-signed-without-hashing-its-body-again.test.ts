// SigV4 signs the sha256 of a request's body. For PutSnapshotBlock the engine already has it
// (the block's EBS checksum, taken on a hashing thread), so the SDK must use it instead of
// hashing 512 KiB again on the event loop. Proven with the client's own hash constructor
// counting what it is fed, and a request handler that records what would be sent.

import assert from "node:assert/strict";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { EBSClient, PutSnapshotBlockCommand } from "@aws-sdk/client-ebs";
import { signWithKnownPayloadHash } from "../../engine/platforms/aws/snapshot-writer";

const BLOCK = 512 * 1024;

/** A sha256 for the SDK that records the largest input it was given. */
function countingSha256(seen: { largest: number }) {
  return class {
    private readonly hash;
    constructor(secret?: unknown) {
      this.hash = secret === undefined ? createHash("sha256") : createHmac("sha256", secret as Buffer);
    }
    update(data: Uint8Array | string): void {
      seen.largest = Math.max(seen.largest, typeof data === "string" ? data.length : data.byteLength);
      this.hash.update(data);
    }
    async digest(): Promise<Uint8Array> {
      return new Uint8Array(this.hash.digest());
    }
  };
}

async function send(withKnownHash: boolean): Promise<{ largest: number; headers: Record<string, string> }> {
  const seen = { largest: 0 };
  let headers: Record<string, string> = {};
  const client = new EBSClient({
    region: "us-east-1",
    endpoint: "http://127.0.0.1:9",
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
    sha256: countingSha256(seen),
    requestHandler: {
      handle: async (request: { headers: Record<string, string> }) => {
        headers = { ...request.headers };
        return { response: { statusCode: 201, headers: {}, body: undefined } };
      },
    },
  } as never);
  const data = randomBytes(BLOCK);
  const checksum = createHash("sha256").update(data).digest();
  const put = new PutSnapshotBlockCommand({ SnapshotId: "snap-1", BlockIndex: 0, BlockData: data, DataLength: BLOCK, Checksum: checksum.toString("base64"), ChecksumAlgorithm: "SHA256" });
  if (withKnownHash) signWithKnownPayloadHash(put, checksum);
  await client.send(put).catch(() => undefined); // the recorded request is what matters
  client.destroy();
  return { largest: seen.largest, headers };
}

describe("aws: a block is signed with the checksum the engine has, not hashed again", () => {
  it("the SDK's sha256 never sees the 512 KiB body, and the signed payload hash is the block's sha256", async () => {
    const { largest, headers } = await send(true);
    assert.ok(largest < BLOCK, `the signer hashed ${largest} bytes at once`);
    const signed = Object.entries(headers).find(([k]) => k.toLowerCase() === "x-amz-content-sha256")?.[1];
    assert.match(String(signed), /^[0-9a-f]{64}$/);
    assert.ok(String(headers["authorization"] ?? headers["Authorization"]).includes("x-amz-content-sha256"), "the payload hash is a signed header");
  });

  it("without it the SDK hashes the whole body itself (what the engine avoids)", async () => {
    const { largest } = await send(false);
    assert.equal(largest, BLOCK);
  });
});
