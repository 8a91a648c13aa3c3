// The disk as Azure's direct upload takes it: a fixed VHD of N MiB + 512 bytes (N MiB at least
// 20), i.e. the disk's content padded with zeros to N MiB, then the 512-byte VHD footer. No such
// file is ever made: the page writer puts the content's pages and this footer straight into the
// page blob (a new page blob reads as zeros, so the padding costs nothing).
//
// The footer is the one `qemu-img create -f vpc -o subformat=fixed,force_size=on` writes (the
// staged file Azure got before), field for field, so uploads read back exactly as they did:
//  - creator application "qem2" (qemu's mark for "the size is current size, not CHS"),
//    creator version 5.3 (Virtual PC 2007), creator host OS "Wi2k";
//  - CHS geometry 65535/16/255, the maximum. The VHD spec's CHS algorithm rounds most sizes
//    (N MiB is rarely C*H*S sectors), so qemu with force_size writes the maximum geometry, which
//    qemu and Hyper-V read as "use current size"; Azure reads current size too.

import { randomUUID } from "node:crypto";
import { MiB, roundUp, SECTOR } from "../../disk/formats";

/** Azure's smallest upload disk: 20 MiB of data (+ the footer). */
export const MIN_DISK_BYTES = 20 * MiB;
/** Azure's largest upload disk: 32 TiB of data (+ the footer). */
export const MAX_DISK_BYTES = 32 * 1024 * 1024 * MiB;
export const VHD_FOOTER = SECTOR;

/** The data size of the fixed VHD Azure gets for a disk of this virtual size. */
export function azureDiskBytes(virtualSize: number): number {
  return Math.max(MIN_DISK_BYTES, roundUp(virtualSize, MiB));
}

/** VHD timestamps count seconds from 2000-01-01T00:00:00Z. */
const VHD_EPOCH_MS = Date.UTC(2000, 0, 1);
const FEATURES_RESERVED = 2;
const FORMAT_VERSION = 0x00010000;
const CREATOR_VERSION = 0x00050003;
const DISK_TYPE_FIXED = 2;
const MAX_CHS = { cylinders: 65535, heads: 16, sectorsPerTrack: 255 };

export interface FooterOptions {
  /** The creation time recorded (default now). */
  time?: Date;
  /** The disk's 16-byte unique id (default a random UUID). */
  uniqueId?: Buffer;
}

/** The 512-byte footer of a fixed VHD whose data part is `diskBytes` (a whole number of sectors). */
export function fixedVhdFooter(diskBytes: number, options: FooterOptions = {}): Buffer {
  if (!Number.isSafeInteger(diskBytes) || diskBytes <= 0 || diskBytes % SECTOR !== 0) {
    throw new RangeError(`a fixed VHD's data part is a positive whole number of sectors, not ${diskBytes} bytes`);
  }
  const uniqueId = options.uniqueId ?? Buffer.from(randomUUID().replace(/-/g, ""), "hex");
  if (uniqueId.length !== 16) throw new RangeError(`a VHD unique id is 16 bytes, not ${uniqueId.length}`);
  const seconds = Math.floor(((options.time ?? new Date()).getTime() - VHD_EPOCH_MS) / 1000);
  const f = Buffer.alloc(VHD_FOOTER);
  f.write("conectix", 0, "latin1");
  f.writeUInt32BE(FEATURES_RESERVED, 8);
  f.writeUInt32BE(FORMAT_VERSION, 12);
  f.writeBigUInt64BE(0xffffffffffffffffn, 16); // data offset: none (fixed disk)
  f.writeUInt32BE(seconds >>> 0, 24);
  f.write("qem2", 28, "latin1");
  f.writeUInt32BE(CREATOR_VERSION, 32);
  f.write("Wi2k", 36, "latin1");
  f.writeBigUInt64BE(BigInt(diskBytes), 40); // original size
  f.writeBigUInt64BE(BigInt(diskBytes), 48); // current size
  f.writeUInt16BE(MAX_CHS.cylinders, 56);
  f.writeUInt8(MAX_CHS.heads, 58);
  f.writeUInt8(MAX_CHS.sectorsPerTrack, 59);
  f.writeUInt32BE(DISK_TYPE_FIXED, 60);
  uniqueId.copy(f, 68);
  // Saved state (byte 84) and the reserved rest stay 0. The checksum is the one's complement of
  // the sum of all bytes, taken with the checksum field itself zero.
  f.writeUInt32BE(vhdChecksum(f), 64);
  return f;
}

/** The one's complement of the byte sum of a footer, its checksum field (64..67) counted as zero. */
export function vhdChecksum(footer: Buffer): number {
  let sum = 0;
  for (let i = 0; i < footer.length; i++) if (i < 64 || i >= 68) sum += footer[i]!;
  return ~sum >>> 0;
}
