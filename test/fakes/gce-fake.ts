// A strict FAKE of the parts of Google Compute Engine (and its OAuth token endpoint) the GCP
// upload driver uses: there is no Compute emulator. It is a test double, not an emulator:
// - POST /token: the JWT bearer grant; the assertion must be RS256-signed by the test key,
//   iss = its client_email, aud = this endpoint, scope = cloud-platform, not expired.
// - /compute/v1/projects/{p}/global/images (insert, get, delete) and
//   /global/operations/{op} (get) and /{op}/wait, shaped as the Compute REST docs say; every call
//   needs a bearer token this fake issued. 409 alreadyExists on an existing name.
// - An insert's operation goes PENDING -> RUNNING -> DONE, one state per poll. On RUNNING the fake
//   reads rawDisk.source from fake-gcs-server and checks it as GCE's import does: a gzip'd tar
//   holding exactly one member, disk.raw, whose size is a whole number of GiB. A failed check
//   ends the operation with an error and leaves no image.

import { createPublicKey, createVerify, randomBytes, randomUUID } from "node:crypto";
import { createServer, IncomingMessage, Server, ServerResponse } from "node:http";
import { gunzipSync } from "node:zlib";

const GIB = 1024 ** 3;

export interface GceFakeOptions {
  /** fake-gcs-server's URL, where https://storage.googleapis.com/<bucket>/<object> is read. */
  gcsUrl: string;
  clientEmail: string;
  publicKeyPem: string;
  project: string;
}

export interface FakeImage {
  name: string;
  id: string;
  status: "PENDING" | "READY";
  description?: string;
  rawDisk: { source: string; containerType: string };
  storageLocations?: string[];
  labels?: Record<string, string>;
  diskSizeGb?: string;
  archiveSizeBytes?: string;
  /** What the fake found in the archive: disk.raw's size and its stored (non-hole) segments. */
  archive?: TarMember;
}

interface FakeOperation {
  name: string;
  operationType: "insert" | "delete";
  targetLink: string;
  status: "PENDING" | "RUNNING" | "DONE";
  /** Every status the operation was seen in by a poll, in order. */
  seen: string[];
  error?: { errors: Array<{ code: string; message: string }> };
  image?: string;
}

export interface TarMember {
  name: string;
  type: string;
  size: number;
  segments: Array<{ offset: number; length: number }>;
  storedBytes: number;
}

export interface RecordedCall {
  method: string;
  path: string;
  authorized: boolean;
}

export interface GceFake {
  url: string;
  tokenUrl: string;
  images: Map<string, FakeImage>;
  operations: Map<string, FakeOperation>;
  calls: RecordedCall[];
  tokensIssued: number;
  stop(): Promise<void>;
}

class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export async function startGceFake(options: GceFakeOptions): Promise<GceFake> {
  const publicKey = createPublicKey(options.publicKeyPem);
  const tokens = new Set<string>();
  const images = new Map<string, FakeImage>();
  const operations = new Map<string, FakeOperation>();
  const calls: RecordedCall[] = [];
  let base = "";
  const fake: GceFake = { url: "", tokenUrl: "", images, operations, calls, tokensIssued: 0, stop: async () => undefined };

  const token = (form: URLSearchParams): object => {
    if (form.get("grant_type") !== "urn:ietf:params:oauth:grant-type:jwt-bearer") throw new HttpProblem(400, "unsupported_grant_type", "grant_type must be the JWT bearer grant");
    const [h, c, sig] = (form.get("assertion") ?? "").split(".");
    if (!h || !c || !sig) throw new HttpProblem(400, "invalid_grant", "assertion is not a JWT");
    const header = JSON.parse(Buffer.from(h, "base64url").toString());
    const claims = JSON.parse(Buffer.from(c, "base64url").toString());
    if (header.alg !== "RS256") throw new HttpProblem(400, "invalid_grant", "alg must be RS256");
    if (!createVerify("RSA-SHA256").update(`${h}.${c}`).verify(publicKey, Buffer.from(sig, "base64url"))) {
      throw new HttpProblem(400, "invalid_grant", "Invalid JWT Signature.");
    }
    const now = Date.now() / 1000;
    if (claims.iss !== options.clientEmail) throw new HttpProblem(400, "invalid_grant", "Invalid issuer");
    if (claims.aud !== fake.tokenUrl) throw new HttpProblem(400, "invalid_grant", `Invalid JWT audience ${claims.aud}`);
    if (!String(claims.scope ?? "").split(" ").includes("https://www.googleapis.com/auth/cloud-platform")) throw new HttpProblem(400, "invalid_scope", "scope");
    if (!(claims.exp > now && claims.iat <= now + 60)) throw new HttpProblem(400, "invalid_grant", "Invalid JWT: Token must be a short-lived token");
    const access = `fake-gce-${randomBytes(12).toString("hex")}`;
    tokens.add(access);
    fake.tokensIssued++;
    return { access_token: access, expires_in: 3599, token_type: "Bearer" };
  };

  const check = async (op: FakeOperation): Promise<void> => {
    const image = images.get(op.image!)!;
    try {
      const member = await readArchive(options.gcsUrl, image.rawDisk.source);
      image.archive = member.member;
      image.archiveSizeBytes = String(member.objectSize);
      image.diskSizeGb = String(member.member.size / GIB);
      image.status = "READY";
    } catch (error) {
      images.delete(image.name);
      op.error = { errors: [{ code: error instanceof HttpProblem ? error.reason : "INVALID_IMAGE", message: (error as Error).message }] };
    }
  };

  const advance = async (op: FakeOperation): Promise<void> => {
    if (op.status === "PENDING") op.status = "RUNNING";
    else if (op.status === "RUNNING") {
      if (op.operationType === "insert") await check(op);
      op.status = "DONE";
    }
    op.seen.push(op.status);
  };

  const view = (op: FakeOperation) => ({
    kind: "compute#operation",
    id: op.name.replace(/\D/g, "").slice(0, 18) || "1",
    name: op.name,
    operationType: op.operationType,
    targetLink: op.targetLink,
    status: op.status,
    progress: op.status === "DONE" ? 100 : op.status === "RUNNING" ? 50 : 0,
    selfLink: `${base}/compute/v1/projects/${options.project}/global/operations/${op.name}`,
    ...(op.error ? { error: op.error } : {}),
  });

  const newOperation = (type: "insert" | "delete", image: string): FakeOperation => {
    const op: FakeOperation = {
      name: `operation-${Date.now()}-${randomUUID().slice(0, 8)}`,
      operationType: type,
      targetLink: `${base}/compute/v1/projects/${options.project}/global/images/${image}`,
      status: "PENDING",
      seen: ["PENDING"],
      image,
    };
    operations.set(op.name, op);
    return op;
  };

  const compute = async (method: string, parts: string[], body: any): Promise<object> => {
    // parts: projects/{p}/global/{images|operations}/...
    if (parts[0] !== "projects" || parts[2] !== "global") throw new HttpProblem(404, "notFound", "The requested URL was not found");
    const project = decodeURIComponent(parts[1] ?? "");
    if (project !== options.project) throw new HttpProblem(404, "notFound", `The resource 'projects/${project}' was not found`);
    const [collection, name, verb] = parts.slice(3).map(decodeURIComponent);
    if (collection === "images" && name === undefined && method === "POST") {
      if (!/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/.test(body?.name ?? "")) throw new HttpProblem(400, "invalid", "Invalid value for field 'resource.name'");
      if (images.has(body.name)) throw new HttpProblem(409, "alreadyExists", `The resource 'projects/${project}/global/images/${body.name}' already exists`);
      const source = body.rawDisk?.source;
      if (typeof source !== "string" || !source.startsWith("https://storage.googleapis.com/")) {
        throw new HttpProblem(400, "invalid", "Invalid value for field 'resource.rawDisk.source': must be a Cloud Storage URL");
      }
      if (body.rawDisk.containerType !== "TAR") throw new HttpProblem(400, "invalid", "Invalid value for field 'resource.rawDisk.containerType'");
      images.set(body.name, {
        name: body.name,
        id: String(BigInt("0x" + randomBytes(7).toString("hex"))),
        status: "PENDING",
        description: body.description,
        rawDisk: { source, containerType: "TAR" },
        ...(body.storageLocations ? { storageLocations: body.storageLocations } : {}),
        ...(body.labels ? { labels: body.labels } : {}),
      });
      return view(newOperation("insert", body.name));
    }
    if (collection === "images" && name !== undefined && verb === undefined) {
      const image = images.get(name);
      if (!image) throw new HttpProblem(404, "notFound", `The resource 'projects/${project}/global/images/${name}' was not found`);
      if (method === "GET") {
        const { archive: _, ...shown } = image;
        return { kind: "compute#image", ...shown, selfLink: `${base}/compute/v1/projects/${project}/global/images/${name}` };
      }
      if (method === "DELETE") {
        images.delete(name);
        return view(newOperation("delete", name));
      }
    }
    if (collection === "operations" && name !== undefined) {
      const op = operations.get(name);
      if (!op) throw new HttpProblem(404, "notFound", `The resource 'projects/${project}/global/operations/${name}' was not found`);
      if (method === "GET" && verb === undefined) {
        await advance(op);
        return view(op);
      }
      if (method === "POST" && verb === "wait") {
        // wait returns when DONE (or after a while): here one state per call, so a poller sees each.
        await advance(op);
        return view(op);
      }
    }
    throw new HttpProblem(404, "notFound", `No route for ${method} ${parts.join("/")}`);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> => {
    const url = new URL(req.url!, base);
    if (url.pathname === "/token" && req.method === "POST") {
      try {
        return send(res, 200, token(new URLSearchParams(body.toString())));
      } catch (error) {
        const p = error as HttpProblem;
        return send(res, p.status ?? 400, { error: p.reason ?? "invalid_request", error_description: p.message });
      }
    }
    const auth = String(req.headers.authorization ?? "");
    const authorized = auth.startsWith("Bearer ") && tokens.has(auth.slice(7));
    calls.push({ method: req.method!, path: url.pathname, authorized });
    try {
      if (!authorized) throw new HttpProblem(401, "required", "Request is missing required authentication credential. Expected OAuth 2 access token.");
      if (!url.pathname.startsWith("/compute/v1/")) throw new HttpProblem(404, "notFound", "The requested URL was not found");
      let json: unknown;
      if (body.length > 0) {
        try {
          json = JSON.parse(body.toString());
        } catch {
          throw new HttpProblem(400, "parseError", "This API does not support parsing form-encoded input.");
        }
      }
      send(res, 200, await compute(req.method!, url.pathname.slice("/compute/v1/".length).split("/"), json));
    } catch (error) {
      const p = error instanceof HttpProblem ? error : new HttpProblem(500, "backendError", String(error));
      send(res, p.status, { error: { code: p.status, message: p.message, errors: [{ domain: "global", reason: p.reason, message: p.message }] } });
    }
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => void handle(req, res, Buffer.concat(chunks)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  fake.url = base;
  fake.tokenUrl = `${base}/token`;
  fake.stop = async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  };
  return fake;
}

function send(res: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=UTF-8", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** Reads the object behind a storage.googleapis.com URL from fake-gcs-server and checks it as GCE does. */
async function readArchive(gcsUrl: string, source: string): Promise<{ member: TarMember; objectSize: number }> {
  const [bucket, ...rest] = new URL(source).pathname.slice(1).split("/");
  const object = rest.map(decodeURIComponent).join("/");
  const answer = await fetch(`${gcsUrl}/storage/v1/b/${bucket}/o/${encodeURIComponent(object)}?alt=media`);
  if (answer.status === 404) throw new HttpProblem(404, "RESOURCE_NOT_FOUND", `The resource '${source}' was not found`);
  if (!answer.ok) throw new HttpProblem(400, "INVALID_IMAGE", `reading ${source} failed with HTTP ${answer.status}`);
  const gz = Buffer.from(await answer.arrayBuffer());
  let tar: Buffer;
  try {
    tar = gunzipSync(gz);
  } catch {
    throw new HttpProblem(400, "INVALID_IMAGE", `${source} is not gzip-compressed`);
  }
  return { member: parseSingleMemberTar(tar), objectSize: gz.length };
}

/** The one member of a tar: disk.raw, a plain file or a GNU sparse file, size a whole number of GiB. */
export function parseSingleMemberTar(tar: Buffer): TarMember {
  const bad = (why: string) => new HttpProblem(400, "INVALID_IMAGE", `The image archive is not valid: ${why}`);
  const header = (at: number) => {
    if (at + 512 > tar.length) throw bad("it ends inside a header");
    return tar.subarray(at, at + 512);
  };
  const h = header(0);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  if (num(h, 148, 8) !== sum) throw bad("the first header's checksum is wrong");
  const name = h.subarray(0, 100).toString("latin1").replace(/\0.*$/s, "");
  const type = String.fromCharCode(h[156]!);
  if (name !== "disk.raw") throw bad(`its member is '${name}', not disk.raw`);
  let stored = num(h, 124, 12);
  let size = stored;
  let segments: Array<{ offset: number; length: number }> = [{ offset: 0, length: stored }];
  let at = 512;
  if (type === "S") {
    if (h.subarray(257, 265).toString("latin1") !== "ustar  \0") throw bad("a sparse member that is not in the oldgnu format");
    segments = entries(h, 386, 4);
    size = num(h, 483, 12);
    for (let extended = h[482] === 1; extended; ) {
      const x = header(at);
      segments.push(...entries(x, 0, 21));
      extended = x[504] === 1;
      at += 512;
    }
  } else if (type !== "0" && type !== "\0") {
    throw bad(`disk.raw has type '${type}', not a regular or sparse file`);
  }
  const storedBytes = segments.reduce((n, s) => n + s.length, 0);
  if (storedBytes !== stored) throw bad(`the sparse map holds ${storedBytes} bytes but the header says ${stored}`);
  let prev = 0;
  for (const s of segments) {
    if (s.offset < prev || s.offset + s.length > size) throw bad("the sparse map is out of order or past the file's size");
    prev = s.offset + s.length;
  }
  at += Math.ceil(stored / 512) * 512;
  if (at + 1024 > tar.length) throw bad("it ends before its end-of-archive blocks");
  if (tar.subarray(at).some((b) => b !== 0)) throw bad("it holds more than one member (only disk.raw is allowed)");
  if (size === 0 || size % GIB !== 0) throw new HttpProblem(400, "INVALID_IMAGE", `The disk.raw size ${size} is not a multiple of 1 GB`);
  return { name, type, size, segments: segments.filter((s) => s.length > 0), storedBytes };
}

function entries(block: Buffer, at: number, count: number): Array<{ offset: number; length: number }> {
  const out: Array<{ offset: number; length: number }> = [];
  for (let i = 0; i < count; i++) {
    const o = at + 24 * i;
    if (block[o] === 0) break;
    out.push({ offset: num(block, o, 12), length: num(block, o + 12, 12) });
  }
  return out;
}

/** A tar numeric field: octal, or GNU base-256 when the high bit is set. */
function num(b: Buffer, at: number, width: number): number {
  if (b[at]! & 0x80) {
    let v = 0n;
    for (let i = at + 1; i < at + width; i++) v = (v << 8n) | BigInt(b[i]!);
    return Number(v);
  }
  const text = b.subarray(at, at + width).toString("latin1").replace(/[\0 ].*$/s, "").trim();
  return text ? parseInt(text, 8) : 0;
}
