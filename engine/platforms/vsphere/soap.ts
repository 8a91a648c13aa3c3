// vSphere Web Services (vim25) over SOAP, without WSDL compilation: a request is a plain object
// turned into XML by fast-xml-parser's builder, a response is parsed namespace-agnostic (element
// prefixes dropped; the xsi:type attribute kept as `xsiType`, whatever prefix the server used).
// One session per client: the `vmware_soap_session` cookie from Login goes with every call.

import axios, { AxiosInstance } from "axios";
import * as https from "node:https";
import { XMLBuilder, XMLParser } from "fast-xml-parser";

/** A managed object reference: `{ type: "VirtualMachine", value: "vm-42" }`. */
export interface MoRef {
  type: string;
  value: string;
}

/** A parsed XML element: attributes under `@_name`, text under `#text`, xsi:type as `xsiType`. */
export type XmlNode = Record<string, unknown>;

/** A SOAP fault vSphere answered with: `name` is the fault type (InvalidLogin, NoPermission, ...). */
export class SoapFault extends Error {
  override readonly name = "SoapFault";
  constructor(
    readonly faultName: string,
    message: string,
    readonly detail: XmlNode,
  ) {
    super(message);
  }
}

/** Elements that are arrays in the vim25 schema, so one element still parses as an array. */
const ARRAYS = new Set([
  "returnval",
  "objects",
  "propSet",
  "device",
  "changedArea",
  "rootSnapshotList",
  "childSnapshotList",
  "privAvailability",
  "privileges",
  "missingSet",
  "ManagedObjectReference",
  "deviceUrl",
  "string",
]);

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  // Numeric character references too (`&#xA;`: vcsim writes a newline in an annotation so).
  htmlEntities: true,
  transformTagName: (name) => name.replace(/^[^:]*:/, ""),
  isArray: (name) => ARRAYS.has(name),
  updateTag: (_name, _path, attrs: Record<string, string>) => {
    // xsi:type arrives as `xsi:type`, `XMLSchema-instance:type`, ... : keep one name for it.
    for (const key of Object.keys(attrs ?? {})) {
      if (key.endsWith(":type")) {
        attrs["@_xsiType"] = attrs[key]!;
        delete attrs[key];
      }
    }
    return true;
  },
});

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: "@_", suppressEmptyNode: false });

export function moRefXml(ref: MoRef): XmlNode {
  return { "@_type": ref.type, "#text": ref.value };
}

/** A MoRef from a parsed element (`<obj type="VirtualMachine">vm-42</obj>`). */
export function toMoRef(node: unknown): MoRef {
  const n = node as XmlNode;
  return { type: String(n["@_type"] ?? n["@_xsiType"] ?? ""), value: String(n["#text"] ?? "") };
}

export function text(node: unknown): string | undefined {
  if (node === undefined || node === null) return undefined;
  if (typeof node === "object") {
    const t = (node as XmlNode)["#text"];
    return t === undefined ? undefined : String(t);
  }
  return String(node);
}

export function asArray<T>(value: T | T[] | undefined): T[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

export interface SoapTransportOptions {
  /** https://host:port */
  origin: string;
  agent: https.Agent;
  /** Per-call deadline. */
  timeoutMs: number;
}

export class SoapTransport {
  readonly http: AxiosInstance;
  private cookie: string | undefined;

  constructor(readonly options: SoapTransportOptions) {
    this.http = axios.create({
      baseURL: options.origin,
      httpsAgent: options.agent,
      timeout: options.timeoutMs,
      validateStatus: () => true,
      maxRedirects: 0,
      // Bodies are ours to read (SOAP text, datastore bytes); no proxy from the environment.
      proxy: false,
    });
  }

  /** The session cookie header, for datastore (/folder) requests made with the same session. */
  get sessionCookie(): string | undefined {
    return this.cookie;
  }

  /** Calls `method` on `self`; returns the parsed `<methodResponse>` element. */
  async call(method: string, self: MoRef, args: XmlNode, signal: AbortSignal): Promise<XmlNode> {
    const body = builder.build({
      "soapenv:Envelope": {
        "@_xmlns:soapenv": "http://schemas.xmlsoap.org/soap/envelope/",
        "@_xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
        "soapenv:Body": { [method]: { "@_xmlns": "urn:vim25", _this: moRefXml(self), ...args } },
      },
    }) as string;
    const answer = await this.http.post("/sdk", body, {
      headers: {
        "content-type": "text/xml; charset=utf-8",
        soapaction: "urn:vim25/8.0.0.0",
        ...(this.cookie ? { cookie: this.cookie } : {}),
      },
      responseType: "text",
      transformResponse: (x) => x,
      signal,
    });
    const setCookie = answer.headers["set-cookie"]?.find((c) => c.startsWith("vmware_soap_session="));
    if (setCookie) this.cookie = setCookie.split(";")[0];
    const parsed = parser.parse(String(answer.data ?? "")) as XmlNode;
    const envelopeBody = (parsed["Envelope"] as XmlNode | undefined)?.["Body"] as XmlNode | undefined;
    const fault = envelopeBody?.["Fault"] as XmlNode | undefined;
    if (fault) throw toFault(fault);
    const response = envelopeBody?.[`${method}Response`] as XmlNode | undefined;
    if (answer.status !== 200 || !response) {
      throw new SoapFault("HttpError", `HTTP ${answer.status} from ${method}`, {});
    }
    return response;
  }

  forgetSession(): void {
    this.cookie = undefined;
  }
}

function toFault(fault: XmlNode): SoapFault {
  const detail = (fault["detail"] as XmlNode | undefined) ?? {};
  // <detail><NoPermissionFault xsi:type="NoPermission">...</NoPermissionFault></detail>
  const [element] = Object.keys(detail).filter((k) => !k.startsWith("@_") && k !== "#text");
  const inner = (element ? detail[element] : undefined) as XmlNode | undefined;
  const name = String(inner?.["@_xsiType"] ?? element?.replace(/Fault$/, "") ?? "Fault");
  return new SoapFault(name, text(fault["faultstring"]) ?? name, inner ?? {});
}

/** The references in an ArrayOfManagedObjectReference property value. */
export function moRefList(value: unknown): MoRef[] {
  return asArray((value as XmlNode | undefined)?.["ManagedObjectReference"] as XmlNode[] | undefined).map(toMoRef);
}

/** The strings in an ArrayOfString property value. */
export function stringList(value: unknown): string[] {
  return asArray((value as XmlNode | undefined)?.["string"] as unknown[] | undefined).map((s) => text(s) ?? "");
}
