// Commit-log records. Every record is one Raft entry:
//
//  off size field
//    0   4  TOTAL_SIZE   whole record, header included
//    4   4  MAGIC        ENTRY_MAGIC (BLANK_MAGIC for the padding that ends a segment)
//    8   8  INDEX        Raft index
//   16   8  TERM         Raft term
//   24   1  TYPE         EntryType
//   25   3  reserved     zero
//   28   4  PREV_CRC     CRC of the previous record (0 for the very first record of a log)
//   32   4  CRC          CRC32 of bytes 8..32 and of the payload
//   36   n  PAYLOAD
//
// PREV_CRC chains records: a record is valid only right after the record whose CRC it names. A stale record
// left behind a torn or truncated tail therefore can never be mistaken for a successor of new data.
import { crc32 } from '../common/crc.js';
import { readInt64BE, writeInt64BE } from '../common/bytes.js';

export const RECORD_HEADER_BYTES = 36;
export const ENTRY_MAGIC = 0x4c4d5131; // "LMQ1"
export const BLANK_MAGIC = 0xcbd43194 | 0; // RocketMQ's end-of-file marker
/** A blank marker needs its size and magic; segments always keep room for one. */
export const BLANK_MIN_BYTES = 8;

export const RecOff = {
  SIZE: 0,
  MAGIC: 4,
  INDEX: 8,
  TERM: 16,
  TYPE: 24,
  PREV_CRC: 28,
  CRC: 32,
  PAYLOAD: 36,
} as const;

/** Entry types. Message entries carry one or more stored messages back to back. */
export const EntryType = {
  NOOP: 1,
  MESSAGES: 2,
  /** Replicated broker state (topic config, offsets, subscription groups, transaction progress): JSON payload. */
  STATE: 3,
  /** Raft membership change: JSON payload. */
  MEMBERSHIP: 4,
} as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

export function isKnownEntryType(t: number): boolean {
  return t >= EntryType.NOOP && t <= EntryType.MEMBERSHIP;
}

export interface RecordHeader {
  size: number;
  index: number;
  term: number;
  type: number;
  prevCrc: number;
  crc: number;
}

export function writeRecordHeader(buf: Buffer, pos: number, size: number, index: number, term: number, type: number, prevCrc: number): void {
  buf.writeInt32BE(size, pos);
  buf.writeInt32BE(ENTRY_MAGIC, pos + 4);
  writeInt64BE(buf, index, pos + 8);
  writeInt64BE(buf, term, pos + 16);
  buf[pos + 24] = type;
  buf[pos + 25] = 0;
  buf[pos + 26] = 0;
  buf[pos + 27] = 0;
  buf.writeInt32BE(prevCrc, pos + 28);
}

/** Computes the record CRC (header fields after the magic + payload) and stores it; returns it. */
export function sealRecord(buf: Buffer, pos: number, size: number): number {
  const crc = computeRecordCrc(buf, pos, size);
  buf.writeInt32BE(crc, pos + RecOff.CRC);
  return crc;
}

export function computeRecordCrc(buf: Buffer, pos: number, size: number): number {
  const head = crc32(buf.subarray(pos + RecOff.INDEX, pos + RecOff.CRC));
  return crc32(buf.subarray(pos + RECORD_HEADER_BYTES, pos + size), head);
}

export function writeBlank(buf: Buffer, pos: number, size: number): void {
  buf.writeInt32BE(size, pos);
  buf.writeInt32BE(BLANK_MAGIC, pos + 4);
}

export const RecordCheck = {
  OK: 'ok',
  BLANK: 'blank',
  /** Zeroes: the end of written data. */
  END: 'end',
  BAD_MAGIC: 'bad magic',
  BAD_SIZE: 'bad size',
  BAD_CRC: 'bad crc',
  BAD_CHAIN: 'previous-record crc does not match',
  BAD_INDEX: 'index is not the successor',
  BAD_TERM: 'term went backwards',
  BAD_TYPE: 'unknown entry type',
} as const;
export type RecordCheck = (typeof RecordCheck)[keyof typeof RecordCheck];

export interface ExpectedRecord {
  /** Index the record must have; 0 = any (first record of a log whose start is unknown). */
  index: number;
  /** Lowest acceptable term. */
  minTerm: number;
  /** CRC the record's PREV_CRC must name; null = do not check (first record after a snapshot). */
  prevCrc: number | null;
}

/**
 * Checks the record at `buf[pos]` where at most `limit` bytes (up to the end of the segment) may belong to it.
 * With `verifyCrc`, the payload CRC is recomputed.
 */
export function checkRecord(buf: Buffer, pos: number, limit: number, expect: ExpectedRecord, verifyCrc: boolean): RecordCheck {
  if (limit < BLANK_MIN_BYTES) return limit === 0 ? RecordCheck.END : RecordCheck.BAD_SIZE;
  const size = buf.readInt32BE(pos);
  const magic = buf.readInt32BE(pos + 4);
  if (size === 0 && magic === 0) return RecordCheck.END;
  if (magic === BLANK_MAGIC) return size === limit ? RecordCheck.BLANK : RecordCheck.BAD_SIZE;
  if (magic !== ENTRY_MAGIC) return RecordCheck.BAD_MAGIC;
  if (size < RECORD_HEADER_BYTES || size > limit) return RecordCheck.BAD_SIZE;
  if (verifyCrc && computeRecordCrc(buf, pos, size) !== buf.readInt32BE(pos + RecOff.CRC)) return RecordCheck.BAD_CRC;
  if (expect.prevCrc !== null && buf.readInt32BE(pos + RecOff.PREV_CRC) !== expect.prevCrc) return RecordCheck.BAD_CHAIN;
  if (expect.index !== 0 && readInt64BE(buf, pos + RecOff.INDEX) !== expect.index) return RecordCheck.BAD_INDEX;
  if (readInt64BE(buf, pos + RecOff.TERM) < expect.minTerm) return RecordCheck.BAD_TERM;
  if (!isKnownEntryType(buf[pos + RecOff.TYPE]!)) return RecordCheck.BAD_TYPE;
  return RecordCheck.OK;
}

export function readRecordHeader(buf: Buffer, pos: number): RecordHeader {
  return {
    size: buf.readInt32BE(pos),
    index: readInt64BE(buf, pos + RecOff.INDEX),
    term: readInt64BE(buf, pos + RecOff.TERM),
    type: buf[pos + RecOff.TYPE]!,
    prevCrc: buf.readInt32BE(pos + RecOff.PREV_CRC),
    crc: buf.readInt32BE(pos + RecOff.CRC),
  };
}

export const recordIndex = (buf: Buffer, pos: number): number => readInt64BE(buf, pos + RecOff.INDEX);
export const recordTerm = (buf: Buffer, pos: number): number => readInt64BE(buf, pos + RecOff.TERM);
export const recordCrc = (buf: Buffer, pos: number): number => buf.readInt32BE(pos + RecOff.CRC);
