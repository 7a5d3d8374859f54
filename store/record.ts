// Commit-log records. Every record is one Raft entry:
//
//  off size field
//    0   4  TOTAL_SIZE   whole record, header included
//    4   4  MAGIC        ENTRY_MAGIC (BLANK_MAGIC for the padding that ends a segment)
//    8   4  CRC          CRC32 of everything after it (bytes 12..TOTAL_SIZE), except message bodies, which their own
//                         BODYCRC fields cover (and those fields are inside the CRC'd bytes): every byte is
//                         hashed once on append, and a check verifies both
//   12   8  INDEX        Raft index
//   20   8  TERM         Raft term
//   28   1  TYPE         EntryType
//   29   3  reserved     zero
//   32   4  PREV_CRC     CRC of the previous record (0 for the very first record of a log)
//   36   n  PAYLOAD
//
// PREV_CRC chains records: a record is valid only right after the record whose CRC it names. A stale record
// left behind a torn or truncated tail therefore can never be mistaken for a successor of new data.
import { bodyCrc, crc32 } from '../common/crc.js';
import { getInt64, setInt64 } from '../common/bytes.js';

export const RECORD_HEADER_BYTES = 36;
export const ENTRY_MAGIC = 0x4c4d5131; // "LMQ1"
export const BLANK_MAGIC = 0xcbd43194 | 0; // RocketMQ's end-of-file marker
/** A blank marker needs its size and magic; segments always keep room for one. */
export const BLANK_MIN_BYTES = 8;

export const RecOff = {
  SIZE: 0,
  MAGIC: 4,
  CRC: 8,
  INDEX: 12,
  TERM: 20,
  TYPE: 28,
  PREV_CRC: 32,
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

export function writeRecordHeader(view: DataView, pos: number, size: number, index: number, term: number, type: number, prevCrc: number): void {
  view.setInt32(pos, size);
  view.setInt32(pos + RecOff.MAGIC, ENTRY_MAGIC);
  setInt64(view, pos + RecOff.INDEX, index);
  setInt64(view, pos + RecOff.TERM, term);
  view.setUint32(pos + RecOff.TYPE, type << 24); // type byte, then three zero bytes
  view.setInt32(pos + RecOff.PREV_CRC, prevCrc);
}

/** Computes the record CRC and stores it; returns it. */
export function sealRecord(buf: Buffer, view: DataView, pos: number, size: number): number {
  const crc = computeRecordCrc(buf, view, pos, size);
  view.setInt32(pos + RecOff.CRC, crc ?? 0);
  return crc ?? 0;
}

/** Offsets inside a stored message (common/message.ts) that the record CRC needs to skip bodies. */
const MSG_BODY_LENGTH = 84;
const MSG_BODY = 88;
const MSG_FIXED_BYTES = 91;

/**
 * CRC32 of bytes 12..size of the record at `pos`, leaving out the bodies of a message entry's messages.
 * Returns null when a message entry's payload is not a sequence of well-formed message frames.
 */
export function computeRecordCrc(buf: Buffer, view: DataView, pos: number, size: number): number | null {
  const end = pos + size;
  if (view.getUint8(pos + RecOff.TYPE) !== EntryType.MESSAGES) return crc32(buf.subarray(pos + RecOff.INDEX, end));
  let crc = 0;
  let from = pos + RecOff.INDEX;
  let m = pos + RECORD_HEADER_BYTES;
  while (m < end) {
    if (end - m < MSG_FIXED_BYTES) return null;
    const total = view.getInt32(m);
    const bodyLength = view.getInt32(m + MSG_BODY_LENGTH);
    if (total < MSG_FIXED_BYTES || total > end - m || bodyLength < 0 || bodyLength > total - MSG_FIXED_BYTES) return null;
    crc = crc32(buf.subarray(from, m + MSG_BODY), crc);
    from = m + MSG_BODY + bodyLength;
    m += total;
  }
  if (m !== end || m === pos + RECORD_HEADER_BYTES) return null;
  return crc32(buf.subarray(from, end), crc);
}

/** Verifies the BODYCRC of every message of a message entry (the record CRC leaves bodies to them). */
export function bodiesIntact(buf: Buffer, view: DataView, pos: number, size: number): boolean {
  const end = pos + size;
  for (let m = pos + RECORD_HEADER_BYTES; m < end; m += view.getInt32(m)) {
    const body = buf.subarray(m + MSG_BODY, m + MSG_BODY + view.getInt32(m + MSG_BODY_LENGTH));
    if (bodyCrc(body) !== view.getInt32(m + 8)) return false;
  }
  return true;
}

export function writeBlank(view: DataView, pos: number, size: number): void {
  view.setInt32(pos, size);
  view.setInt32(pos + 4, BLANK_MAGIC);
}

export const RecordCheck = {
  OK: 'ok',
  BLANK: 'blank',
  /** Zeroes: the end of written data. */
  END: 'end',
  BAD_MAGIC: 'bad magic',
  BAD_SIZE: 'bad size',
  BAD_CRC: 'bad crc',
  BAD_BODY_CRC: 'bad message body crc',
  BAD_PAYLOAD: 'message entry payload is not a sequence of messages',
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
export function checkRecord(buf: Buffer, view: DataView, pos: number, limit: number, expect: ExpectedRecord, verifyCrc: boolean): RecordCheck {
  if (limit < BLANK_MIN_BYTES) return limit === 0 ? RecordCheck.END : RecordCheck.BAD_SIZE;
  const size = view.getInt32(pos);
  const magic = view.getInt32(pos + 4);
  if (size === 0 && magic === 0) return RecordCheck.END;
  if (magic === BLANK_MAGIC) return size === limit ? RecordCheck.BLANK : RecordCheck.BAD_SIZE;
  if (magic !== ENTRY_MAGIC) return RecordCheck.BAD_MAGIC;
  if (size < RECORD_HEADER_BYTES || size > limit) return RecordCheck.BAD_SIZE;
  if (!isKnownEntryType(view.getUint8(pos + RecOff.TYPE))) return RecordCheck.BAD_TYPE;
  if (verifyCrc) {
    const crc = computeRecordCrc(buf, view, pos, size);
    if (crc === null) return RecordCheck.BAD_PAYLOAD;
    if (crc !== view.getInt32(pos + RecOff.CRC)) return RecordCheck.BAD_CRC;
    if (view.getUint8(pos + RecOff.TYPE) === EntryType.MESSAGES && !bodiesIntact(buf, view, pos, size)) return RecordCheck.BAD_BODY_CRC;
  }
  if (expect.prevCrc !== null && view.getInt32(pos + RecOff.PREV_CRC) !== expect.prevCrc) return RecordCheck.BAD_CHAIN;
  if (expect.index !== 0 && getInt64(view, pos + RecOff.INDEX) !== expect.index) return RecordCheck.BAD_INDEX;
  if (getInt64(view, pos + RecOff.TERM) < expect.minTerm) return RecordCheck.BAD_TERM;
  return RecordCheck.OK;
}

export function readRecordHeader(view: DataView, pos: number): RecordHeader {
  return {
    size: view.getInt32(pos),
    index: getInt64(view, pos + RecOff.INDEX),
    term: getInt64(view, pos + RecOff.TERM),
    type: view.getUint8(pos + RecOff.TYPE),
    prevCrc: view.getInt32(pos + RecOff.PREV_CRC),
    crc: view.getInt32(pos + RecOff.CRC),
  };
}

export const recordSize = (view: DataView, pos: number): number => view.getInt32(pos);
export const recordIndex = (view: DataView, pos: number): number => getInt64(view, pos + RecOff.INDEX);
export const recordTerm = (view: DataView, pos: number): number => getInt64(view, pos + RecOff.TERM);
export const recordType = (view: DataView, pos: number): number => view.getUint8(pos + RecOff.TYPE);
export const recordCrc = (view: DataView, pos: number): number => view.getInt32(pos + RecOff.CRC);
export const isBlank = (view: DataView, pos: number): boolean => view.getInt32(pos + RecOff.MAGIC) === BLANK_MAGIC;
