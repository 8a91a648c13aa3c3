// The GCS resumable upload of the GCP driver against a real fake-gcs-server behind a proxy that
// breaks two chunks: one refused with 503 before it reaches GCS, one that reaches GCS but whose
// answer is lost. The upload asks GCS what it holds, resumes from there, and the object is
// byte for byte what was sent; a non-transient refusal fails at once with a coded error.
// fake-gcs-server v1.56.1 finalizes an upload on a status query (PUT, Content-Range bytes */*)
// where GCS answers 308 with the Range it holds: the proxy answers those queries as GCS does,
// from the Range fake-gcs-server gave for the chunks it forwarded.

import * as assert from "node:assert/strict";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { createServer, request as httpRequest, Server } from "node:http";
import { GceFake, startGceFake } from "../fakes/gce-fake";
import { FakeGcs, startFakeGcs } from "../helpers/fake-gcs";
import { openGcpClient, uploadObject } from "../../engine/platforms/gcp";
import { EngineError } from "../../engine/errors";

const KIB = 1024;

describe("gcp object upload: resumes after failed chunks", function () {
  this.timeout(60_000);
  let gcs: FakeGcs;
  let gce: GceFake;
  let proxy: Server;
  let key: string;
  /** PUT number (1-based) -> what the proxy does to it. */
  const faults = new Map<number, "refuse-503" | "lose-answer" | "refuse-403">();
  let puts = 0;
  /** Bytes fake-gcs-server acknowledged for the current session (its last 308 Range). */
  let held = 0;
  let queries = 0;

  before(async () => {
    const pair = generateKeyPairSync("rsa", { modulusLength: 2048 });
    gcs = await startFakeGcs();
    await gcs.createBucket("chunks");
    gce = await startGceFake({ gcsUrl: gcs.url, clientEmail: "c@p-1234.iam.gserviceaccount.com", publicKeyPem: pair.publicKey.export({ type: "spki", format: "pem" }).toString(), project: "p-1234" });
    key = JSON.stringify({ client_email: "c@p-1234.iam.gserviceaccount.com", private_key: pair.privateKey.export({ type: "pkcs8", format: "pem" }).toString() });
    const gcsPort = Number(new URL(gcs.url).port);
    proxy = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        if (req.method === "PUT" && req.headers["content-range"] === "bytes */*") {
          queries++;
          res.writeHead(308, held > 0 ? { range: `bytes=0-${held - 1}` } : {});
          res.end();
          return;
        }
        const fault = req.method === "PUT" && req.headers["content-range"] !== "bytes */*" ? faults.get(++puts) : undefined;
        if (fault === "refuse-503" || fault === "refuse-403") {
          const status = fault === "refuse-503" ? 503 : 403;
          res.writeHead(status, { "content-type": "application/json" });
          res.end(JSON.stringify({ error: { code: status, message: "injected", errors: [{ reason: "injected" }] } }));
          return;
        }
        const up = httpRequest({ host: "127.0.0.1", port: gcsPort, method: req.method, path: req.url, headers: req.headers }, (answer) => {
          const range = /bytes=0-(\d+)/.exec(String(answer.headers.range ?? ""));
          if (req.method === "PUT" && answer.statusCode === 308 && range) held = Number(range[1]) + 1;
          if (fault === "lose-answer") {
            answer.resume();
            req.socket.destroy();
            return;
          }
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        });
        up.end(Buffer.concat(chunks));
      });
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
    process.env.IMAGEPORT_GCS_ENDPOINT_URL = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
    process.env.IMAGEPORT_GCP_TOKEN_URL = gce.tokenUrl;
  });
  after(async () => {
    delete process.env.IMAGEPORT_GCS_ENDPOINT_URL;
    delete process.env.IMAGEPORT_GCP_TOKEN_URL;
    proxy?.closeAllConnections();
    await new Promise((r) => proxy?.close(r));
    await gce?.stop();
    await gcs?.stop();
  });

  async function* pieces(data: Buffer): AsyncGenerator<Buffer> {
    for (let at = 0; at < data.length; at += 100 * KIB) yield data.subarray(at, at + 100 * KIB);
  }

  it("a 503 and a lost answer are retried from what GCS holds; the object equals the bytes sent", async () => {
    faults.clear();
    puts = 0;
    held = 0;
    queries = 0;
    faults.set(2, "refuse-503");
    faults.set(4, "lose-answer");
    const data = randomBytes(1100 * KIB); // 5 chunks of 256 KiB
    const client = openGcpClient({ id: "k", type: "Gcp", fields: { serviceAccountKey: key } });
    const object = await uploadObject(client, { bucket: "chunks", name: "a/b.bin", contentType: "application/octet-stream", body: pieces(data), signal: AbortSignal.timeout(50_000), chunkSize: 256 * KIB });
    assert.equal(Number(object.size), data.length);
    const stored = await gcs.readObject("chunks", "a/b.bin");
    assert.ok(stored?.equals(data), "the object is byte for byte what was sent");
    assert.equal(queries, 2, "after each failure the upload asked GCS what it holds");
    // 5 chunks, plus the refused one again; the one whose answer was lost is held by GCS and not re-sent.
    assert.equal(puts, 6);
  });

  it("a 403 on a chunk fails at once with PLATFORM_ACCESS_DENIED and leaves no object", async () => {
    faults.clear();
    puts = 0;
    faults.set(2, "refuse-403");
    const client = openGcpClient({ id: "k", type: "Gcp", fields: { serviceAccountKey: key } });
    await assert.rejects(
      uploadObject(client, { bucket: "chunks", name: "c.bin", contentType: "application/octet-stream", body: pieces(randomBytes(600 * KIB)), signal: AbortSignal.timeout(50_000), chunkSize: 256 * KIB }),
      (e: unknown) => e instanceof EngineError && e.code === "PLATFORM_ACCESS_DENIED" && /objects\.insert/.test(e.message),
    );
    assert.equal(puts, 2, "no retry of a refusal");
    assert.equal(await gcs.readObject("chunks", "c.bin"), undefined);
  });
});
