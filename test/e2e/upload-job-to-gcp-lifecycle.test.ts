import { strict as assert } from "assert";
import { generateKeyPairSync } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { GceFake, startGceFake } from "../fakes/gce-fake";
import { makeSparseDisk, tempDir } from "../helpers/disks";
import { EngineProcess } from "../helpers/engine-process";
import { FakeGcs, startFakeGcs } from "../helpers/fake-gcs";
import { GCP_BUCKET, GCP_CLIENT_EMAIL, GCP_PROJECT } from "../helpers/gcp-world";
import { REPO_ROOT } from "../helpers/paths";
import { PulumiProject } from "../helpers/pulumi-project";

const PROGRAM = path.join(REPO_ROOT, "test/e2e/programs/upload-job");

/** A disk to a Compute Engine image with `pulumi up`: fake-gcs-server for the archive, the strict GCE fake for the image. */
describe("UploadJob on GCP: an image from a disk archive in GCS, refreshed, then removed by destroy", function () {
  this.timeout(600_000);
  let gcs: FakeGcs;
  let gce: GceFake;
  let engine: EngineProcess;
  let project: PulumiProject;
  let images: { dir: string; remove(): Promise<void> };

  before(async () => {
    images = await tempDir("upload-gcp-e2e-");
    fs.mkdirSync(path.join(images.dir, "exports"));
    await makeSparseDisk({ path: path.join(images.dir, "exports/golden.vhdx"), format: "vhdx", virtualSize: 24 << 20, dataBytes: 1 << 20, seed: "gcp-e2e" });
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    gcs = await startFakeGcs();
    gce = await startGceFake({ gcsUrl: gcs.url, clientEmail: GCP_CLIENT_EMAIL, publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(), project: GCP_PROJECT });
    await gcs.createBucket(GCP_BUCKET);
    engine = await EngineProcess.start(undefined, {
      IMAGEPORT_GCS_ENDPOINT_URL: gcs.url,
      IMAGEPORT_GCE_ENDPOINT_URL: gce.url,
      IMAGEPORT_GCP_TOKEN_URL: gce.tokenUrl,
    });
    const serviceAccountKey = JSON.stringify({
      type: "service_account",
      project_id: GCP_PROJECT,
      private_key_id: "0123456789abcdef",
      private_key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      client_email: GCP_CLIENT_EMAIL,
    });
    project = new PulumiProject(PROGRAM);
    await project.init({
      ...engine.providerConfig(),
      "upload:platform": { value: "gcp" },
      "upload:serviceAccountKey": { value: serviceAccountKey, secret: true },
      "upload:bucket": { value: GCP_BUCKET },
      "upload:inputLocation": { value: `file://${images.dir}/exports/` },
      "upload:inputImageFilename": { value: "golden.vhdx" },
    });
  });
  after(async () => {
    project?.dispose();
    await engine?.stop();
    await gce?.stop();
    await gcs?.stop();
    await images?.remove();
  });

  it("up makes a READY image from the uploaded archive", async () => {
    await project.ok(["up", "--yes"]);
    const outputs = await project.outputs();
    assert.equal(outputs.targetId, `projects/${GCP_PROJECT}/global/images/golden-image`);
    assert.equal(gce.images.get("golden-image")?.status, "READY");
  });

  it("previews and refreshes without changes", async () => {
    await project.ok(["preview", "--expect-no-changes"]);
    await project.ok(["refresh", "--yes", "--expect-no-changes"]);
  });

  it("destroy removes the image and the archive, and the source stays", async () => {
    await project.ok(["destroy", "--yes"]);
    assert.equal(gce.images.size, 0, "no image left");
    assert.deepEqual(await gcs.listObjects(GCP_BUCKET), [], "no archive left");
    assert.ok(fs.existsSync(path.join(images.dir, "exports/golden.vhdx")));
  });
});
