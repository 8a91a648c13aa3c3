// Registry values as the engine handles them, and their bytes in a hive. The JSON form of a
// RegistryValue is what a user reads in a change record, so every type has a readable `data`:
// text for strings, a list for REG_MULTI_SZ, a number for DWORDs, a decimal string for QWORDs
// (a JSON number cannot hold 64 bits), lowercase hex for everything else.

import { jobFailure } from "../../errors";

export type StringType = "REG_SZ" | "REG_EXPAND_SZ";
export type DwordType = "REG_DWORD" | "REG_DWORD_BIG_ENDIAN";
/** Types kept as raw bytes (hex); `REG_TYPE_<n>` is a type number Windows does not name. */
export type BinaryType =
  | "REG_NONE"
  | "REG_BINARY"
  | "REG_LINK"
  | "REG_RESOURCE_LIST"
  | "REG_FULL_RESOURCE_DESCRIPTOR"
  | "REG_RESOURCE_REQUIREMENTS_LIST"
  | `REG_TYPE_${number}`;
export type RegistryType = StringType | "REG_MULTI_SZ" | DwordType | "REG_QWORD" | BinaryType;

export type RegistryValue =
  | { type: StringType; data: string }
  | { type: "REG_MULTI_SZ"; data: string[] }
  /** 0 .. 4294967295 */
  | { type: DwordType; data: number }
  /** Decimal, 0 .. 18446744073709551615. */
  | { type: "REG_QWORD"; data: string }
  /** Lowercase hex, two digits a byte. */
  | { type: BinaryType; data: string };

const TYPE_NAMES: readonly RegistryType[] = [
  "REG_NONE",
  "REG_SZ",
  "REG_EXPAND_SZ",
  "REG_BINARY",
  "REG_DWORD",
  "REG_DWORD_BIG_ENDIAN",
  "REG_LINK",
  "REG_MULTI_SZ",
  "REG_RESOURCE_LIST",
  "REG_FULL_RESOURCE_DESCRIPTOR",
  "REG_RESOURCE_REQUIREMENTS_LIST",
  "REG_QWORD",
];

export function typeName(number: number): RegistryType {
  return TYPE_NAMES[number] ?? `REG_TYPE_${number}`;
}

export function typeNumber(type: RegistryType): number {
  const known = TYPE_NAMES.indexOf(type);
  if (known >= 0) return known;
  const n = /^REG_TYPE_(\d+)$/.exec(type);
  if (n && Number(n[1]) <= 0xffffffff) return Number(n[1]);
  throw invalid(`unknown registry value type ${JSON.stringify(type)}`);
}

function invalid(why: string) {
  return jobFailure("GUEST_EDIT_FAILED", `A registry value the engine was about to write is invalid: ${why}. The guest was not changed; this is a bug in the preparation step.`);
}

// ---- bytes -> value (tolerant: hives hold what old tools and drivers wrote) ----

/** UTF-16LE up to the first NUL; an odd last byte is dropped, a missing NUL is fine. */
function decodeString(bytes: Buffer): string {
  const text = bytes.subarray(0, bytes.length & ~1).toString("utf16le");
  const nul = text.indexOf("\0");
  return nul >= 0 ? text.slice(0, nul) : text;
}

/** Strings up to the first empty one (the double NUL), or to the end when it is missing. */
function decodeMultiString(bytes: Buffer): string[] {
  const parts = bytes.subarray(0, bytes.length & ~1).toString("utf16le").split("\0");
  const end = parts.indexOf("");
  return end >= 0 ? parts.slice(0, end) : parts;
}

/** At least `length` bytes: short data is read as if padded with zeros. */
function padded(bytes: Buffer, length: number): Buffer {
  return bytes.length >= length ? bytes : Buffer.concat([bytes, Buffer.alloc(length - bytes.length)]);
}

export function decodeValue(typeNumber: number, bytes: Buffer): RegistryValue {
  const type = typeName(typeNumber);
  switch (type) {
    case "REG_SZ":
    case "REG_EXPAND_SZ":
      return { type, data: decodeString(bytes) };
    case "REG_MULTI_SZ":
      return { type, data: decodeMultiString(bytes) };
    case "REG_DWORD":
      return { type, data: padded(bytes, 4).readUInt32LE(0) };
    case "REG_DWORD_BIG_ENDIAN":
      return { type, data: padded(bytes, 4).readUInt32BE(0) };
    case "REG_QWORD":
      return { type, data: padded(bytes, 8).readBigUInt64LE(0).toString() };
    default:
      return { type, data: bytes.toString("hex") };
  }
}

// ---- value -> bytes (strict: what the engine writes must be exactly what it means) ----

function encodeString(text: string, what: string): Buffer {
  if (typeof text !== "string") throw invalid(`${what} must be a string`);
  if (text.includes("\0")) throw invalid(`${what} contains a NUL character`);
  return Buffer.from(text + "\0", "utf16le");
}

function encodeMultiString(list: string[]): Buffer {
  if (!Array.isArray(list)) throw invalid("REG_MULTI_SZ data must be a list of strings");
  // An empty string would end the list early: Windows cannot store one inside a REG_MULTI_SZ.
  if (list.some((s) => s === "")) throw invalid("a REG_MULTI_SZ list cannot hold an empty string");
  return Buffer.concat([...list.map((s) => encodeString(s, "each REG_MULTI_SZ entry")), Buffer.alloc(2)]);
}

function encodeDword(n: number, bigEndian: boolean): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw invalid(`a DWORD must be an integer from 0 to 4294967295, not ${n}`);
  const out = Buffer.alloc(4);
  if (bigEndian) out.writeUInt32BE(n);
  else out.writeUInt32LE(n);
  return out;
}

function encodeQword(decimal: string): Buffer {
  if (!/^\d+$/.test(String(decimal)) || BigInt(decimal) > 0xffffffffffffffffn) {
    throw invalid(`a QWORD must be a decimal string from 0 to 18446744073709551615, not ${JSON.stringify(decimal)}`);
  }
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE(BigInt(decimal));
  return out;
}

function encodeHex(hex: string): Buffer {
  if (typeof hex !== "string" || !/^([0-9a-fA-F]{2})*$/.test(hex)) throw invalid(`binary data must be hex, two digits a byte, not ${JSON.stringify(hex)}`);
  return Buffer.from(hex, "hex");
}

/** The value's type number and bytes as stored in a hive. */
export function encodeValue(value: RegistryValue): { type: number; bytes: Buffer } {
  const type = typeNumber(value.type);
  switch (value.type) {
    case "REG_SZ":
    case "REG_EXPAND_SZ":
      return { type, bytes: encodeString(value.data, `${value.type} data`) };
    case "REG_MULTI_SZ":
      return { type, bytes: encodeMultiString(value.data) };
    case "REG_DWORD":
    case "REG_DWORD_BIG_ENDIAN":
      return { type, bytes: encodeDword(value.data, value.type === "REG_DWORD_BIG_ENDIAN") };
    case "REG_QWORD":
      return { type, bytes: encodeQword(value.data) };
    default:
      return { type, bytes: encodeHex(value.data) };
  }
}
