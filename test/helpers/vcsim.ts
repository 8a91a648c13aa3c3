// The vSphere simulator for tests: test/fakes/vcsim (govmomi's vcsim plus a fake that adds what
// vcsim lacks: users and privileges, change block tracking, session-checked datastore HTTP, NFC
// import leases that keep what is uploaded) on 127.0.0.1:<free port>, from the build
// scripts/setup caches, with a private datastore directory, stopped by pid. Plus its admin API:
// counters, delays, and pointing a VM's disk at a real VMDK.

import { execFile } from "node:child_process";
import { createHash, X509Certificate } from "node:crypto";
import { existsSync, promises as fs, readdirSync, readFileSync } from "node:fs";
import { request } from "node:https";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { connect, TLSSocket } from "node:tls";
import { promisify } from "node:util";
import { EmulatorProcess, freePort, startEmulator } from "./emulator-process";
import { REPO_ROOT } from "./paths";
import { TestDiskFormat } from "./disks";

const run = promisify(execFile);

/** The govmomi release test/fakes/vcsim/go.mod pins (scripts/lib/toolchain.sh: VCSIM_GOVMOMI_VERSION). */
export const VCSIM_GOVMOMI_VERSION = "v0.46.3";
export const VCSIM_SOURCE = join(REPO_ROOT, "test", "fakes", "vcsim");

export interface VcsimUser {
  password: string;
  /** vSphere privilege ids ("Datastore.Browse", ...), or ["*"] for all. */
  privileges: string[];
}

export interface VcsimOptions {
  /** Without users any login is accepted and has every privilege (stock vcsim). */
  users?: Record<string, VcsimUser>;
  /** Serve this certificate instead of govmomi's built-in one (O=Acme Co, SAN 127.0.0.1). */
  tls?: { certPath: string; keyPath: string };
  /** Most changedArea entries per QueryChangedDiskAreas answer (the fake's default: 64). */
  cbtMaxAreas?: number;
}

/** GET /imageport-fake/stats */
export interface VcsimStats {
  /** Successful logins. */
  logins: number;
  failedLogins: number;
  /** SOAP calls by method name, refused ones included. */
  soapCalls: Record<string, number>;
  /** GET requests on /folder, refused ones included. */
  folderGets: number;
  /** Body bytes of /folder GET answers. */
  folderBytesSent: number;
  /** PUTs to NFC import leases' disk URLs, and the body bytes they carried. */
  nfcUploads: number;
  nfcBytesReceived: number;
  /** GETs of NFC export leases' disk URLs, and the body bytes they carried. */
  nfcDownloads: number;
  nfcBytesSent: number;
  /** Every export lease made, by id: "initializing", "ready", "done", "aborted", "error: <fault>". */
  nfcExportLeases: Record<string, string>;
  /** Snapshots that exist now, by VM name (0 for VMs without any). */
  snapshots: Record<string, number>;
}

export interface SeededDisk {
  /** The datastore path the VM's disk now has: "[LocalDS_0] DC0_H0_VM0/disk1.vmdk". */
  fileName: string;
  deviceKey: number;
  capacityBytes: number;
  /** The monolithicFlat descriptor and its sparse flat extent, on this machine. */
  descriptorPath: string;
  flatPath: string;
}

export interface Vcsim {
  /** https://127.0.0.1:PORT/sdk */
  url: string;
  host: string;
  port: number;
  pid: number;
  /** The local directory behind datastore LocalDS_0. */
  datastoreDir: string;
  /** The certificate the server presents (PEM). */
  certificatePem: string;
  /** Colon-separated uppercase hex, as vSphere shows thumbprints. */
  sha1Fingerprint: string;
  sha256Fingerprint: string;
  stats(): Promise<VcsimStats>;
  /**
   * Converts a local disk (any qemu-img format) to a monolithicFlat VMDK at the VM's disk path
   * in the datastore ("<vm>/disk1.vmdk", sparse) and points the VM's disk at it with its size.
   */
  seedDisk(vm: string, diskPath: string, format: TestDiskFormat | "vpc"): Promise<SeededDisk>;
  /**
   * Makes the VM's disk a snapshot chain: `baseDiskPath` becomes the parent (a monolithicFlat
   * "<vm>/disk1.vmdk", as seedDisk writes it) and `currentDiskPath`'s content the delta on top
   * ("<vm>/disk1-000001.vmdk": parentCID and SPARSE extents holding only what differs), which the
   * VM's disk then points at with backing.parent set. The base's flat extent keeps the old content.
   */
  seedDeltaDisk(vm: string, baseDiskPath: string, currentDiskPath: string, format: TestDiskFormat): Promise<SeededDisk & { parentFileName: string }>;
  /** What export leases made from now on do: go to `error` with a fault, or cut the download after some bytes ({}: nothing). */
  setNfcExportFailure(failure: { leaseError?: string; truncateAfterBytes?: number }): Promise<void>;
  /** Sets config.changeTrackingEnabled without a ReconfigVM_Task (no user, no privilege needed). */
  enableChangeTracking(vm: string): Promise<void>;
  /** Delays every /folder GET answer by `ms` (0: none), so a test can act while a disk is being read. */
  setFolderDelay(ms: number): Promise<void>;
  /** Waits `ms` before each read (at most 64 KiB) of an NFC upload (0: none), so a test can act mid-upload. */
  setNfcDelay(ms: number): Promise<void>;
  /** The info.leaseTimeout of import leases made from now on (0: vcsim's 300 s); an upload that outlasts it without HttpNfcLeaseProgress fails. */
  setNfcLeaseTimeout(seconds: number): Promise<void>;
  stop(): Promise<void>;
}

/** first 12 hex of sha256 over `sha256sum` of go.mod, go.sum and *.go in C order, as scripts/lib/toolchain.sh. */
function sourceKey(): string {
  const names = readdirSync(VCSIM_SOURCE)
    .filter((n) => n === "go.mod" || n === "go.sum" || (n.endsWith(".go") && !n.startsWith(".")))
    .sort();
  const listing = names.map((n) => `${createHash("sha256").update(readFileSync(join(VCSIM_SOURCE, n))).digest("hex")}  ${n}\n`).join("");
  return createHash("sha256").update(listing).digest("hex").slice(0, 12);
}

export function vcsimFakePath(): string {
  const cache = process.env.IMAGEPORT_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "imageport");
  const path = join(cache, `vcsim-fake-govmomi-${VCSIM_GOVMOMI_VERSION}-${sourceKey()}`, "vcsim-fake");
  if (!existsSync(path)) {
    throw new Error(`vcsim fake not found at ${path}: run scripts/setup (it builds test/fakes/vcsim there; the name changes with its sources)`);
  }
  return path;
}

export async function startVcsim(options: VcsimOptions = {}): Promise<Vcsim> {
  const command = vcsimFakePath();
  // A private TMPDIR: vcsim makes its datastore directories there, and removes them on SIGTERM.
  const tmp = await fs.mkdtemp(join(tmpdir(), "vcsim-"));
  const port = await freePort();
  const args = ["-port", String(port)];
  if (options.users) {
    await fs.writeFile(join(tmp, "users.json"), JSON.stringify(options.users));
    args.push("-users", join(tmp, "users.json"));
  }
  if (options.tls) args.push("-tlscert", options.tls.certPath, "-tlskey", options.tls.keyPath);
  if (options.cbtMaxAreas !== undefined) args.push("-cbt-max-areas", String(options.cbtMaxAreas));

  let ready: { url: string; datastoreDir: string; pid: number } | undefined;
  let server: EmulatorProcess;
  try {
    server = await startEmulator({
      name: "vcsim fake",
      command,
      args,
      env: { TMPDIR: tmp },
      ready: (output) => {
        const line = /^\{"url":.*\}$/m.exec(output);
        if (line) ready = JSON.parse(line[0]);
        return ready !== undefined;
      },
      timeoutMs: 20_000,
    });
  } catch (error) {
    await fs.rm(tmp, { recursive: true, force: true });
    throw error;
  }
  const host = "127.0.0.1";
  const certificate = new X509Certificate(options.tls ? await fs.readFile(options.tls.certPath) : await peerCertificate(host, port));

  const admin = async <T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> => {
    const { status, text } = await pinnedRequest(host, port, certificate, method, path, body);
    if (status !== 200) throw new Error(`vcsim fake ${method} ${path}: ${status} ${text}`);
    return JSON.parse(text) as T;
  };

  const handle: Vcsim = {
    url: ready!.url,
    host,
    port,
    pid: server.pid,
    datastoreDir: ready!.datastoreDir,
    certificatePem: certificate.toString(),
    sha1Fingerprint: certificate.fingerprint,
    sha256Fingerprint: certificate.fingerprint256,
    stats: () => admin<VcsimStats>("GET", "/imageport-fake/stats"),
    async seedDisk(vm, diskPath, format) {
      const relative = `${vm}/disk1.vmdk`;
      const descriptorPath = join(ready!.datastoreDir, relative);
      const qemuFormat = format === "vhd" ? "vpc" : format;
      // qemu-img writes only non-zero data: the flat extent keeps its holes.
      await run("qemu-img", ["convert", "-f", qemuFormat, "-O", "vmdk", "-o", "subformat=monolithicFlat", diskPath, descriptorPath]);
      const { stdout } = await run("qemu-img", ["info", "-f", qemuFormat, "--output=json", diskPath]);
      const capacityBytes = (JSON.parse(stdout) as { "virtual-size": number })["virtual-size"];
      const fileName = `[LocalDS_0] ${relative}`;
      const set = await admin<{ deviceKey: number }>("POST", "/imageport-fake/vm-disk", { vm, fileName, capacityBytes });
      return { fileName, deviceKey: set.deviceKey, capacityBytes, descriptorPath, flatPath: descriptorPath.replace(/\.vmdk$/, "-flat.vmdk") };
    },
    async seedDeltaDisk(vm, baseDiskPath, currentDiskPath, format) {
      const base = await handle.seedDisk(vm, baseDiskPath, format);
      const dir = join(ready!.datastoreDir, vm);
      const delta = "disk1-000001.vmdk";
      // Relative backing name, resolved next to the delta (as ESXi's parentFileNameHint).
      await run("qemu-img", ["convert", "-f", format, "-O", "vmdk", "-o", "subformat=twoGbMaxExtentSparse", "-B", "disk1.vmdk", "-F", "vmdk", currentDiskPath, delta], { cwd: dir });
      const fileName = `[LocalDS_0] ${vm}/${delta}`;
      await admin("POST", "/imageport-fake/vm-disk-parent", { vm, deviceKey: base.deviceKey, fileName, parentFileName: base.fileName });
      return { ...base, fileName, descriptorPath: join(dir, delta), parentFileName: base.fileName };
    },
    async setNfcExportFailure(failure) {
      await admin("POST", "/imageport-fake/nfc-export-failure", failure);
    },
    async enableChangeTracking(vm) {
      await admin("POST", "/imageport-fake/vm-change-tracking", { vm, enabled: true });
    },
    async setFolderDelay(ms) {
      await admin("POST", "/imageport-fake/folder-delay", { ms });
    },
    async setNfcDelay(ms) {
      await admin("POST", "/imageport-fake/nfc-delay", { ms });
    },
    async setNfcLeaseTimeout(seconds) {
      await admin("POST", "/imageport-fake/nfc-lease-timeout", { seconds });
    },
    async stop() {
      await server.stop();
      await fs.rm(tmp, { recursive: true, force: true });
    },
  };
  return handle;
}

/** The certificate our own child serves (trust on first use: nothing else listens on its port). */
function peerCertificate(host: string, port: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, rejectUnauthorized: false }, () => {
      const raw = socket.getPeerCertificate().raw;
      socket.end();
      resolve(raw);
    });
    socket.once("error", reject);
  });
}

/**
 * An HTTPS request to the fake that trusts exactly its certificate, whatever names it holds (a
 * test may serve one that is wrong for 127.0.0.1 on purpose).
 */
function pinnedRequest(host: string, port: number, certificate: X509Certificate, method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    // A connection of its own, judged as soon as its handshake is done and before the request goes.
    const req = request({ host, port, method, path, agent: false, rejectUnauthorized: false, headers: payload ? { "content-type": "application/json" } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      res.on("error", reject);
    });
    req.once("socket", (socket) =>
      (socket as TLSSocket).once("secureConnect", () => {
        const peer = (socket as TLSSocket).getPeerCertificate();
        if (peer.fingerprint256 !== certificate.fingerprint256) {
          req.destroy(new Error(`vcsim fake on ${host}:${port} presented another certificate (${peer.fingerprint256})`));
        }
      }),
    );
    req.once("error", reject);
    req.end(payload);
  });
}
