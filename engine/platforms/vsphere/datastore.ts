// Datastore files over HTTPS (`/folder/<path>?dcPath=<datacenter>&dsName=<datastore>`), with the
// SOAP session's cookie, as vCenter serves them: ranged GETs of a disk's extent files and small
// whole-file reads of VMDK descriptors.

import { jobFailure } from "../../errors";
import { SoapTransport } from "./soap";

/** "[LocalDS_0] vm1/disk1.vmdk" split into the datastore name and the path inside it. */
export interface DatastorePath {
  datastore: string;
  path: string;
}

export function parseDatastorePath(fileName: string): DatastorePath | undefined {
  const m = /^\[([^\]]+)\]\s*(.+)$/.exec(fileName.trim());
  return m ? { datastore: m[1]!, path: m[2]! } : undefined;
}

export function formatDatastorePath(p: DatastorePath): string {
  return `[${p.datastore}] ${p.path}`;
}

/** A sibling file in the same datastore folder ("disk1-flat.vmdk" next to "vm/disk1.vmdk"). */
export function siblingPath(of: DatastorePath, name: string): DatastorePath {
  const dir = of.path.includes("/") ? of.path.slice(0, of.path.lastIndexOf("/") + 1) : "";
  return { datastore: of.datastore, path: dir + name };
}

export class DatastoreFiles {
  constructor(
    private readonly transport: SoapTransport,
    private readonly datacenterPath: string,
    private readonly where: string,
  ) {}

  private url(file: DatastorePath): string {
    const path = file.path.split("/").map(encodeURIComponent).join("/");
    return `/folder/${path}?dcPath=${encodeURIComponent(this.datacenterPath)}&dsName=${encodeURIComponent(file.datastore)}`;
  }

  /** A whole small file (a descriptor), at most `limit` bytes. */
  async readSmall(file: DatastorePath, limit: number, signal: AbortSignal): Promise<Buffer> {
    return this.get(file, { range: `bytes=0-${limit - 1}` }, signal);
  }

  /** Exactly `length` bytes at `offset` of `file`; a short answer is an error, never silently padded. */
  async readRange(file: DatastorePath, offset: number, length: number, signal: AbortSignal): Promise<Buffer> {
    const data = await this.get(file, { range: `bytes=${offset}-${offset + length - 1}` }, signal);
    if (data.length !== length) {
      throw jobFailure(
        "SOURCE_DISK_UNREADABLE",
        `vCenter ${this.where} returned ${data.length} bytes of ${formatDatastorePath(file)} at offset ${offset} where ${length} were asked for: ` +
          `the file is shorter than its descriptor says. Check the disk in the datastore browser.`,
      );
    }
    return data;
  }

  private async get(file: DatastorePath, headers: Record<string, string>, signal: AbortSignal): Promise<Buffer> {
    const cookie = this.transport.sessionCookie;
    const answer = await this.transport.http.get(this.url(file), {
      headers: { ...headers, ...(cookie ? { cookie } : {}) },
      responseType: "arraybuffer",
      signal,
    });
    if (answer.status === 206 || answer.status === 200) {
      // axios hands Node a Buffer already: no copy.
      return Buffer.isBuffer(answer.data) ? answer.data : Buffer.from(answer.data as ArrayBuffer);
    }
    const name = formatDatastorePath(file);
    if (answer.status === 404) {
      throw jobFailure("SOURCE_DISK_NOT_FOUND", `The datastore file ${name} does not exist on vCenter ${this.where}. Check the VM's disk in the vSphere client.`);
    }
    if (answer.status === 401 || answer.status === 403) {
      throw jobFailure(
        "PLATFORM_ACCESS_DENIED",
        `vCenter ${this.where} refused to read ${name} (HTTP ${answer.status}): the account of vsphereCredentialId needs the Datastore.Browse privilege on the datastore.`,
      );
    }
    if (answer.status === 416) {
      throw jobFailure("SOURCE_DISK_UNREADABLE", `vCenter ${this.where} refused a range of ${name} (HTTP 416): the file is shorter than its descriptor says.`);
    }
    throw jobFailure("PLATFORM_REQUEST_FAILED", `vCenter ${this.where} answered HTTP ${answer.status} to a read of ${name}.`);
  }
}
