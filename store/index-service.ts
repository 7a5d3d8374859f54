// Message index: message keys (the KEYS property) and unique ids (UNIQ_KEY) -> commit-log offsets, in hash-index
// files like RocketMQ's IndexFile. One file:
//   header (40 bytes): beginTimestamp i64 | endTimestamp i64 | beginPhyOffset i64 | endPhyOffset i64 |
//                      usedSlots i32 | entryCount i32
//   slots  (slotCount x 4 bytes): number of the newest entry whose key hashes to the slot (0 = none)
//   entries (entryCount x 20 bytes): keyHash i32 | phyOffset i64 | seconds since beginTimestamp i32 | previous entry i32
// A key's entries form a chain from its slot, newest first. Hashes collide, so callers confirm each hit by
// reading the message. When a file is full, a new one starts; files are named by a sequence number.
import fs from 'node:fs';
import path from 'node:path';
import { MappedFile, parseSegmentFileName } from './mapped-file.js';
import { readInt64BE, writeInt64BE } from '../common/bytes.js';
import { tagHashCode } from '../common/tag-hash.js';

const HEADER_BYTES = 40;
const SLOT_BYTES = 4;
const ENTRY_BYTES = 20;

export interface IndexOptions {
  dir: string;
  slotCount: number;
  entryCount: number;
}

function keyHash(key: string): number {
  const h = tagHashCode(key);
  return h === -2147483648 ? 0 : Math.abs(h);
}

export function indexKey(topic: string, key: string): string {
  return `${topic}#${key}`;
}

class IndexFile {
  beginTimestamp: number;
  endTimestamp: number;
  beginPhyOffset: number;
  endPhyOffset: number;
  entries: number;
  /** Written since the last flush. */
  dirty = false;

  constructor(
    readonly file: MappedFile,
    readonly slotCount: number,
    readonly entryCount: number,
  ) {
    const b = file.buffer;
    this.beginTimestamp = readInt64BE(b, 0);
    this.endTimestamp = readInt64BE(b, 8);
    this.beginPhyOffset = readInt64BE(b, 16);
    this.endPhyOffset = readInt64BE(b, 24);
    this.entries = b.readInt32BE(36);
    file.writePosition = file.size;
  }

  static bytesFor(slotCount: number, entryCount: number): number {
    return HEADER_BYTES + slotCount * SLOT_BYTES + (entryCount + 1) * ENTRY_BYTES;
  }

  get isFull(): boolean {
    return this.entries >= this.entryCount;
  }

  put(key: string, phyOffset: number, storeTimestamp: number): void {
    const b = this.file.buffer;
    if (this.entries === 0) {
      this.beginTimestamp = storeTimestamp;
      this.beginPhyOffset = phyOffset;
      writeInt64BE(b, storeTimestamp, 0);
      writeInt64BE(b, phyOffset, 16);
    }
    const hash = keyHash(key);
    const slotAt = HEADER_BYTES + (hash % this.slotCount) * SLOT_BYTES;
    const previous = b.readInt32BE(slotAt);
    const number = this.entries + 1; // entry numbers start at 1 so 0 can mean "none"
    const at = HEADER_BYTES + this.slotCount * SLOT_BYTES + number * ENTRY_BYTES;
    b.writeInt32BE(hash, at);
    writeInt64BE(b, phyOffset, at + 4);
    b.writeInt32BE(Math.max(0, Math.floor((storeTimestamp - this.beginTimestamp) / 1000)), at + 12);
    b.writeInt32BE(previous, at + 16);
    b.writeInt32BE(number, slotAt);
    this.entries = number;
    if (storeTimestamp > this.endTimestamp) this.endTimestamp = storeTimestamp;
    if (phyOffset > this.endPhyOffset) this.endPhyOffset = phyOffset;
    writeInt64BE(b, this.endTimestamp, 8);
    writeInt64BE(b, this.endPhyOffset, 24);
    b.writeInt32BE(number, 36);
    this.dirty = true;
  }

  /** Offsets of entries for `key` stored within [begin, end] (ms), newest first, at most `max`. */
  query(key: string, begin: number, end: number, max: number, out: number[]): void {
    const b = this.file.buffer;
    const hash = keyHash(key);
    let number = b.readInt32BE(HEADER_BYTES + (hash % this.slotCount) * SLOT_BYTES);
    let hops = 0;
    while (number > 0 && number <= this.entries && out.length < max && hops++ < this.entryCount) {
      const at = HEADER_BYTES + this.slotCount * SLOT_BYTES + number * ENTRY_BYTES;
      const time = this.beginTimestamp + b.readInt32BE(at + 12) * 1000;
      if (b.readInt32BE(at) === hash && time >= begin - 999 && time <= end) out.push(readInt64BE(b, at + 4));
      const previous = b.readInt32BE(at + 16);
      if (previous >= number) break; // a chain always goes back; anything else is damage
      number = previous;
    }
  }
}

export class IndexService {
  private readonly files: IndexFile[] = [];
  private readonly fileBytes: number;

  constructor(private readonly options: IndexOptions) {
    fs.mkdirSync(options.dir, { recursive: true });
    this.fileBytes = IndexFile.bytesFor(options.slotCount, options.entryCount);
  }

  load(): void {
    const numbers = fs
      .readdirSync(this.options.dir)
      .map((n) => parseSegmentFileName(n))
      .filter((n): n is number => n !== null)
      .sort((a, b) => a - b);
    for (const n of numbers) {
      const filePath = path.join(this.options.dir, String(n).padStart(20, '0'));
      if (fs.statSync(filePath).size !== this.fileBytes) {
        console.warn(`[index] ${filePath} has an unexpected size (index settings changed?); removing it`);
        fs.rmSync(filePath, { force: true });
        continue;
      }
      this.files.push(new IndexFile(MappedFile.openSync(filePath, n, this.fileBytes), this.options.slotCount, this.options.entryCount));
    }
  }

  /** Highest commit-log offset indexed so far (-1 when none): re-dispatch after a restart skips below it. */
  get indexedPhyOffset(): number {
    const last = this.files[this.files.length - 1];
    return last && last.entries > 0 ? last.endPhyOffset : -1;
  }

  put(key: string, phyOffset: number, storeTimestamp: number): void {
    let file = this.files[this.files.length - 1];
    if (!file || file.isFull) {
      const number = file ? file.file.baseOffset + 1 : 1;
      file = new IndexFile(MappedFile.createSync(this.options.dir, number, this.fileBytes), this.options.slotCount, this.options.entryCount);
      this.files.push(file);
    }
    file.put(key, phyOffset, storeTimestamp);
  }

  /** Candidate offsets for `key` (hash matches; callers confirm), newest first. */
  query(key: string, begin: number, end: number, max: number): number[] {
    const out: number[] = [];
    for (let i = this.files.length - 1; i >= 0 && out.length < max; i--) {
      const f = this.files[i]!;
      if (f.entries === 0 || f.endTimestamp < begin || f.beginTimestamp > end) continue;
      f.query(key, begin, end, max, out);
    }
    return out;
  }

  /** Retention: deletes files whose every entry points below `minPhyOffset` (never the newest file). */
  deleteBelowPhysical(minPhyOffset: number): void {
    while (this.files.length > 1 && this.files[0]!.endPhyOffset < minPhyOffset) this.files.shift()!.file.destroy();
  }

  async flush(): Promise<void> {
    for (const f of this.files) {
      if (!f.dirty) continue;
      f.dirty = false;
      f.file.flushedPosition = 0; // index files are rewritten in place: force a full sync
      await f.file.flush();
    }
  }

  flushSync(): void {
    for (const f of this.files) {
      if (!f.dirty) continue;
      f.dirty = false;
      f.file.flushedPosition = 0;
      f.file.flushSync();
    }
  }

  close(): void {
    for (const f of this.files) f.file.close();
    this.files.length = 0;
  }
}
