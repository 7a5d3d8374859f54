// The commit log: the Raft log of a broker group, stored as memory-mapped segment files.
//
// Leader side: `append` encodes a new entry at the end. Follower side: `appendReplicated` writes the leader's
// bytes at the same byte offsets, so replicas are byte-identical (a message has the same physical offset,
// and therefore the same offset message id, on every node). `truncateFrom` drops an uncommitted suffix.
// Lookups by index use a sparse table (one position every SPARSE_INDEX_STEP entries per segment), kept in
// memory, rebuilt on recovery, and saved beside each sealed segment so restart does not rescan old segments.
import fs from 'node:fs';
import path from 'node:path';
import { MappedFileQueue } from './mapped-file-queue.js';
import type { MappedFile } from './mapped-file.js';
import {
  BLANK_MIN_BYTES,
  RECORD_HEADER_BYTES,
  RecordCheck,
  checkRecord,
  isBlank,
  recordCrc,
  recordIndex,
  recordTerm,
  recordType,
  sealRecord,
  writeBlank,
  writeRecordHeader,
  type ExpectedRecord,
} from './record.js';
import { COMMIT_LOG_SEGMENT_BYTES_MIN, DERIVED_DATA_RESERVE_BYTES_DEFAULT, RECORD_BYTES_MAX, SPARSE_INDEX_STEP } from './limits.js';
import { StoreError, StoreErrorCode } from './errors.js';
import { readSidecar, removeSidecar, writeSidecar, writeSidecarAsync, type SegmentSummary } from './segment-sidecar.js';
import { readJsonFile, writeJsonFileAtomic } from './atomic-file.js';
import { viewOf } from '../common/bytes.js';

export interface CommitLogOptions {
  dir: string;
  segmentBytes: number;
  /** Prepare the next segment in the background (default true). */
  preallocateAhead?: boolean;
  /** Free bytes a new segment must leave for consume queues and the index (DERIVED_DATA_RESERVE_BYTES_DEFAULT). */
  reserveBytes?: number;
  log?: (message: string) => void;
}

/** Per-segment index bookkeeping. Entries of a segment are firstIndex..lastIndex (none when lastIndex < firstIndex). */
interface Segment {
  file: MappedFile;
  firstIndex: number;
  lastIndex: number;
  /** Positions (relative to the file) of entries firstIndex + k * SPARSE_INDEX_STEP. */
  samples: number[];
  /** The segment ends with a blank marker (or is exactly full) and takes no more entries. */
  sealed: boolean;
  /** A summary file describing this (sealed, flushed) segment exists. */
  summarized: boolean;
  /** Bumped by each truncation into the segment: a summary taken before describes entries that are gone. */
  generation: number;
}

export interface EntryView {
  index: number;
  term: number;
  type: number;
  /** Absolute offset of the record. */
  offset: number;
  /** Record size, header included. */
  size: number;
  /** Absolute offset of the payload. */
  payloadOffset: number;
  /** The payload, as a slice of the mapped file (valid as long as it is referenced; see mapped-file.ts). */
  payload: Buffer;
  /** The mapping that holds the record (as a Buffer and a DataView) and the record's position in it. */
  buffer: Buffer;
  view: DataView;
  position: number;
}

export interface AppendResult {
  index: number;
  offset: number;
  payloadOffset: number;
  size: number;
}

/** Writes an entry's payload into `buf` at `pos`; `payloadOffset` is its absolute offset in the log. */
export type PayloadWriter = (buf: Buffer, view: DataView, pos: number, payloadOffset: number) => void;

export interface ReplicatedBatch {
  /** Absolute offset where the first record goes. */
  offset: number;
  bytes: Buffer;
}

export interface LogBatch {
  offset: number;
  firstIndex: number;
  lastIndex: number;
  bytes: Buffer;
}

export interface LogMeta {
  /** Index of the entry just before the first stored one (a snapshot/retention point). */
  baseIndex: number;
  baseTerm: number;
  /** CRC of that entry (the PREV_CRC the first stored record names). */
  baseCrc: number;
  /** Byte offset where the log starts when no segment is stored. */
  baseOffset: number;
}

const META_FILE = 'log.meta.json';

export class CommitLog {
  readonly segmentBytes: number;
  private readonly queue: MappedFileQueue;
  private readonly segments: Segment[] = [];
  private meta: LogMeta = { baseIndex: 0, baseTerm: 0, baseCrc: 0, baseOffset: 0 };
  private lastIndexValue = 0;
  private lastTermValue = 0;
  private lastCrcValue = 0;
  private commitIndexValue = 0;
  /** Sequential-lookup cache: the offset of `cursorIndex`. */
  private cursorIndex = -1;
  private cursorOffset = -1;
  private readonly log: (message: string) => void;
  private closed = false;
  private rewindCount = 0;
  /** Set when appends must be refused (disk full, I/O error); reads continue. */
  private refuseReason: { code: StoreErrorCode; message: string } | null = null;

  private constructor(private readonly options: CommitLogOptions) {
    if (options.segmentBytes < COMMIT_LOG_SEGMENT_BYTES_MIN) throw new Error(`segment size ${options.segmentBytes} is below the minimum ${COMMIT_LOG_SEGMENT_BYTES_MIN}`);
    this.segmentBytes = options.segmentBytes;
    this.recordBytesMax = Math.min(RECORD_BYTES_MAX, options.segmentBytes - BLANK_MIN_BYTES);
    this.queue = new MappedFileQueue(options.dir, options.segmentBytes, { preallocateAhead: options.preallocateAhead ?? true, repairShortFiles: true });
    this.log = options.log ?? ((m) => console.warn(`[commitlog] ${m}`));
  }

  /** Opens (and recovers) the log in `options.dir`. */
  static open(options: CommitLogOptions): CommitLog {
    const log = new CommitLog(options);
    log.recover();
    return log;
  }

  // ---- state ----------------------------------------------------------------------------------------------

  get firstIndex(): number {
    return this.meta.baseIndex + 1;
  }

  get lastIndex(): number {
    return this.lastIndexValue;
  }

  get lastTerm(): number {
    return this.lastTermValue;
  }

  /** CRC of the last record (what the next record's PREV_CRC names). */
  get lastCrc(): number {
    return this.lastCrcValue;
  }

  get commitIndex(): number {
    return this.commitIndexValue;
  }

  /** Absolute offset where the next record goes (unless it does not fit and the segment rolls). */
  get writeOffset(): number {
    const last = this.queue.last();
    return last ? last.baseOffset + last.writePosition : this.meta.baseOffset;
  }

  /** Lowest byte offset still stored. */
  get minOffset(): number {
    return this.queue.first()?.baseOffset ?? this.meta.baseOffset;
  }

  /** Counts truncations and resets: a wait for durability registered before one may be waiting for bytes that are gone. */
  get rewinds(): number {
    return this.rewindCount;
  }

  /** Every byte below this offset is on disk. */
  get flushedOffset(): number {
    for (const seg of this.segments) {
      const f = seg.file;
      if (f.flushedPosition < f.writePosition) return f.baseOffset + f.flushedPosition;
    }
    return this.writeOffset;
  }

  get baseTerm(): number {
    return this.meta.baseTerm;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  /** Bytes of all stored segment files. */
  get storedBytes(): number {
    return this.segments.length * this.segmentBytes;
  }

  /** Moves the commit index forward (a lower value is ignored: the commit index never moves back). */
  setCommitIndex(index: number): void {
    if (index > this.lastIndexValue) throw new Error(`commit index ${index} beyond the last index ${this.lastIndexValue}`);
    if (index > this.commitIndexValue) this.commitIndexValue = index;
  }

  /** Resolves once the next segment, if one is being prepared in the background, is ready. */
  whenNextSegmentPrepared(): Promise<void> {
    return this.queue.whenPrepared();
  }

  /** Refuses appends from now on (until `clearRefusal`), e.g. when the disk passed its refuse ratio. */
  refuseAppends(code: StoreErrorCode, message: string): void {
    this.refuseReason = { code, message };
  }

  clearRefusal(code: StoreErrorCode): void {
    if (this.refuseReason?.code === code) this.refuseReason = null;
  }

  get appendRefusal(): { code: StoreErrorCode; message: string } | null {
    return this.refuseReason;
  }

  // ---- leader side ------------------------------------------------------------------------------------------

  /** Largest record this log can hold. */
  readonly recordBytesMax: number;

  /** Appends one entry; the payload is written by `write` straight into the mapped file. */
  append(type: number, term: number, payloadBytes: number, write: PayloadWriter): AppendResult {
    this.checkWritable();
    const size = RECORD_HEADER_BYTES + payloadBytes;
    if (size > this.recordBytesMax) {
      throw new StoreError(StoreErrorCode.MESSAGE_TOO_LARGE, `entry of ${size} bytes exceeds the largest record of ${this.recordBytesMax} bytes`);
    }
    if (term < this.lastTermValue) throw new Error(`term ${term} is below the last term ${this.lastTermValue}`);
    const seg = this.segmentWithRoom(size);
    const file = seg.file;
    const pos = file.writePosition;
    const index = this.lastIndexValue + 1;
    const buf = file.buffer;
    const view = file.view;
    writeRecordHeader(view, pos, size, index, term, type, this.lastCrcValue);
    write(buf, view, pos + RECORD_HEADER_BYTES, file.baseOffset + pos + RECORD_HEADER_BYTES);
    const crc = sealRecord(buf, view, pos, size);
    file.writePosition = pos + size;
    this.noteAppended(seg, index, term, crc, pos);
    return { index, offset: file.baseOffset + pos, payloadOffset: file.baseOffset + pos + RECORD_HEADER_BYTES, size };
  }

  private checkWritable(): void {
    if (this.closed) throw new StoreError(StoreErrorCode.CLOSED, 'commit log is closed');
    if (this.refuseReason) throw new StoreError(this.refuseReason.code, this.refuseReason.message);
  }

  /** The active segment if `size` bytes fit in it (keeping room for a blank marker); else pads and rolls. */
  private segmentWithRoom(size: number): Segment {
    let seg = this.segments[this.segments.length - 1];
    if (seg && !seg.sealed && seg.file.remaining >= size + BLANK_MIN_BYTES) return seg;
    const base = seg ? seg.file.endOffset : this.meta.baseOffset - (this.meta.baseOffset % this.segmentBytes);
    const file = this.addFile(base); // may throw DISK_FULL: nothing has been written yet
    if (seg && !seg.sealed) this.seal(seg);
    seg = { file, firstIndex: this.lastIndexValue + 1, lastIndex: this.lastIndexValue, samples: [], sealed: false, summarized: false, generation: 0 };
    this.segments.push(seg);
    return seg;
  }

  private addFile(base: number): MappedFile {
    try {
      this.checkFreeSpace();
      return this.queue.addFile(base);
    } catch (err) {
      if (err instanceof StoreError && err.code === StoreErrorCode.DISK_FULL) {
        // Keep refusing (rather than retrying a segment allocation per append) until retention frees space.
        this.refuseAppends(StoreErrorCode.DISK_FULL, `${err.message}; appends are refused until space is freed`);
        this.log(`appends refused: ${err.message}`);
      }
      throw err;
    }
  }

  private checkFreeSpace(): void {
    const reserve = this.options.reserveBytes ?? DERIVED_DATA_RESERVE_BYTES_DEFAULT;
    const stat = fs.statfsSync(this.options.dir);
    const free = stat.bavail * stat.bsize;
    if (free < this.segmentBytes + reserve) {
      throw new StoreError(StoreErrorCode.DISK_FULL, `disk full: ${free} bytes free, a new segment needs ${this.segmentBytes} plus ${reserve} kept for consume queues and index`);
    }
  }

  private seal(seg: Segment): void {
    const file = seg.file;
    if (file.remaining > 0) writeBlank(file.view, file.writePosition, file.remaining);
    file.writePosition = file.size;
    seg.sealed = true;
  }

  private noteAppended(seg: Segment, index: number, term: number, crc: number, pos: number): void {
    if (seg.lastIndex < seg.firstIndex) seg.firstIndex = index;
    if ((index - seg.firstIndex) % SPARSE_INDEX_STEP === 0) seg.samples.push(pos);
    seg.lastIndex = index;
    this.lastIndexValue = index;
    this.lastTermValue = term;
    this.lastCrcValue = crc;
  }

  // ---- follower side ----------------------------------------------------------------------------------------

  /**
   * Writes records received from the leader at the offset the leader wrote them. The bytes must be whole
   * records that continue this log (next index, chained CRC, non-decreasing term) and lie in one segment; when
   * they start at the next segment boundary, the current segment is padded exactly as the leader padded it.
   * Nothing is written unless every record is valid. Returns the new last index.
   */
  appendReplicated(batch: ReplicatedBatch): number {
    this.checkWritable();
    const { offset, bytes } = batch;
    if (bytes.length === 0) return this.lastIndexValue;
    const fileBase = offset - (offset % this.segmentBytes);
    if (offset + bytes.length > fileBase + this.segmentBytes - BLANK_MIN_BYTES) {
      throw invalidAppend(`batch at ${offset} (${bytes.length} bytes) crosses the end of its segment`);
    }
    this.validateReplicated(bytes);
    const last = this.segments[this.segments.length - 1];
    let seg: Segment;
    if (last && !last.sealed && offset === this.writeOffset) {
      seg = last;
    } else if (offset === fileBase && (last ? last.file.endOffset === fileBase : this.meta.baseOffset === fileBase)) {
      seg = this.segmentWithRoom(this.segmentBytes - BLANK_MIN_BYTES); // pads the active segment and rolls
    } else {
      throw invalidAppend(`leader wrote at offset ${offset}, this log continues at ${this.writeOffset}`);
    }
    const file = seg.file;
    const start = offset - file.baseOffset;
    bytes.copy(file.buffer, start);
    const end = start + bytes.length;
    const view = file.view;
    for (let pos = start; pos < end; pos += view.getInt32(pos)) {
      this.noteAppended(seg, recordIndex(view, pos), recordTerm(view, pos), recordCrc(view, pos), pos);
    }
    file.writePosition = end;
    return this.lastIndexValue;
  }

  private validateReplicated(bytes: Buffer): void {
    const expect: ExpectedRecord = { index: this.lastIndexValue + 1, minTerm: this.lastTermValue, prevCrc: this.lastCrcValue };
    const view = viewOf(bytes);
    let pos = 0;
    while (pos < bytes.length) {
      const check = checkRecord(bytes, view, pos, bytes.length - pos, expect, true);
      if (check !== RecordCheck.OK) throw invalidAppend(`record ${expect.index} at batch byte ${pos}: ${check}`);
      expect.index++;
      expect.minTerm = recordTerm(view, pos);
      expect.prevCrc = recordCrc(view, pos);
      pos += view.getInt32(pos);
    }
  }

  /** Drops every entry from `index` on (an uncommitted suffix replaced by the leader's entries). */
  truncateFrom(index: number): void {
    if (index > this.lastIndexValue) return;
    if (index <= this.commitIndexValue) throw new Error(`refusing to truncate committed entries: truncate from ${index}, commit index ${this.commitIndexValue}`);
    if (index < this.firstIndex) throw new Error(`truncate from ${index} below the first stored index ${this.firstIndex}`);
    const prev = index - 1;
    // The log now ends where entry prev ends. When `index` opened a segment, that end lies in an earlier one.
    let keep: Segment;
    let newEnd: number;
    if (prev >= this.firstIndex) {
      keep = this.segmentOf(prev);
      const at = this.entryOffset(prev);
      newEnd = at + this.recordSizeAt(at);
    } else {
      keep = this.segments[0]!;
      newEnd = this.entryOffset(index);
    }
    while (this.segments[this.segments.length - 1] !== keep) {
      const dropped = this.segments.pop()!;
      removeSidecar(dropped.file.filePath);
      this.queue.dropFilesFrom(dropped.file.baseOffset);
    }
    const file = keep.file;
    const from = newEnd - file.baseOffset;
    file.buffer.fill(0, from, file.writePosition); // nothing stale (not even the blank marker) stays readable
    file.rewindTo(from);
    keep.generation++;
    this.rewindCount++;
    keep.sealed = false;
    if (keep.summarized) {
      removeSidecar(file.filePath);
      keep.summarized = false;
    }
    if (prev >= keep.firstIndex) {
      keep.lastIndex = prev;
      keep.samples.length = Math.floor((prev - keep.firstIndex) / SPARSE_INDEX_STEP) + 1;
    } else {
      keep.firstIndex = index;
      keep.lastIndex = prev;
      keep.samples.length = 0;
    }
    this.lastIndexValue = prev;
    this.cursorIndex = -1;
    if (prev >= this.firstIndex) {
      const { view, position } = this.locate(this.entryOffset(prev));
      this.lastTermValue = recordTerm(view, position);
      this.lastCrcValue = recordCrc(view, position);
    } else {
      this.lastTermValue = this.meta.baseTerm;
      this.lastCrcValue = this.meta.baseCrc;
    }
  }

  // ---- reads ------------------------------------------------------------------------------------------------

  /** Term of entry `index`; undefined when it is not stored (term(firstIndex-1) is the base term). */
  term(index: number): number | undefined {
    if (index === this.meta.baseIndex) return this.meta.baseTerm;
    if (index < this.firstIndex || index > this.lastIndexValue) return undefined;
    if (index === this.lastIndexValue) return this.lastTermValue;
    const { view, position } = this.locate(this.entryOffset(index));
    return recordTerm(view, position);
  }

  /** Absolute offset of entry `index` (which must be stored). */
  entryOffset(index: number): number {
    if (index < this.firstIndex || index > this.lastIndexValue) throw new StoreError(StoreErrorCode.OFFSET_MOVED, `entry ${index} is not stored (stored: ${this.firstIndex}..${this.lastIndexValue})`);
    if (index === this.cursorIndex) return this.cursorOffset;
    if (index === this.cursorIndex + 1 && this.cursorIndex >= this.firstIndex) {
      const next = this.cursorOffset + this.recordSizeAt(this.cursorOffset);
      const file = this.queue.findByOffset(next);
      const offset = file && next - file.baseOffset < file.writePosition && !this.isBlankAt(file, next - file.baseOffset) ? next : this.firstOffsetOfSegmentAfter(next);
      return this.setCursor(index, offset);
    }
    const seg = this.segmentOf(index);
    const k = Math.floor((index - seg.firstIndex) / SPARSE_INDEX_STEP);
    let pos = seg.samples[k]!;
    const view = seg.file.view;
    for (let i = seg.firstIndex + k * SPARSE_INDEX_STEP; i < index; i++) pos += view.getInt32(pos);
    return this.setCursor(index, seg.file.baseOffset + pos);
  }

  private setCursor(index: number, offset: number): number {
    this.cursorIndex = index;
    this.cursorOffset = offset;
    return offset;
  }

  private isBlankAt(file: MappedFile, pos: number): boolean {
    return isBlank(file.view, pos);
  }

  private firstOffsetOfSegmentAfter(offset: number): number {
    const file = this.queue.findByOffset(offset);
    return file ? file.endOffset : offset;
  }

  /** The segment holding entry `index`: the last one whose first index is <= index. */
  private segmentOf(index: number): Segment {
    let lo = 0;
    let hi = this.segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.segments[mid]!.firstIndex <= index) lo = mid;
      else hi = mid - 1;
    }
    const seg = this.segments[lo]!;
    if (index < seg.firstIndex || index > seg.lastIndex) throw new Error(`index ${index} not found in segment ${seg.file.baseOffset} (${seg.firstIndex}..${seg.lastIndex})`);
    return seg;
  }

  /** The mapping holding absolute `offset`. */
  locate(offset: number): { file: MappedFile; buffer: Buffer; view: DataView; position: number } {
    const file = this.queue.findByOffset(offset);
    if (!file) throw new StoreError(StoreErrorCode.OFFSET_MOVED, `offset ${offset} is not stored (min offset ${this.minOffset})`);
    return { file, buffer: file.buffer, view: file.view, position: offset - file.baseOffset };
  }

  private recordSizeAt(offset: number): number {
    const file = this.queue.findByOffset(offset);
    if (!file) throw new StoreError(StoreErrorCode.OFFSET_MOVED, `offset ${offset} is not stored (min offset ${this.minOffset})`);
    return file.view.getInt32(offset - file.baseOffset);
  }

  readEntry(index: number): EntryView {
    return this.readEntryAt(this.entryOffset(index));
  }

  /** Reads the record at absolute `offset` (which must be the start of a stored record, not a blank). */
  readEntryAt(offset: number): EntryView {
    const { buffer, view, position } = this.locate(offset);
    const size = view.getInt32(position);
    return {
      index: recordIndex(view, position),
      term: recordTerm(view, position),
      type: recordType(view, position),
      offset,
      size,
      payloadOffset: offset + RECORD_HEADER_BYTES,
      payload: buffer.subarray(position + RECORD_HEADER_BYTES, position + size),
      buffer,
      view,
      position,
    };
  }

  /**
   * Reads the entry that starts at or after `offset` in sequence order (skipping a segment's blank padding);
   * returns null at the end of the written log. Used by sequential readers such as the dispatcher.
   */
  readNextAt(offset: number): EntryView | null {
    let file = this.queue.findByOffset(offset);
    if (!file) return null;
    let pos = offset - file.baseOffset;
    if (pos < file.writePosition && this.isBlankAt(file, pos)) {
      file = this.queue.findByOffset(file.endOffset);
      if (!file) return null;
      pos = 0;
    }
    if (pos >= file.writePosition) return null;
    return this.readEntryAt(file.baseOffset + pos);
  }

  /**
   * A contiguous run of records starting with entry `from`, within one segment, at most `maxBytes` long
   * (at least one record). The bytes are a slice of the mapped file, ready to send as they are.
   */
  readBatch(from: number, maxBytes: number, maxIndex = this.lastIndexValue): LogBatch {
    const offset = this.entryOffset(from);
    const { file, buffer, view, position } = this.locate(offset);
    let index = from;
    let end = position + view.getInt32(position);
    const limit = Math.min(file.writePosition, file.size);
    while (index < maxIndex) {
      const next = end;
      if (next + BLANK_MIN_BYTES > limit || this.isBlankAt(file, next)) break;
      const size = view.getInt32(next);
      if (next + size - position > maxBytes) break;
      end = next + size;
      index++;
    }
    return { offset, firstIndex: from, lastIndex: index, bytes: buffer.subarray(position, end) };
  }

  /** Last index of the batch `readBatch(from, maxBytes)` would return. */
  batchEnd(from: number, maxBytes: number): number {
    return this.readBatch(from, maxBytes).lastIndex;
  }

  // ---- flush ------------------------------------------------------------------------------------------------

  /** Makes everything written so far durable; returns the flushed offset. Writes summaries of sealed segments. */
  async flush(): Promise<number> {
    const target = this.writeOffset;
    for (const seg of this.segments.slice()) {
      const f = seg.file;
      if (f.baseOffset >= target) break;
      if (f.flushedPosition < f.writePosition) await f.flush();
      if (seg.sealed && !seg.summarized && f.flushedPosition === f.size && !f.isDestroyed) await this.summarizeAsync(seg);
    }
    return this.flushedOffset;
  }

  flushSync(): void {
    for (const seg of this.segments) {
      seg.file.flushSync();
      if (seg.sealed && !seg.summarized) this.summarize(seg);
    }
  }

  private summaryOf(seg: Segment): SegmentSummary {
    const lastPos = this.entryOffset(seg.lastIndex) - seg.file.baseOffset;
    return {
      firstIndex: seg.firstIndex,
      lastIndex: seg.lastIndex,
      lastTerm: recordTerm(seg.file.view, lastPos),
      lastCrc: recordCrc(seg.file.view, lastPos),
      samples: [...seg.samples],
    };
  }

  private summarize(seg: Segment): void {
    writeSidecar(seg.file.filePath, this.summaryOf(seg));
    seg.summarized = true;
  }

  private async summarizeAsync(seg: Segment): Promise<void> {
    seg.summarized = true; // claimed now so a concurrent flush does not write it twice
    const generation = seg.generation;
    const summary = this.summaryOf(seg);
    try {
      await writeSidecarAsync(seg.file.filePath, summary);
    } catch (err) {
      seg.summarized = false;
      throw err;
    }
    // A truncation into this segment meanwhile removed the summary's premise: drop the file (a later flush writes
    // a fresh one once the segment is sealed again; recovery simply scans a segment without one).
    if (seg.generation !== generation || seg.file.isDestroyed) {
      removeSidecar(seg.file.filePath);
      if (!seg.file.isDestroyed) seg.summarized = false;
    }
  }

  // ---- retention and install --------------------------------------------------------------------------------

  /** The point the stored log starts after (what a follower resets to before a segment install). */
  base(): LogMeta {
    return { ...this.meta };
  }

  /**
   * For a segment install: every segment holding entries up to `index` (which must be stored), each with the
   * number of bytes to send (the last one is cut right after entry `index`). The files are acquired: the caller
   * releases them when done, so retention cannot delete them meanwhile.
   */
  segmentsUpTo(index: number): Array<{ file: MappedFile; length: number }> {
    if (index < this.firstIndex || index > this.lastIndexValue) throw new StoreError(StoreErrorCode.OFFSET_MOVED, `entry ${index} is not stored`);
    const end = this.entryOffset(index) + this.recordSizeAt(this.entryOffset(index));
    const out: Array<{ file: MappedFile; length: number }> = [];
    for (const seg of this.segments) {
      const f = seg.file;
      if (f.baseOffset >= end) break;
      if (!f.acquire()) {
        for (const o of out) o.file.release();
        throw new StoreError(StoreErrorCode.OFFSET_MOVED, `segment ${f.baseOffset} is being deleted`);
      }
      out.push({ file: f, length: Math.min(f.size, end - f.baseOffset) });
    }
    return out;
  }

  /** Information on the oldest segment, for retention decisions; undefined when only the active one is left. */
  oldestSealedSegment(): { baseOffset: number; lastIndex: number; endOffset: number; filePath: string } | undefined {
    const seg = this.segments[0];
    if (!seg || this.segments.length < 2 || !seg.sealed) return undefined;
    return { baseOffset: seg.file.baseOffset, lastIndex: seg.lastIndex, endOffset: seg.file.endOffset, filePath: seg.file.filePath };
  }

  /** Deletes the oldest segment (it must be sealed and fully committed). Readers holding it keep their bytes. */
  dropOldestSegment(): void {
    const seg = this.segments[0];
    if (!seg || this.segments.length < 2 || !seg.sealed) throw new Error('no sealed segment to drop');
    if (seg.lastIndex > this.commitIndexValue) throw new Error(`segment ${seg.file.baseOffset} holds uncommitted entries`);
    const lastPos = this.entryOffset(seg.lastIndex) - seg.file.baseOffset;
    const meta: LogMeta = {
      baseIndex: seg.lastIndex,
      baseTerm: recordTerm(seg.file.view, lastPos),
      baseCrc: recordCrc(seg.file.view, lastPos),
      baseOffset: seg.file.endOffset,
    };
    this.writeMeta(meta); // first, so a crash after the deletion still knows where the log starts
    this.segments.shift();
    removeSidecar(seg.file.filePath);
    this.queue.dropFirst();
    this.cursorIndex = -1;
  }

  /**
   * Replaces the whole log with nothing but a base point (index, term, crc, offset): used by a follower before it
   * receives a leader's segments (segment install). The caller then writes segments with `appendReplicated`.
   */
  resetToBase(baseIndex: number, baseTerm: number, baseCrc: number, baseOffset: number): void {
    for (const seg of this.segments) removeSidecar(seg.file.filePath);
    this.segments.length = 0;
    this.queue.destroyAll();
    this.rewindCount++;
    this.writeMeta({ baseIndex, baseTerm, baseCrc, baseOffset });
    this.lastIndexValue = baseIndex;
    this.lastTermValue = baseTerm;
    this.lastCrcValue = baseCrc;
    this.commitIndexValue = Math.max(this.commitIndexValue, baseIndex);
    this.cursorIndex = -1;
  }

  private writeMeta(meta: LogMeta): void {
    writeJsonFileAtomic(path.join(this.options.dir, META_FILE), meta);
    this.meta = meta;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.close();
  }

  // ---- recovery ---------------------------------------------------------------------------------------------

  private recover(): void {
    fs.mkdirSync(this.options.dir, { recursive: true });
    const meta = readJsonFile<LogMeta>(path.join(this.options.dir, META_FILE));
    if (meta) this.meta = meta;
    this.queue.load();
    // A crash between writing the meta file and deleting a segment leaves segments the meta already left behind.
    while (this.queue.first() && this.queue.first()!.endOffset <= this.meta.baseOffset) {
      removeSidecar(this.queue.first()!.filePath);
      this.queue.dropFirst();
    }
    this.lastIndexValue = this.meta.baseIndex;
    this.lastTermValue = this.meta.baseTerm;
    this.lastCrcValue = this.meta.baseCrc;
    const expect: ExpectedRecord = { index: this.meta.baseIndex + 1, minTerm: this.meta.baseTerm, prevCrc: this.meta.baseCrc };
    const files = this.queue.files.slice();
    for (let i = 0; i < files.length; i++) {
      const file = files[i]!;
      const summary = i === files.length - 1 ? null : readSidecar(file.filePath);
      if (summary && summary.firstIndex === expect.index) {
        this.adoptSummary(file, summary);
        expect.index = summary.lastIndex + 1;
        expect.minTerm = summary.lastTerm;
        expect.prevCrc = summary.lastCrc;
        continue;
      }
      if (this.scanSegment(file, expect)) {
        // The log ends in this segment: anything after it is not part of the log.
        for (const later of files.slice(i + 1)) removeSidecar(later.filePath);
        if (i + 1 < files.length) this.queue.dropFilesFrom(files[i + 1]!.baseOffset);
        break;
      }
    }
    // A trailing segment without entries is useless unless it follows a sealed one; drop empty ones after an open one.
    while (this.segments.length > 1) {
      const last = this.segments[this.segments.length - 1]!;
      const before = this.segments[this.segments.length - 2]!;
      if (last.lastIndex >= last.firstIndex || before.sealed) break;
      this.segments.pop();
      this.queue.dropFilesFrom(last.file.baseOffset);
    }
    this.commitIndexValue = this.meta.baseIndex;
    // What recovery found may still sit in the page cache of a crashed process: make it durable before it counts
    // as such (a SYNC_FLUSH node acknowledges entries as soon as they are on disk). Clean pages cost nothing here.
    for (const seg of this.segments) {
      if (seg.summarized) continue;
      seg.file.flushedPosition = 0;
      seg.file.flushSync();
    }
  }

  private adoptSummary(file: MappedFile, summary: SegmentSummary): void {
    file.writePosition = file.size;
    file.flushedPosition = file.size;
    this.segments.push({ file, firstIndex: summary.firstIndex, lastIndex: summary.lastIndex, samples: summary.samples, sealed: true, summarized: true, generation: 0 });
    this.lastIndexValue = summary.lastIndex;
    this.lastTermValue = summary.lastTerm;
    this.lastCrcValue = summary.lastCrc;
  }

  /** Scans one segment, verifying every record; returns true when the log ends inside it (torn or clean end). */
  private scanSegment(file: MappedFile, expect: ExpectedRecord): boolean {
    const seg: Segment = { file, firstIndex: expect.index, lastIndex: expect.index - 1, samples: [], sealed: false, summarized: false, generation: 0 };
    this.segments.push(seg);
    const buf = file.buffer;
    const view = file.view;
    let pos = 0;
    for (;;) {
      const check = checkRecord(buf, view, pos, file.size - pos, expect, true);
      if (check === RecordCheck.OK) {
        this.noteAppended(seg, expect.index, recordTerm(view, pos), recordCrc(view, pos), pos);
        expect.index++;
        expect.minTerm = this.lastTermValue;
        expect.prevCrc = this.lastCrcValue;
        pos += view.getInt32(pos);
        continue;
      }
      if (check === RecordCheck.BLANK) {
        file.writePosition = file.size;
        file.flushedPosition = file.size;
        seg.sealed = true;
        return false;
      }
      file.writePosition = pos;
      file.flushedPosition = pos;
      if (check !== RecordCheck.END) {
        this.log(`recovery: ${file.fileName} byte ${pos}: ${check}; the log ends before entry ${expect.index}`);
        buf.fill(0, pos, Math.min(file.size, pos + RECORD_HEADER_BYTES));
      }
      return true;
    }
  }
}

function invalidAppend(message: string): StoreError {
  return new StoreError(StoreErrorCode.INVALID_APPEND, `replicated append refused: ${message}`);
}
