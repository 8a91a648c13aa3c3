// vCenter's certificate issued by a private CA for another name than the one the engine dials
// (as when vCenter is reached by IP or through a DNS alias): with the CA given, the chain is
// trusted but the name is not, so the job is refused before any login and says which setting
// accepts it; with vsphereSslNoCheckHostname it works, and the chain is still checked.

import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Job } from "../../client/jobs";
import { makeGuestDisk } from "../helpers/guest-disk";
import { JobWorld, startJobWorld } from "../helpers/job-world";
import { startVcsim, Vcsim } from "../helpers/vcsim";

const MIB = 1024 * 1024;

describe("vSphere TLS: the host name check is skipped only when asked, the chain never", function () {
  this.timeout(120_000);
  let world: JobWorld;
  let vcsim: Vcsim;
  let caPem: string;
  let otherCaPem: string;
  let n = 0;

  before(async () => {
    world = await startJobWorld();
    const dir = world.root;
    const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
    for (const ca of ["ca", "other-ca"]) {
      openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", `${ca}.key`, "-out", `${ca}.pem`, "-days", "2", "-subj", `/CN=imageport ${ca}`);
    }
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "vc.key", "-out", "vc.csr", "-subj", "/CN=vcenter.example.net");
    execFileSync("sh", ["-c", "printf 'subjectAltName=DNS:vcenter.example.net\\n' > vc.ext"], { cwd: dir });
    openssl("x509", "-req", "-in", "vc.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "vc.pem", "-days", "2", "-extfile", "vc.ext");
    caPem = readFileSync(join(dir, "ca.pem"), "utf8");
    otherCaPem = readFileSync(join(dir, "other-ca.pem"), "utf8");
    vcsim = await startVcsim({ tls: { certPath: join(dir, "vc.pem"), keyPath: join(dir, "vc.key") } });
    const guest = await makeGuestDisk(dir, { sizeBytes: 16 * MIB, seed: 5, files: 4 });
    await vcsim.seedDisk("DC0_H0_VM0", guest.path, "raw");
    const made = await world.engine.api("POST", "/ips/credentials", { id: "vc", type: "UsernamePassword", username: "u", password: "p" });
    assert.equal(made.status, 201, made.text);
  });
  after(async () => {
    await vcsim?.stop();
    await world?.close();
  });

  async function exportWith(tls: Record<string, unknown>): Promise<{ job: Job; logins: number }> {
    n += 1;
    const before = (await vcsim.stats()).logins;
    const job = await world.run("export", {
      vsphereHost: vcsim.host,
      vspherePort: vcsim.port,
      vsphereCredentialId: "vc",
      sourceVmName: "DC0_H0_VM0",
      outputStorageLocation: { location: world.fileLocation(world.outputDir) },
      outputImageFilename: `tls-${n}.vhdx`,
      ...tls,
    });
    return { job, logins: (await vcsim.stats()).logins - before };
  }

  it("refuses a certificate from the given CA issued for another name, naming vsphereSslNoCheckHostname", async () => {
    const { job, logins } = await exportWith({ vsphereSslCaCertificate: caPem });
    assert.equal(job.error?.code, "PLATFORM_CERTIFICATE_UNTRUSTED");
    assert.match(job.error!.message, /not valid for this host name/);
    assert.match(job.error!.message, /vsphereSslNoCheckHostname/);
    assert.equal(logins, 0, "nothing was sent");
  });

  it("accepts it with vsphereSslNoCheckHostname", async () => {
    const { job, logins } = await exportWith({ vsphereSslCaCertificate: caPem, vsphereSslNoCheckHostname: true });
    assert.equal(job.status, "complete", JSON.stringify(job.error));
    assert.equal(logins, 1);
  });

  it("still refuses a chain from another CA with vsphereSslNoCheckHostname", async () => {
    const { job, logins } = await exportWith({ vsphereSslCaCertificate: otherCaPem, vsphereSslNoCheckHostname: true });
    assert.equal(job.error?.code, "PLATFORM_CERTIFICATE_UNTRUSTED");
    assert.match(job.error!.message, /not issued by a trusted CA/);
    assert.equal(logins, 0);
  });
});
