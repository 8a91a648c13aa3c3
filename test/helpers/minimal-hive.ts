// An empty but valid Windows registry hive, written byte by byte: Debian ships none and hivex
// cannot create one (docs: /work/shared/reference/prepare-tools.md; field offsets from libyal's
// "Windows NT Registry File (REGF) format"). hivex (and hive-edit over it) then adds keys and
// values to it. The bytes are fixed: the same call always writes the same file.

import { promises as fs } from "node:fs";

const BASE_BLOCK = 4096;
const BIN_SIZE = 4096;
/** Cell offsets are relative to the first hbin (file offset 4096). */
const ROOT_CELL = 0x20;

/** Self-relative security descriptor: owner Administrators, group SYSTEM, a DACL giving both full control. */
function securityDescriptor(): Buffer {
  const administrators = Buffer.from([1, 2, 0, 0, 0, 0, 0, 5, 0x20, 0, 0, 0, 0x20, 2, 0, 0]); // S-1-5-32-544
  const system = Buffer.from([1, 1, 0, 0, 0, 0, 0, 5, 0x12, 0, 0, 0]); // S-1-5-18
  const ace = (sid: Buffer) => {
    const a = Buffer.alloc(8 + sid.length);
    a.writeUInt8(0, 0); // ACCESS_ALLOWED_ACE_TYPE
    a.writeUInt8(0x02, 1); // CONTAINER_INHERIT_ACE: subkeys inherit it
    a.writeUInt16LE(a.length, 2);
    a.writeUInt32LE(0x000f003f, 4); // KEY_ALL_ACCESS
    sid.copy(a, 8);
    return a;
  };
  const aces = Buffer.concat([ace(system), ace(administrators)]);
  const acl = Buffer.alloc(8);
  acl.writeUInt8(2, 0); // ACL_REVISION
  acl.writeUInt16LE(8 + aces.length, 2);
  acl.writeUInt16LE(2, 4);
  const header = Buffer.alloc(20);
  header.writeUInt8(1, 0); // revision
  header.writeUInt16LE(0x8004, 2); // SE_SELF_RELATIVE | SE_DACL_PRESENT
  header.writeUInt32LE(20, 4); // owner
  header.writeUInt32LE(20 + administrators.length, 8); // group
  header.writeUInt32LE(0, 12); // no SACL
  header.writeUInt32LE(20 + administrators.length + system.length, 16); // DACL
  return Buffer.concat([header, administrators, system, acl, aces]);
}

/** Allocated cells carry their size negated; sizes are multiples of 8. */
function cell(body: Buffer): Buffer {
  const size = Math.ceil((4 + body.length) / 8) * 8;
  const out = Buffer.alloc(size);
  out.writeInt32LE(-size, 0);
  body.copy(out, 4);
  return out;
}

function rootKey(name: string, securityCell: number): Buffer {
  const nameBytes = Buffer.from(name, "latin1");
  const nk = Buffer.alloc(0x4c + nameBytes.length);
  nk.write("nk", 0, "latin1");
  nk.writeUInt16LE(0x2c, 2); // KEY_HIVE_ENTRY | KEY_NO_DELETE | KEY_COMP_NAME
  nk.writeUInt32LE(0xffffffff, 0x10); // parent: none
  nk.writeUInt32LE(0xffffffff, 0x1c); // subkey list: none
  nk.writeUInt32LE(0xffffffff, 0x20); // volatile subkey list: none
  nk.writeUInt32LE(0xffffffff, 0x28); // value list: none
  nk.writeUInt32LE(securityCell, 0x2c);
  nk.writeUInt32LE(0xffffffff, 0x30); // class name: none
  nk.writeUInt16LE(nameBytes.length, 0x48);
  nameBytes.copy(nk, 0x4c);
  return cell(nk);
}

function securityKey(self: number): Buffer {
  const sd = securityDescriptor();
  const sk = Buffer.alloc(0x14 + sd.length);
  sk.write("sk", 0, "latin1");
  sk.writeUInt32LE(self, 0x04); // flink: the only sk, a list of one
  sk.writeUInt32LE(self, 0x08); // blink
  sk.writeUInt32LE(1, 0x0c); // reference count: the root key
  sk.writeUInt32LE(sd.length, 0x10);
  sd.copy(sk, 0x14);
  return cell(sk);
}

function baseBlock(fileName: string): Buffer {
  const b = Buffer.alloc(BASE_BLOCK);
  b.write("regf", 0, "latin1");
  b.writeUInt32LE(1, 0x04); // primary sequence number
  b.writeUInt32LE(1, 0x08); // secondary: equal, the hive was closed cleanly
  b.writeUInt32LE(1, 0x14); // major version
  b.writeUInt32LE(3, 0x18); // minor version
  b.writeUInt32LE(0, 0x1c); // primary file
  b.writeUInt32LE(1, 0x20); // direct memory load format
  b.writeUInt32LE(ROOT_CELL, 0x24);
  b.writeUInt32LE(BIN_SIZE, 0x28); // hive bins data size
  b.writeUInt32LE(1, 0x2c); // clustering factor
  Buffer.from(fileName.slice(0, 31), "utf16le").copy(b, 0x30);
  b.writeUInt32LE(hiveChecksum(b), 0x1fc);
  return b;
}

/** XOR of the base block's first 127 little-endian uint32s (0 and ~0 are avoided, as Windows does). */
export function hiveChecksum(base: Buffer): number {
  let sum = 0;
  for (let i = 0; i < 0x1fc; i += 4) sum = (sum ^ base.readUInt32LE(i)) >>> 0;
  if (sum === 0xffffffff) return 0xfffffffe;
  if (sum === 0) return 1;
  return sum;
}

/** The bytes of an empty hive whose root key is called `rootName`. */
export function minimalHive(rootName = "ROOT"): Buffer {
  const bin = Buffer.alloc(BIN_SIZE);
  bin.write("hbin", 0, "latin1");
  bin.writeUInt32LE(0, 0x04); // offset of this bin
  bin.writeUInt32LE(BIN_SIZE, 0x08);
  const root = rootKey(rootName, 0); // its sk offset is patched below, once known
  const skAt = ROOT_CELL + root.length;
  root.writeUInt32LE(skAt, 4 + 0x2c);
  const sk = securityKey(skAt);
  root.copy(bin, ROOT_CELL);
  sk.copy(bin, skAt);
  const freeAt = skAt + sk.length;
  bin.writeInt32LE(BIN_SIZE - freeAt, freeAt); // one free cell: positive size
  return Buffer.concat([baseBlock(`\\REGISTRY\\MACHINE\\${rootName}`), bin]);
}

export async function writeMinimalHive(path: string, rootName = "ROOT"): Promise<void> {
  await fs.writeFile(path, minimalHive(rootName));
}
