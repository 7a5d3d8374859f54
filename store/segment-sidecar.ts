// The summary saved beside a sealed, flushed commit-log segment (`<segment>.idx`), so recovery need not rescan it:
// its index range, the term and CRC of its last record, and its sparse index samples. Protected by a CRC;
// a missing or damaged summary only means the segment is scanned again.
//
//  magic u32 | version u32 | firstIndex i64 | lastIndex i64 | lastTerm i64 | lastCrc i32 | count u32 | samples u32[count] | crc i32
import fs from 'node:fs';
import { crc32 } from '../common/crc.js';
import { readInt64BE, writeInt64BE } from '../common/bytes.js';
import { writeFileAtomic, writeFileAtomicAsync } from './atomic-file.js';

const SIDECAR_MAGIC = 0x4c4d5149; // "LMQI"
const SIDECAR_VERSION = 1;
const FIXED_BYTES = 4 + 4 + 8 + 8 + 8 + 4 + 4;

export interface SegmentSummary {
  firstIndex: number;
  lastIndex: number;
  lastTerm: number;
  lastCrc: number;
  samples: number[];
}

export function sidecarPath(segmentPath: string): string {
  return `${segmentPath}.idx`;
}

export function writeSidecar(segmentPath: string, s: SegmentSummary): void {
  writeFileAtomic(sidecarPath(segmentPath), encodeSidecar(s));
}

function encodeSidecar(s: SegmentSummary): Buffer {
  const buf = Buffer.alloc(FIXED_BYTES + s.samples.length * 4 + 4);
  buf.writeUInt32BE(SIDECAR_MAGIC, 0);
  buf.writeUInt32BE(SIDECAR_VERSION, 4);
  writeInt64BE(buf, s.firstIndex, 8);
  writeInt64BE(buf, s.lastIndex, 16);
  writeInt64BE(buf, s.lastTerm, 24);
  buf.writeInt32BE(s.lastCrc, 32);
  buf.writeUInt32BE(s.samples.length, 36);
  s.samples.forEach((p, i) => buf.writeUInt32BE(p, FIXED_BYTES + i * 4));
  buf.writeInt32BE(crc32(buf.subarray(0, buf.length - 4)), buf.length - 4);
  return buf;
}

/** As writeSidecar, off the event loop. */
export async function writeSidecarAsync(segmentPath: string, s: SegmentSummary): Promise<void> {
  await writeFileAtomicAsync(sidecarPath(segmentPath), encodeSidecar(s));
}

export function readSidecar(segmentPath: string): SegmentSummary | null {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(sidecarPath(segmentPath));
  } catch {
    return null;
  }
  if (buf.length < FIXED_BYTES + 4) return null;
  if (buf.readUInt32BE(0) !== SIDECAR_MAGIC || buf.readUInt32BE(4) !== SIDECAR_VERSION) return null;
  const count = buf.readUInt32BE(36);
  if (buf.length !== FIXED_BYTES + count * 4 + 4) return null;
  if (crc32(buf.subarray(0, buf.length - 4)) !== buf.readInt32BE(buf.length - 4)) return null;
  const samples: number[] = [];
  for (let i = 0; i < count; i++) samples.push(buf.readUInt32BE(FIXED_BYTES + i * 4));
  return {
    firstIndex: readInt64BE(buf, 8),
    lastIndex: readInt64BE(buf, 16),
    lastTerm: readInt64BE(buf, 24),
    lastCrc: buf.readInt32BE(32),
    samples,
  };
}

export function removeSidecar(segmentPath: string): void {
  fs.rmSync(sidecarPath(segmentPath), { force: true });
}
