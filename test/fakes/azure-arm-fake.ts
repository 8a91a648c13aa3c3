// A FAKE of the Azure control plane for the managed-disk direct upload, for tests only: an
// Entra ID token endpoint, the ARM resources the engine uses (resource groups, disks, images,
// snapshots, beginGetAccess / endGetAccess, async operations) and a front for the disks' page blobs,
// which live in a real Azurite. As strict as Azure's documentation where it matters to the
// engine: disk states ReadyToUpload -> ActiveUpload -> Unattached with 409 on a wrong state,
// the uploadSizeBytes rule (N MiB + 512, 20 MiB + 512 .. 32 TiB + 512), long-running
// operations polled through Azure-AsyncOperation, a SAS valid only while access is granted,
// Put Page of at most 4 MiB (Azurite accepts 5), a token endpoint that checks the secret.
// It runs in the test process on 127.0.0.1 (two ephemeral ports).

import { createHash, randomBytes } from "node:crypto";
import { createServer, IncomingMessage, request as httpRequest, Server, ServerResponse } from "node:http";
import { BlobSASPermissions, generateBlobSASQueryParameters } from "@azure/storage-blob";
import { Azurite, AZURITE_ACCOUNT } from "../helpers/azurite";

const MIB = 1024 * 1024;
export const MIN_UPLOAD_BYTES = 20 * MIB + 512;
export const MAX_UPLOAD_BYTES = 32 * 1024 * 1024 * MIB + 512;
export const MAX_PUT_PAGE = 4 * MIB;
const NAME = /^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,78}[A-Za-z0-9_])?$/;

export interface ArmFakeOptions {
  azurite: Azurite;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  subscriptionId: string;
  /** Resource group name -> location. */
  resourceGroups: Record<string, string>;
  locations?: string[];
  /** Polls an async operation answers InProgress before it ends (default 1). */
  pollsBeforeDone?: number;
  /**
   * The write SAS names Azurite itself instead of the blob front, so Put Page goes straight to
   * the emulator (no SAS or size checks, nothing in `puts`): for benchmarks, which would
   * otherwise measure the front's buffering too. Default false.
   */
  directBlobs?: boolean;
}

export interface FakeDisk {
  id: string;
  name: string;
  location: string;
  tags: Record<string, string>;
  osType?: string;
  hyperVGeneration?: string;
  uploadSizeBytes: number;
  provisioningState: "Updating" | "Succeeded" | "Deleting";
  diskState: "ReadyToUpload" | "ActiveUpload" | "Unattached";
  container: string;
  blob: string;
  /** The signature of the SAS currently granted, if any. */
  activeSig?: string;
  /** Every Put Page accepted for this disk: offset and length. */
  puts: Array<{ offset: number; length: number }>;
}

export interface FakeImage {
  id: string;
  name: string;
  location: string;
  tags: Record<string, string>;
  provisioningState: "Creating" | "Succeeded" | "Deleting";
  sourceDiskId: string;
  osType: string;
  osState: string;
  hyperVGeneration?: string;
}

export interface FakeSnapshot {
  id: string;
  name: string;
  location: string;
  tags: Record<string, string>;
  provisioningState: "Creating" | "Succeeded" | "Deleting";
  sourceDiskId: string;
  incremental: boolean;
  diskSizeBytes: number;
  /** sha256 of the disk's content (the page blob without its VHD footer) when the copy was made. */
  sha256: string;
}

export interface ArmFake {
  /** Token endpoint and ARM (what IMAGEPORT_AZURE_AUTHORITY_HOST and _ARM_ENDPOINT point at). */
  url: string;
  /** The blob front the SAS URLs name. */
  blobUrl: string;
  disks: Map<string, FakeDisk>;
  images: Map<string, FakeImage>;
  snapshots: Map<string, FakeSnapshot>;
  /** Every ARM request: method, path without query, status answered. */
  requests: Array<{ method: string; path: string; status: number }>;
  /** Every Put Page the blob front refused, with the reason. */
  refusedPuts: Array<{ status: number; code: string }>;
  /** Delay before each Put Page is passed on (to let a test cancel mid-upload). */
  pageDelayMs: number;
  disk(name: string): FakeDisk | undefined;
  stop(): Promise<void>;
}

class ArmError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface Operation {
  polls: number;
  done?: { output?: unknown; error?: ArmError };
  finish(): { output?: unknown } | void | Promise<void>;
}

export async function startArmFake(options: ArmFakeOptions): Promise<ArmFake> {
  const locations = new Set(options.locations ?? ["eastus", "westeurope", ...Object.values(options.resourceGroups)]);
  const groups = new Map(Object.entries(options.resourceGroups).map(([name, location]) => [name.toLowerCase(), { name, location }]));
  const tokens = new Map<string, number>(); // token -> expiry
  const operations = new Map<string, Operation>();
  const disks = new Map<string, FakeDisk>();
  const images = new Map<string, FakeImage>();
  const snapshots = new Map<string, FakeSnapshot>();
  const requests: ArmFake["requests"] = [];
  const refusedPuts: ArmFake["refusedPuts"] = [];
  const pollsBeforeDone = options.pollsBeforeDone ?? 1;
  const service = options.azurite.service;
  let url = "";
  let blobUrl = "";
  const fake = { pageDelayMs: 0 };

  const startOperation = (location: string, finish: Operation["finish"]): string => {
    const id = randomBytes(8).toString("hex");
    operations.set(id, { polls: 0, finish });
    return `${url}/subscriptions/${options.subscriptionId}/providers/Microsoft.Compute/locations/${location}/operations/${id}?api-version=2024-03-02`;
  };

  const diskView = (d: FakeDisk) => ({
    id: d.id,
    name: d.name,
    type: "Microsoft.Compute/disks",
    location: d.location,
    tags: d.tags,
    sku: { name: "Standard_LRS" },
    properties: {
      osType: d.osType,
      hyperVGeneration: d.hyperVGeneration,
      creationData: { createOption: "Upload", uploadSizeBytes: d.uploadSizeBytes },
      diskSizeBytes: d.uploadSizeBytes - 512,
      diskSizeGB: Math.ceil((d.uploadSizeBytes - 512) / (1024 * MIB)),
      provisioningState: d.provisioningState,
      diskState: d.diskState,
    },
  });
  const imageView = (i: FakeImage) => ({
    id: i.id,
    name: i.name,
    type: "Microsoft.Compute/images",
    location: i.location,
    tags: i.tags,
    properties: {
      hyperVGeneration: i.hyperVGeneration,
      storageProfile: { osDisk: { osType: i.osType, osState: i.osState, managedDisk: { id: i.sourceDiskId } } },
      provisioningState: i.provisioningState,
    },
  });

  const snapshotView = (n: FakeSnapshot) => ({
    id: n.id,
    name: n.name,
    type: "Microsoft.Compute/snapshots",
    location: n.location,
    tags: n.tags,
    sku: { name: "Standard_LRS" },
    properties: {
      creationData: { createOption: "Copy", sourceResourceId: n.sourceDiskId },
      incremental: n.incremental,
      diskSizeBytes: n.diskSizeBytes,
      diskSizeGB: Math.ceil(n.diskSizeBytes / (1024 * MIB)),
      provisioningState: n.provisioningState,
    },
  });

  // ---- Entra ID: POST /{tenant}/oauth2/v2.0/token (client credentials) ----
  const token = (tenant: string, form: URLSearchParams): { status: number; body: object } => {
    const fail = (status: number, error: string, description: string) => ({ status, body: { error, error_description: description } });
    if (tenant !== options.tenantId) return fail(400, "invalid_tenant", `AADSTS90002: Tenant '${tenant}' not found.`);
    if (form.get("grant_type") !== "client_credentials") return fail(400, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type.");
    if (!(form.get("scope") ?? "").endsWith("/.default")) return fail(400, "invalid_scope", "AADSTS1002012: The provided value for scope is not valid; client credentials need <resource>/.default.");
    if (form.get("client_id") !== options.clientId) return fail(400, "unauthorized_client", `AADSTS700016: Application with identifier '${form.get("client_id")}' was not found in the directory.`);
    if (form.get("client_secret") !== options.clientSecret) return fail(401, "invalid_client", "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.");
    const access = randomBytes(24).toString("hex");
    tokens.set(access, Date.now() + 3600_000);
    return { status: 200, body: { token_type: "Bearer", expires_in: 3599, ext_expires_in: 3599, access_token: access } };
  };

  // ---- ARM ----
  const arm = async (method: string, path: string, query: URLSearchParams, body: any, res: ServerResponse): Promise<void> => {
    const send = (status: number, json?: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { ...(json !== undefined ? { "content-type": "application/json" } : {}), ...headers });
      res.end(json !== undefined ? JSON.stringify(json) : undefined);
    };
    if (!query.get("api-version")) throw new ArmError(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.");

    const op = /^\/subscriptions\/[^/]+\/providers\/Microsoft\.Compute\/locations\/[^/]+\/operations\/([0-9a-f]+)$/i.exec(path);
    if (op) {
      const operation = operations.get(op[1]!);
      if (!operation || method !== "GET") throw new ArmError(404, "NotFound", "The operation was not found.");
      if (!operation.done && operation.polls++ < pollsBeforeDone) return send(200, { status: "InProgress" });
      if (!operation.done) {
        try {
          const result = await operation.finish();
          operation.done = { output: result ? result.output : undefined };
        } catch (error) {
          operation.done = { error: error instanceof ArmError ? error : new ArmError(500, "InternalServerError", String(error)) };
        }
      }
      if (operation.done.error) return send(200, { status: "Failed", error: { code: operation.done.error.code, message: operation.done.error.message } });
      return send(200, { status: "Succeeded", ...(operation.done.output !== undefined ? { properties: { output: operation.done.output } } : {}) });
    }

    const m = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)(?:\/providers\/Microsoft\.Compute\/(disks|images|snapshots)\/([^/]+)(?:\/(beginGetAccess|endGetAccess))?)?$/i.exec(path);
    if (!m) throw new ArmError(404, "InvalidResourceType", `The fake knows no resource at ${path}.`);
    const [, subscription, groupName, type, rawName, action] = m;
    if (subscription !== options.subscriptionId) throw new ArmError(404, "SubscriptionNotFound", `The subscription '${subscription}' could not be found.`);
    const group = groups.get(decodeURIComponent(groupName!).toLowerCase());
    if (!group) throw new ArmError(404, "ResourceGroupNotFound", `Resource group '${decodeURIComponent(groupName!)}' could not be found.`);
    if (!type) {
      if (method !== "GET") throw new ArmError(405, "MethodNotAllowed", "The fake serves GET on resource groups only.");
      return send(200, { id: `/subscriptions/${subscription}/resourceGroups/${group.name}`, name: group.name, location: group.location, properties: { provisioningState: "Succeeded" } });
    }
    const name = decodeURIComponent(rawName!);
    const id = `/subscriptions/${subscription}/resourceGroups/${group.name}/providers/Microsoft.Compute/${type.toLowerCase()}/${name}`;
    const key = id.toLowerCase();

    if (type.toLowerCase() === "disks") {
      const disk = disks.get(key);
      if (action) {
        if (method !== "POST") throw new ArmError(405, "MethodNotAllowed", `${action} takes POST.`);
        if (!disk) throw new ArmError(404, "ResourceNotFound", `The Resource 'Microsoft.Compute/disks/${name}' under resource group '${group.name}' was not found.`);
        if (disk.provisioningState !== "Succeeded") throw new ArmError(409, "OperationNotAllowed", `Disk '${name}' is being ${disk.provisioningState === "Deleting" ? "deleted" : "updated"}; ${action} is not allowed now.`);
        if (action.toLowerCase() === "begingetaccess") {
          if (body?.access !== "Write") throw new ArmError(409, "OperationNotAllowed", `Disk '${name}' was created for upload: only Write access can be granted in state ${disk.diskState}.`);
          if (!Number.isInteger(body?.durationInSeconds) || body.durationInSeconds <= 0) throw new ArmError(400, "InvalidParameter", "durationInSeconds must be a positive integer.");
          if (disk.diskState !== "ReadyToUpload") throw new ArmError(409, "OperationNotAllowed", `Disk '${name}' is in state ${disk.diskState}; Write access needs ReadyToUpload.`);
          const location = startOperation(disk.location, () => {
            const sas = generateBlobSASQueryParameters(
              { containerName: disk.container, blobName: disk.blob, permissions: BlobSASPermissions.parse("rw"), expiresOn: new Date(Date.now() + body.durationInSeconds * 1000) },
              options.azurite.credential,
            );
            disk.activeSig = sas.signature;
            disk.diskState = "ActiveUpload";
            const host = options.directBlobs ? options.azurite.url : blobUrl;
            return { output: { accessSAS: `${host}/${AZURITE_ACCOUNT}/${disk.container}/${disk.blob}?${sas.toString()}` } };
          });
          return send(202, undefined, { "azure-asyncoperation": location, location, "retry-after": "0" });
        }
        // endGetAccess: the SAS stops working at once; the disk is Unattached when the operation ends.
        if (disk.diskState === "ReadyToUpload") throw new ArmError(409, "OperationNotAllowed", `Disk '${name}' is in state ReadyToUpload: no access was granted to revoke.`);
        delete disk.activeSig;
        const location = startOperation(disk.location, () => {
          disk.diskState = "Unattached";
        });
        return send(202, undefined, { "azure-asyncoperation": location, location, "retry-after": "0" });
      }
      if (method === "GET") {
        if (!disk) throw new ArmError(404, "ResourceNotFound", `The Resource 'Microsoft.Compute/disks/${name}' under resource group '${group.name}' was not found.`);
        return send(200, diskView(disk));
      }
      if (method === "DELETE") {
        if (!disk) return send(204);
        if (disk.diskState === "ActiveUpload") throw new ArmError(409, "OperationNotAllowed", `Disk '${name}' is in state ActiveUpload; revoke its access (endGetAccess) before deleting it.`);
        disk.provisioningState = "Deleting";
        const location = startOperation(disk.location, async () => {
          disks.delete(key);
          await service.getContainerClient(disk.container).deleteIfExists();
        });
        return send(202, undefined, { "azure-asyncoperation": location, location, "retry-after": "0" });
      }
      if (method === "PUT") {
        if (!NAME.test(name)) throw new ArmError(400, "InvalidResourceName", `The disk name '${name}' is not valid.`);
        if (disk) throw new ArmError(409, "PropertyChangeNotAllowed", `Disk '${name}' already exists; changing property 'creationData' is not allowed.`);
        const location = body?.location;
        if (typeof location !== "string" || !locations.has(location)) throw new ArmError(400, "LocationNotAvailableForResourceType", `The location '${location}' is not available for resource type 'Microsoft.Compute/disks'.`);
        const creation = body?.properties?.creationData;
        if (creation?.createOption !== "Upload") throw new ArmError(400, "InvalidParameter", "The fake creates disks with creationData.createOption Upload only.");
        const size = creation.uploadSizeBytes;
        if (!Number.isInteger(size) || size < MIN_UPLOAD_BYTES || size > MAX_UPLOAD_BYTES || (size - 512) % MIB !== 0) {
          throw new ArmError(400, "InvalidParameter", `uploadSizeBytes ${size} is not valid: it must be the VHD file's size, a whole number of MiB plus the 512-byte footer, from ${MIN_UPLOAD_BYTES} to ${MAX_UPLOAD_BYTES}.`);
        }
        const osType = body.properties.osType;
        if (osType !== undefined && osType !== "Windows" && osType !== "Linux") throw new ArmError(400, "InvalidParameter", `osType '${osType}' is not valid.`);
        const gen = body.properties.hyperVGeneration;
        if (gen !== undefined && gen !== "V1" && gen !== "V2") throw new ArmError(400, "InvalidParameter", `hyperVGeneration '${gen}' is not valid.`);
        const container = `md-${randomBytes(6).toString("hex")}`;
        await service.getContainerClient(container).create();
        await service.getContainerClient(container).getPageBlobClient("abcd").create(size);
        const created: FakeDisk = {
          id,
          name,
          location,
          tags: body.tags ?? {},
          ...(osType ? { osType } : {}),
          ...(gen ? { hyperVGeneration: gen } : {}),
          uploadSizeBytes: size,
          provisioningState: "Updating",
          diskState: "ReadyToUpload",
          container,
          blob: "abcd",
          puts: [],
        };
        disks.set(key, created);
        const op = startOperation(location, () => {
          created.provisioningState = "Succeeded";
        });
        return send(201, diskView(created), { "azure-asyncoperation": op });
      }
      throw new ArmError(405, "MethodNotAllowed", `${method} is not served on disks.`);
    }

    if (type.toLowerCase() === "snapshots") {
      if (action) throw new ArmError(404, "InvalidResourceType", `The fake serves no ${action} on snapshots.`);
      return snapshot(method, name, group.name, key, id, body, send);
    }

    // images
    const image = images.get(key);
    if (method === "GET" || method === "DELETE") return getOrDelete(method, "images", images, key, name, group.name, imageView, send);
    if (method === "PUT") {
      if (!NAME.test(name)) throw new ArmError(400, "InvalidResourceName", `The image name '${name}' is not valid.`);
      if (image) throw new ArmError(409, "Conflict", `Image '${name}' already exists.`);
      const location = body?.location;
      if (typeof location !== "string" || !locations.has(location)) throw new ArmError(400, "LocationNotAvailableForResourceType", `The location '${location}' is not available for resource type 'Microsoft.Compute/images'.`);
      const osDisk = body?.properties?.storageProfile?.osDisk;
      if (osDisk?.osType !== "Windows" && osDisk?.osType !== "Linux") throw new ArmError(400, "InvalidParameter", "storageProfile.osDisk.osType is required (Windows or Linux).");
      if (osDisk.osState !== "Generalized" && osDisk.osState !== "Specialized") throw new ArmError(400, "InvalidParameter", "storageProfile.osDisk.osState is required (Generalized or Specialized).");
      const source = disks.get(String(osDisk.managedDisk?.id ?? "").toLowerCase());
      if (!source) throw new ArmError(404, "NotFound", `The source disk '${osDisk.managedDisk?.id}' was not found.`);
      if (source.diskState !== "Unattached" || source.provisioningState !== "Succeeded") {
        throw new ArmError(409, "OperationNotAllowed", `Disk '${source.name}' is in state ${source.diskState}; an image can be made only from a disk whose upload ended (Unattached).`);
      }
      if (source.location !== location) throw new ArmError(400, "InvalidParameter", `The source disk is in ${source.location}, the image in ${location}; they must be in the same location.`);
      const gen = body.properties.hyperVGeneration;
      if (gen !== undefined && source.hyperVGeneration !== undefined && gen !== source.hyperVGeneration) {
        throw new ArmError(400, "InvalidParameter", `The image's hyperVGeneration ${gen} differs from the source disk's ${source.hyperVGeneration}.`);
      }
      const created: FakeImage = {
        id,
        name,
        location,
        tags: body.tags ?? {},
        provisioningState: "Creating",
        sourceDiskId: source.id,
        osType: osDisk.osType,
        osState: osDisk.osState,
        ...(gen ? { hyperVGeneration: gen } : {}),
      };
      images.set(key, created);
      const op = startOperation(location, () => {
        created.provisioningState = "Succeeded";
      });
      return send(201, imageView(created), { "azure-asyncoperation": op });
    }
    throw new ArmError(405, "MethodNotAllowed", `${method} is not served on images.`);
  };

  type Send = (status: number, json?: unknown, headers?: Record<string, string>) => void;
  /** GET (404 when missing) and DELETE (204 when missing, else a long-running operation) of an image or snapshot. */
  const getOrDelete = <T extends { location: string; provisioningState: string }>(
    method: "GET" | "DELETE",
    type: string,
    map: Map<string, T>,
    key: string,
    name: string,
    groupName: string,
    view: (resource: T) => object,
    send: Send,
  ) => {
    const found = map.get(key);
    if (method === "GET") {
      if (!found) throw new ArmError(404, "ResourceNotFound", `The Resource 'Microsoft.Compute/${type}/${name}' under resource group '${groupName}' was not found.`);
      return send(200, view(found));
    }
    if (!found) return send(204);
    found.provisioningState = "Deleting";
    const location = startOperation(found.location, () => {
      map.delete(key);
    });
    return send(202, undefined, { "azure-asyncoperation": location, location, "retry-after": "0" });
  };

  /** Snapshots: PUT (createOption Copy of a disk whose upload ended, same location), GET, DELETE. */
  const snapshot = async (method: string, name: string, groupName: string, key: string, id: string, body: any, send: Send) => {
    const found = snapshots.get(key);
    if (method === "GET" || method === "DELETE") return getOrDelete(method, "snapshots", snapshots, key, name, groupName, snapshotView, send);
    if (method !== "PUT") throw new ArmError(405, "MethodNotAllowed", `${method} is not served on snapshots.`);
    if (!NAME.test(name)) throw new ArmError(400, "InvalidResourceName", `The snapshot name '${name}' is not valid.`);
    if (found) throw new ArmError(409, "PropertyChangeNotAllowed", `Snapshot '${name}' already exists; changing property 'creationData' is not allowed.`);
    const location = body?.location;
    if (typeof location !== "string" || !locations.has(location)) throw new ArmError(400, "LocationNotAvailableForResourceType", `The location '${location}' is not available for resource type 'Microsoft.Compute/snapshots'.`);
    const creation = body?.properties?.creationData;
    if (creation?.createOption !== "Copy") throw new ArmError(400, "InvalidParameter", "The fake creates snapshots with creationData.createOption Copy only.");
    const source = disks.get(String(creation.sourceResourceId ?? "").toLowerCase());
    if (!source) throw new ArmError(404, "NotFound", `The source resource '${creation.sourceResourceId}' was not found.`);
    if (source.diskState !== "Unattached" || source.provisioningState !== "Succeeded") {
      throw new ArmError(409, "OperationNotAllowed", `Disk '${source.name}' is in state ${source.diskState}; a snapshot can be made only of a disk whose upload ended.`);
    }
    if (source.location !== location) throw new ArmError(400, "InvalidParameter", `The source disk is in ${source.location}, the snapshot in ${location}; they must be in the same location.`);
    const diskSizeBytes = source.uploadSizeBytes - 512;
    const content = await service.getContainerClient(source.container).getPageBlobClient(source.blob).downloadToBuffer(0, diskSizeBytes);
    const created: FakeSnapshot = {
      id,
      name,
      location,
      tags: body.tags ?? {},
      provisioningState: "Creating",
      sourceDiskId: source.id,
      incremental: body.properties.incremental === true,
      diskSizeBytes,
      sha256: createHash("sha256").update(content).digest("hex"),
    };
    snapshots.set(key, created);
    const op = startOperation(location, () => {
      created.provisioningState = "Succeeded";
    });
    return send(201, snapshotView(created), { "azure-asyncoperation": op });
  };

  const armServer = createServer((req, res) => {
    void readBody(req).then(async (raw) => {
      const u = new URL(req.url!, "http://fake");
      const record = (status: number) => requests.push({ method: req.method!, path: u.pathname, status });
      try {
        const tokenPath = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(u.pathname);
        if (tokenPath) {
          if (req.method !== "POST" || !String(req.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded")) {
            throw new ArmError(400, "invalid_request", "AADSTS900144: The token request must be a form POST.");
          }
          const answer = token(decodeURIComponent(tokenPath[1]!), new URLSearchParams(raw.toString()));
          record(answer.status);
          res.writeHead(answer.status, { "content-type": "application/json" });
          return res.end(JSON.stringify(answer.body));
        }
        const bearer = /^Bearer (\S+)$/.exec(String(req.headers.authorization ?? ""))?.[1];
        const until = bearer ? tokens.get(bearer) : undefined;
        if (!until || until < Date.now()) throw new ArmError(401, "InvalidAuthenticationToken", "The access token is missing, invalid or expired.");
        let body: unknown;
        if (raw.length > 0) {
          try {
            body = JSON.parse(raw.toString());
          } catch {
            throw new ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized.");
          }
        }
        await arm(req.method!, u.pathname, u.searchParams, body, res);
        record(res.statusCode);
      } catch (error) {
        const e = error instanceof ArmError ? error : new ArmError(500, "InternalServerError", String(error));
        record(e.status);
        if (!res.headersSent) {
          res.writeHead(e.status, { "content-type": "application/json" });
          res.end(JSON.stringify({ error: { code: e.code, message: e.message } }));
        }
      }
    });
  });

  // ---- The disks' blob front: checks the SAS is the one granted and Put Page's limits, then passes to Azurite ----
  const azuritePort = Number(new URL(options.azurite.url).port);
  const blobServer = createServer((req, res) => {
    void readBody(req).then(async (raw) => {
      const u = new URL(req.url!, "http://fake");
      const refuse = (status: number, code: string, message: string) => {
        refusedPuts.push({ status, code });
        res.writeHead(status, { "x-ms-error-code": code, "content-type": "application/xml" });
        res.end(`<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`);
      };
      const sig = u.searchParams.get("sig");
      const disk = sig ? [...disks.values()].find((d) => d.activeSig === sig) : undefined;
      if (!disk || u.pathname !== `/${AZURITE_ACCOUNT}/${disk.container}/${disk.blob}`) {
        return refuse(403, "AuthenticationFailed", "Server failed to authenticate the request: the SAS is not (or no longer) granted for this blob.");
      }
      if (u.searchParams.get("comp") === "page" && req.method === "PUT") {
        const range = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers["x-ms-range"] ?? req.headers.range ?? ""));
        if (!range) return refuse(400, "InvalidHeaderValue", "Put Page needs x-ms-range.");
        const start = Number(range[1]);
        const length = Number(range[2]) - start + 1;
        if (length > MAX_PUT_PAGE || raw.length > MAX_PUT_PAGE) return refuse(413, "RequestBodyTooLarge", "The request body is too large and exceeds the maximum permissible limit (4 MiB).");
        if (start % 512 !== 0 || length % 512 !== 0) return refuse(416, "InvalidPageRange", "The page range specified is invalid: not 512-byte aligned.");
        if (start + length > disk.uploadSizeBytes) return refuse(416, "InvalidPageRange", "The page range is beyond the blob's end.");
        if (String(req.headers["x-ms-page-write"]) === "update") disk.puts.push({ offset: start, length });
        if (fake.pageDelayMs > 0) await new Promise((r) => setTimeout(r, fake.pageDelayMs));
      }
      const upstream = httpRequest({ host: "127.0.0.1", port: azuritePort, method: req.method, path: req.url, headers: { ...req.headers, host: `127.0.0.1:${azuritePort}` } }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on("error", (err) => {
        res.writeHead(502);
        res.end(String(err));
      });
      upstream.end(raw);
    });
  });

  const listen = (server: Server) => new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)));
  url = `http://127.0.0.1:${await listen(armServer)}`;
  blobUrl = `http://127.0.0.1:${await listen(blobServer)}`;

  return {
    url,
    blobUrl,
    disks,
    images,
    snapshots,
    requests,
    refusedPuts,
    get pageDelayMs() {
      return fake.pageDelayMs;
    },
    set pageDelayMs(ms: number) {
      fake.pageDelayMs = ms;
    },
    disk: (name) => [...disks.values()].find((d) => d.name === name),
    async stop() {
      for (const server of [armServer, blobServer]) {
        server.closeAllConnections();
        await new Promise((r) => server.close(r));
      }
    },
  };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}
