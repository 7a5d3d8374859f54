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
import { getInt64, setInt64 } from '../common/bytes.js';
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
    const v = file.view;
    this.beginTimestamp = getInt64(v, 0);
    this.endTimestamp = getInt64(v, 8);
    this.beginPhyOffset = getInt64(v, 16);
    this.endPhyOffset = getInt64(v, 24);
    this.entries = v.getInt32(36);
    file.writePosition = file.size;
  }

  static bytesFor(slotCount: number, entryCount: number): number {
    return HEADER_BYTES + slotCount * SLOT_BYTES + (entryCount + 1) * ENTRY_BYTES;
  }

  get isFull(): boolean {
    return this.entries >= this.entryCount;
  }

  put(key: string, phyOffset: number, storeTimestamp: number): void {
    const v = this.file.view;
    if (this.entries === 0) {
      this.beginTimestamp = storeTimestamp;
      this.beginPhyOffset = phyOffset;
      setInt64(v, 0, storeTimestamp);
      setInt64(v, 16, phyOffset);
    }
    const hash = keyHash(key);
    const slotAt = HEADER_BYTES + (hash % this.slotCount) * SLOT_BYTES;
    const previous = v.getInt32(slotAt);
    const number = this.entries + 1; // entry numbers start at 1 so 0 can mean "none"
    const at = HEADER_BYTES + this.slotCount * SLOT_BYTES + number * ENTRY_BYTES;
    v.setInt32(at, hash);
    setInt64(v, at + 4, phyOffset);
    v.setInt32(at + 12, Math.max(0, Math.floor((storeTimestamp - this.beginTimestamp) / 1000)));
    v.setInt32(at + 16, previous);
    v.setInt32(slotAt, number);
    this.entries = number;
    if (storeTimestamp > this.endTimestamp) this.endTimestamp = storeTimestamp;
    if (phyOffset > this.endPhyOffset) this.endPhyOffset = phyOffset;
    setInt64(v, 8, this.endTimestamp);
    setInt64(v, 24, this.endPhyOffset);
    v.setInt32(36, number);
    this.dirty = true;
  }

  /** Offsets of entries for `key` stored within [begin, end] (ms), newest first, at most `max`. */
  query(key: string, begin: number, end: number, max: number, out: number[]): void {
    const v = this.file.view;
    const hash = keyHash(key);
    let number = v.getInt32(HEADER_BYTES + (hash % this.slotCount) * SLOT_BYTES);
    let hops = 0;
    while (number > 0 && number <= this.entries && out.length < max && hops++ < this.entryCount) {
      const at = HEADER_BYTES + this.slotCount * SLOT_BYTES + number * ENTRY_BYTES;
      const time = this.beginTimestamp + v.getInt32(at + 12) * 1000;
      if (v.getInt32(at) === hash && time >= begin - 999 && time <= end) out.push(getInt64(v, at + 4));
      const previous = v.getInt32(at + 16);
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
      file = new IndexFile(MappedFile.createSparse(this.options.dir, number, this.fileBytes), this.options.slotCount, this.options.entryCount);
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
