// A consume queue: for one (topic, queueId), fixed 20-byte entries in mapped files; entry N lives at byte N*20.
//   commit-log offset (int64) | message size (int32) | tags code (int64)
// Entries are written only by the dispatcher, for committed messages, at the queue offset the message carries
// (so every replica builds the same queue). A zero-size entry is a hole (a queue that starts mid-way after a
// segment install); readers skip it.
import path from 'node:path';
import fs from 'node:fs';
import { MappedFileQueue } from './mapped-file-queue.js';
import { getInt64, setInt64 } from '../common/bytes.js';

export const CQ_ENTRY_BYTES = 20;

export interface CqEntry {
  physicalOffset: number;
  size: number;
  tagsCode: number;
}

export class ConsumeQueue {
  private readonly files: MappedFileQueue;
  /** Entries below this queue offset are gone (retention) even if their file is still stored. */
  private minLogicalOffset = 0;

  constructor(
    readonly topic: string,
    readonly queueId: number,
    readonly dir: string,
    readonly entriesPerFile: number,
  ) {
    this.files = new MappedFileQueue(dir, entriesPerFile * CQ_ENTRY_BYTES, { repairShortFiles: true, sparse: true });
  }

  /** Opens existing files and finds the end of the written entries. */
  load(): void {
    this.files.load();
    const files = this.files.files;
    for (let i = 0; i < files.length; i++) {
      const file = files[i]!;
      if (i < files.length - 1) {
        file.writePosition = file.size;
      } else {
        let end = 0;
        for (let pos = 0; pos < file.size; pos += CQ_ENTRY_BYTES) if (file.view.getInt32(pos + 8) !== 0) end = pos + CQ_ENTRY_BYTES;
        file.writePosition = end;
      }
      file.flushedPosition = file.writePosition;
    }
    this.minLogicalOffset = this.files.minOffset / CQ_ENTRY_BYTES;
    this.skipLeadingHoles();
  }

  /** Next queue offset to be written (RocketMQ's maxOffset). */
  get maxOffset(): number {
    const last = this.files.last();
    return last ? (last.baseOffset + last.writePosition) / CQ_ENTRY_BYTES : this.minLogicalOffset;
  }

  /** Oldest queue offset still readable. */
  get minOffset(): number {
    return Math.min(Math.max(this.minLogicalOffset, this.files.minOffset / CQ_ENTRY_BYTES), this.maxOffset);
  }

  /** Writes the entry for `queueOffset`. Re-dispatching an existing entry rewrites the same bytes. */
  put(queueOffset: number, physicalOffset: number, size: number, tagsCode: number): void {
    if (this.files.isEmpty) this.minLogicalOffset = queueOffset;
    else if (queueOffset < this.minLogicalOffset) return; // below retention: nothing to restore
    const pos = queueOffset * CQ_ENTRY_BYTES;
    for (let last = this.files.last(); !last || last.endOffset <= pos; last = this.files.last()) {
      if (last) last.writePosition = last.size; // any skipped entries stay zero: holes
      this.files.addFile(last ? last.endOffset : pos - (pos % this.files.fileSize));
    }
    const file = this.files.findByOffset(pos)!;
    const at = pos - file.baseOffset;
    const view = file.view;
    setInt64(view, at, physicalOffset);
    view.setInt32(at + 8, size);
    setInt64(view, at + 12, tagsCode);
    if (at + CQ_ENTRY_BYTES > file.writePosition) file.writePosition = at + CQ_ENTRY_BYTES;
  }

  /** The entry at `queueOffset`, or null when it is a hole or out of range. */
  get(queueOffset: number): CqEntry | null {
    if (queueOffset < this.minOffset || queueOffset >= this.maxOffset) return null;
    const pos = queueOffset * CQ_ENTRY_BYTES;
    const file = this.files.findByOffset(pos);
    if (!file) return null;
    const at = pos - file.baseOffset;
    const view = file.view;
    const size = view.getInt32(at + 8);
    if (size === 0) return null;
    return { physicalOffset: getInt64(view, at), size, tagsCode: getInt64(view, at + 12) };
  }

  /** Reads the fields of entry `queueOffset` into `out` without allocating; false for a hole/out of range. */
  read(queueOffset: number, out: CqEntry): boolean {
    const pos = queueOffset * CQ_ENTRY_BYTES;
    const file = this.files.findByOffset(pos);
    if (!file || pos - file.baseOffset >= file.writePosition) return false;
    const at = pos - file.baseOffset;
    const view = file.view;
    out.size = view.getInt32(at + 8);
    if (out.size === 0) return false;
    out.physicalOffset = getInt64(view, at);
    out.tagsCode = getInt64(view, at + 12);
    return true;
  }

  /** Drops entries whose message starts at or after `physicalOffset` (recovery: not yet dispatched). */
  truncateFromPhysical(physicalOffset: number): void {
    let max = this.maxOffset;
    const entry: CqEntry = { physicalOffset: 0, size: 0, tagsCode: 0 };
    while (max > this.minOffset) {
      const has = this.read(max - 1, entry);
      if (has && entry.physicalOffset < physicalOffset) break;
      max--;
    }
    this.truncateToOffset(max);
  }

  private truncateToOffset(queueOffset: number): void {
    const pos = queueOffset * CQ_ENTRY_BYTES;
    this.files.dropFilesFrom(pos);
    const last = this.files.last();
    if (!last) {
      this.minLogicalOffset = queueOffset;
      return;
    }
    const at = pos - last.baseOffset;
    if (at < last.writePosition) last.buffer.fill(0, at, last.writePosition);
    last.rewindTo(at);
    if (this.minLogicalOffset > queueOffset) this.minLogicalOffset = queueOffset;
  }

  /**
   * Retention: forgets entries whose messages lie below `minPhysicalOffset` (deleted from the commit log);
   * deletes files that hold only such entries.
   */
  deleteBelowPhysical(minPhysicalOffset: number): void {
    const entry: CqEntry = { physicalOffset: 0, size: 0, tagsCode: 0 };
    while (this.files.files.length > 1) {
      const first = this.files.first()!;
      const lastOffsetInFile = first.endOffset / CQ_ENTRY_BYTES - 1;
      if (!this.read(lastOffsetInFile, entry) || entry.physicalOffset + entry.size > minPhysicalOffset) break;
      this.files.dropFirst();
    }
    // Within the first remaining file, binary-search the first entry still in the log.
    let lo = this.minOffset;
    let hi = this.maxOffset;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (this.read(mid, entry) && entry.physicalOffset >= minPhysicalOffset) hi = mid;
      else lo = mid + 1;
    }
    this.minLogicalOffset = Math.max(this.minLogicalOffset, lo);
  }

  private skipLeadingHoles(): void {
    const entry: CqEntry = { physicalOffset: 0, size: 0, tagsCode: 0 };
    let at = this.minLogicalOffset;
    const max = this.maxOffset;
    while (at < max && !this.read(at, entry)) at++;
    this.minLogicalOffset = at;
  }

  async flush(): Promise<void> {
    await this.files.flushAll();
  }

  flushSync(): void {
    this.files.flushAllSync();
  }

  close(): void {
    this.files.close();
  }
}

/** Every consume queue of the store, under `<root>/<topic>/<queueId>/`. */
export class ConsumeQueueTable {
  private readonly byTopic = new Map<string, ConsumeQueue[]>();

  constructor(
    readonly root: string,
    readonly entriesPerFile: number,
  ) {
    fs.mkdirSync(root, { recursive: true });
  }

  load(): void {
    for (const topic of fs.readdirSync(this.root)) {
      const topicDir = path.join(this.root, topic);
      if (!fs.statSync(topicDir).isDirectory()) continue;
      for (const q of fs.readdirSync(topicDir)) {
        if (!/^\d+$/.test(q)) continue;
        this.open(topic, Number(q)).load();
      }
    }
  }

  private open(topic: string, queueId: number): ConsumeQueue {
    let queues = this.byTopic.get(topic);
    if (!queues) {
      queues = [];
      this.byTopic.set(topic, queues);
    }
    const cq = new ConsumeQueue(topic, queueId, path.join(this.root, topic, String(queueId)), this.entriesPerFile);
    queues[queueId] = cq;
    return cq;
  }

  find(topic: string, queueId: number): ConsumeQueue | undefined {
    return this.byTopic.get(topic)?.[queueId];
  }

  findOrCreate(topic: string, queueId: number): ConsumeQueue {
    return this.byTopic.get(topic)?.[queueId] ?? this.open(topic, queueId);
  }

  *all(): IterableIterator<ConsumeQueue> {
    for (const queues of this.byTopic.values()) for (const cq of queues) if (cq) yield cq;
  }

  topics(): string[] {
    return [...this.byTopic.keys()];
  }

  queuesOf(topic: string): ConsumeQueue[] {
    return (this.byTopic.get(topic) ?? []).filter(Boolean);
  }

  async flush(): Promise<void> {
    for (const cq of this.all()) await cq.flush();
  }

  flushSync(): void {
    for (const cq of this.all()) cq.flushSync();
  }

  close(): void {
    for (const cq of this.all()) cq.close();
    this.byTopic.clear();
  }
}
