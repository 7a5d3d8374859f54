// The storage engine as the broker sees it: a commit log (the Raft log), the consume queues and key index the
// dispatcher derives from it, flushing, checkpoints, recovery and retention.
//
// Write side (driven by the Raft node; a single writer until replication arrives):
//   appendMessages / appendEntry (leader), appendReplicated / truncateFrom (follower), setCommitIndex.
// Read side (only what is committed and dispatched): getMessages, offsets, timestamp search, view by offset,
// query by key.
import fs from 'node:fs';
import path from 'node:path';
import { CommitLog, type AppendResult, type LogMeta, type ReplicatedBatch } from './commit-log.js';
import { ConsumeQueueTable, type ConsumeQueue, type CqEntry } from './consume-queue.js';
import { IndexService, indexKey } from './index-service.js';
import { Dispatcher, type DispatchHooks } from './dispatcher.js';
import { FlushMode, FlushService } from './flush-service.js';
import { EntryType, RECORD_HEADER_BYTES } from './record.js';
import { readJsonFile, removeStaleTemps, syncDirectory, writeFileAtomic, writeFileAtomicAsync, writeJsonFileAtomic } from './atomic-file.js';
import { StoreErrorCode } from './errors.js';
import {
  CHECKPOINT_INTERVAL_MS_DEFAULT,
  COMMIT_LOG_SEGMENT_BYTES_DEFAULT,
  CONSUME_QUEUE_ENTRIES_PER_FILE_DEFAULT,
  DERIVED_DATA_RESERVE_BYTES_DEFAULT,
  DISK_USE_RATIO_DELETE_DEFAULT,
  DISK_USE_RATIO_REFUSE_DEFAULT,
  FLUSH_INTERVAL_MS_DEFAULT,
  INDEX_ENTRIES_DEFAULT,
  INDEX_SLOTS_DEFAULT,
  PULL_BYTES_MAX,
  PULL_MESSAGES_MAX,
  QUERY_RESULTS_MAX,
  RETENTION_MS_DEFAULT,
  SYNC_FLUSH_TIMEOUT_MS_DEFAULT,
} from './limits.js';
import { MESSAGE_MAGIC_V1, MessageView, draftLength, writeMessage, type MessageDraft } from '../common/message.js';
import { findProperty, Prop, splitKeys } from '../common/properties.js';
import { viewOf } from '../common/bytes.js';

export interface MessageStoreOptions {
  dir: string;
  segmentBytes?: number;
  flushMode?: FlushMode;
  flushIntervalMs?: number;
  syncFlushTimeoutMs?: number;
  consumeQueueEntriesPerFile?: number;
  indexSlots?: number;
  indexEntries?: number;
  /** Build the key index (default true). */
  indexEnabled?: boolean;
  retentionMs?: number;
  diskUseRatioDelete?: number;
  diskUseRatioRefuse?: number;
  /** How often retention runs (default 10 s). */
  retentionIntervalMs?: number;
  checkpointIntervalMs?: number;
  /** Prepare the next commit-log segment in the background (default true). */
  preallocateAhead?: boolean;
  /** Free space a new commit-log segment must leave for consume queues and the index. */
  reserveBytes?: number;
  clock?: () => number;
  hooks?: DispatchHooks;
  /** Highest index retention may delete up to (e.g. the last replicated-state snapshot). */
  retentionFloor?: () => number;
  /**
   * Dispatch at least from the entry after this index on open, even if the checkpoint is further: the owner's
   * own snapshot of applied state covers only up to here, so later entries must be applied again.
   */
  replayFrom?: number;
  log?: (message: string) => void;
}

export const GetMessageStatus = {
  FOUND: 'FOUND',
  /** Entries were scanned but none matched the filter. */
  NO_MATCHED_MESSAGE: 'NO_MATCHED_MESSAGE',
  /** The queue does not exist or is empty. */
  NO_MESSAGE_IN_QUEUE: 'NO_MESSAGE_IN_QUEUE',
  /** offset < minOffset. */
  OFFSET_TOO_SMALL: 'OFFSET_TOO_SMALL',
  /** offset == maxOffset: nothing new yet. */
  OFFSET_OVERFLOW_ONE: 'OFFSET_OVERFLOW_ONE',
  /** offset > maxOffset. */
  OFFSET_OVERFLOW_BADLY: 'OFFSET_OVERFLOW_BADLY',
  /** The entry's message is no longer in the commit log (retention raced the read). */
  OFFSET_FOUND_NULL: 'OFFSET_FOUND_NULL',
} as const;
export type GetMessageStatus = (typeof GetMessageStatus)[keyof typeof GetMessageStatus];

export interface GetMessageResult {
  status: GetMessageStatus;
  nextBeginOffset: number;
  minOffset: number;
  maxOffset: number;
  /** Stored messages as slices of the mapped commit log (send them as they are). */
  messages: Buffer[];
  /** Queue offset of each returned message. */
  queueOffsets: number[];
  totalBytes: number;
  /** Releases the segments the slices came from; call once the bytes were written out. */
  release(): void;
}

export interface AppendedMessage {
  queueId: number;
  queueOffset: number;
  physicalOffset: number;
  size: number;
}

export interface AppendMessagesResult extends AppendResult {
  storeTimestamp: number;
  messages: AppendedMessage[];
}

interface Checkpoint {
  dispatchedIndex: number;
  commitIndex: number;
  writtenAt: number;
}

const CHECKPOINT_FILE = 'checkpoint.json';
const NO_RELEASE = (): void => undefined;

/**
 * The end (next queue offset) of every queue as of entry `index`, for a segment install: a queue whose messages
 * all lie before the installed segments has no entry in them, yet its offsets must go on where they stopped.
 */
export interface QueueOffsetTable {
  index: number;
  /** [topic, queue id, next queue offset] */
  queues: Array<[string, number, number]>;
}

/** Queue ends received with the last segment install (they outlive it until a newer install replaces them). */
const QUEUE_FLOORS_FILE = 'queue-floors.json';
/** In a staged install: the segments (and log.meta.json) that become the commit log, and the queue table. */
export const STAGED_LOG_DIR = 'commitlog';
export const STAGED_QUEUE_TABLE_FILE = 'queues.json';

export class MessageStore {
  // Replaced as a whole by a segment install (installSegments); otherwise fixed for the store's life.
  commitLog!: CommitLog;
  consumeQueues!: ConsumeQueueTable;
  index!: IndexService | null;
  dispatcher!: Dispatcher;
  readonly flusher: FlushService;
  readonly flushMode: FlushMode;
  private readonly clock: () => number;
  private readonly log: (message: string) => void;
  private readonly options: MessageStoreOptions;
  /** Next queue offset per topic and queue id, for the leader's appends (covers the undispatched tail). */
  private readonly nextQueueOffsets = new Map<string, number[]>();
  private queueOffsetsValid = false;
  private dispatchScheduled = false;
  private timers: NodeJS.Timeout[] = [];
  private checkpointRunning = false;
  private closed = false;
  /** Bumped by every segment install: a checkpoint captured before it must not be written after it. */
  private installGeneration = 0;
  /** topic -> queue id -> next queue offset known from the last install, valid once `floorIndex` is dispatched. */
  private floors = new Map<string, Map<number, number>>();
  private floorIndex = 0;

  private constructor(options: MessageStoreOptions) {
    this.options = options;
    this.clock = options.clock ?? Date.now;
    this.log = options.log ?? ((m) => console.warn(`[store] ${m}`));
    fs.mkdirSync(options.dir, { recursive: true });
    removeStaleTemps(path.join(options.dir, CHECKPOINT_FILE));
    this.flushMode = options.flushMode ?? FlushMode.ASYNC;
    this.openParts();
    this.flusher = new FlushService(() => this.commitLog, {
      mode: this.flushMode,
      intervalMs: options.flushIntervalMs ?? FLUSH_INTERVAL_MS_DEFAULT,
      syncTimeoutMs: options.syncFlushTimeoutMs ?? SYNC_FLUSH_TIMEOUT_MS_DEFAULT,
      clock: this.clock,
      log: this.log,
    });
  }

  /** Opens (and recovers) commit log, consume queues and index, and positions the dispatcher. */
  private openParts(): void {
    const options = this.options;
    this.commitLog = CommitLog.open({
      dir: path.join(options.dir, 'commitlog'),
      segmentBytes: options.segmentBytes ?? COMMIT_LOG_SEGMENT_BYTES_DEFAULT,
      preallocateAhead: options.preallocateAhead ?? true,
      reserveBytes: options.reserveBytes,
      log: this.log,
    });
    this.consumeQueues = new ConsumeQueueTable(path.join(options.dir, 'consumequeue'), options.consumeQueueEntriesPerFile ?? CONSUME_QUEUE_ENTRIES_PER_FILE_DEFAULT);
    this.consumeQueues.load();
    this.index =
      options.indexEnabled === false
        ? null
        : new IndexService({ dir: path.join(options.dir, 'index'), slotCount: options.indexSlots ?? INDEX_SLOTS_DEFAULT, entryCount: options.indexEntries ?? INDEX_ENTRIES_DEFAULT });
    this.index?.load();
    const { dispatchedIndex, nextOffset } = this.recoverDispatchPoint();
    this.dispatcher = new Dispatcher(this.commitLog, this.consumeQueues, this.index, options.hooks ?? {}, dispatchedIndex, nextOffset);
    this.loadFloors();
  }

  private loadFloors(): void {
    const table = readJsonFile<QueueOffsetTable>(path.join(this.options.dir, QUEUE_FLOORS_FILE));
    this.floors = new Map();
    this.floorIndex = table?.index ?? 0;
    for (const [topic, queueId, next] of table?.queues ?? []) {
      let queues = this.floors.get(topic);
      if (!queues) {
        queues = new Map();
        this.floors.set(topic, queues);
      }
      queues.set(queueId, next);
    }
  }

  /**
   * For a segment install sent from here: the end of every queue as of what is dispatched (at least as far as
   * the floors this store itself received cover). The install's segments start at or below the dispatched
   * index (retention never passes it), so the receiver rebuilds everything after the table from them.
   */
  queueOffsetTable(): QueueOffsetTable {
    const queues: Array<[string, number, number]> = [];
    for (const cq of this.consumeQueues.all()) queues.push([cq.topic, cq.queueId, Math.max(cq.maxOffset, this.floors.get(cq.topic)?.get(cq.queueId) ?? 0)]);
    for (const [topic, byQueue] of this.floors) {
      for (const [queueId, next] of byQueue) if (!this.consumeQueues.find(topic, queueId)) queues.push([topic, queueId, next]);
    }
    return { index: Math.max(this.dispatcher.dispatchedIndex, this.floorIndex), queues };
  }

  /** The install floor of a queue, for readers: only once dispatching covers the table it came from. */
  private readableFloor(topic: string, queueId: number): number | undefined {
    if (this.floors.size === 0 || this.dispatcher.dispatchedIndex < this.floorIndex) return undefined;
    return this.floors.get(topic)?.get(queueId);
  }

  /**
   * A queue's consume queue and readable range. A queue known only from an install floor (all its messages
   * lie before the installed log) is empty at its old end: min = max = the floor.
   */
  private queueRange(topic: string, queueId: number): { cq: ConsumeQueue | undefined; min: number; max: number } {
    const cq = this.consumeQueues.find(topic, queueId);
    const floor = this.readableFloor(topic, queueId);
    if (floor === undefined || (cq && cq.maxOffset >= floor)) return { cq, min: cq?.minOffset ?? 0, max: cq?.maxOffset ?? 0 };
    return { cq: undefined, min: floor, max: floor };
  }

  /** The commit-log segments that hold entries up to `index`, for a segment install (see CommitLog.segmentsUpTo). */
  segmentsUpTo(index: number): ReturnType<CommitLog['segmentsUpTo']> {
    return this.commitLog.segmentsUpTo(index);
  }

  /**
   * Segment install (follower): replaces the whole log with the leader's segments staged in
   * `stagedDir/commitlog` (files named by base offset, the last one cut after the snapshot entry), based at
   * `base`. Consume queues and the index are rebuilt from the installed log by the dispatcher, which restarts at
   * the base; queues without a message in it keep their ends from the staged queue table.
   * The caller records the install durably first (see completeInstall): if this throws half-way, the store is
   * unusable until that record is replayed at the next start.
   */
  installSegments(stagedDir: string, base: LogMeta): void {
    this.installGeneration++;
    // Summaries of sealed segments are written now: a flush of the old log still running after the swap then
    // has none left to write (it would write them by path, into the directory the new log takes over).
    this.commitLog.flushSync();
    this.commitLog.close();
    this.consumeQueues.close();
    this.index?.close();
    MessageStore.completeInstall(this.options.dir, stagedDir, base);
    const replayFrom = this.options.replayFrom;
    this.options.replayFrom = base.baseIndex;
    try {
      this.openParts();
    } finally {
      this.options.replayFrom = replayFrom;
    }
    this.commitLog.setCommitIndex(this.commitLog.lastIndex);
    this.queueOffsetsValid = false;
    this.scheduleDispatch();
  }

  /**
   * The file part of a segment install, on a closed store directory. Every step can be repeated, so a start
   * after a crash anywhere in an install (or in this function) finishes it by calling it again with the same
   * staged directory, which must stay until the caller's record of the install is gone.
   */
  static completeInstall(storeDir: string, stagedDir: string, base: LogMeta): void {
    // Derived data is rebuilt from the installed log; without a checkpoint dispatching starts at its base.
    fs.rmSync(path.join(storeDir, 'consumequeue'), { recursive: true, force: true });
    fs.rmSync(path.join(storeDir, 'index'), { recursive: true, force: true });
    fs.rmSync(path.join(storeDir, CHECKPOINT_FILE), { force: true });
    const table = path.join(stagedDir, STAGED_QUEUE_TABLE_FILE);
    if (fs.existsSync(table)) writeFileAtomic(path.join(storeDir, QUEUE_FLOORS_FILE), fs.readFileSync(table));
    // The log directory is swapped as a whole: a crash leaves either the staged copy (do it again) or none (done).
    const staged = path.join(stagedDir, STAGED_LOG_DIR);
    const live = path.join(storeDir, 'commitlog');
    const old = path.join(storeDir, 'commitlog.old');
    if (fs.existsSync(staged)) {
      writeJsonFileAtomic(path.join(staged, 'log.meta.json'), base);
      fs.rmSync(old, { recursive: true, force: true });
      if (fs.existsSync(live)) fs.renameSync(live, old);
      fs.renameSync(staged, live);
      syncDirectory(storeDir);
      syncDirectory(stagedDir);
    }
    fs.rmSync(old, { recursive: true, force: true });
  }

  /** Opens the store in `options.dir`, recovering after a crash if needed. Call `start()` to run services. */
  static open(options: MessageStoreOptions): MessageStore {
    return new MessageStore(options);
  }

  /**
   * Where dispatching resumes: the checkpoint, clipped to what the log really holds. Consume-queue entries beyond
   * it are dropped (they are rebuilt from the log), so no entry ever points past the log.
   */
  private recoverDispatchPoint(): { dispatchedIndex: number; nextOffset: number } {
    const log = this.commitLog;
    const ckpt = readJsonFile<Checkpoint>(path.join(this.options.dir, CHECKPOINT_FILE));
    let dispatched = ckpt?.dispatchedIndex ?? 0;
    if (dispatched > log.lastIndex) {
      this.log(`checkpoint says entry ${dispatched} was dispatched but the log ends at ${log.lastIndex}; rebuilding consume queues from the start of the log`);
      dispatched = log.firstIndex - 1;
    }
    if (this.options.replayFrom !== undefined && this.options.replayFrom < dispatched) dispatched = this.options.replayFrom;
    if (dispatched < log.firstIndex - 1) dispatched = log.firstIndex - 1;
    const nextOffset = this.offsetAfter(dispatched);
    for (const cq of this.consumeQueues.all()) cq.truncateFromPhysical(nextOffset);
    log.setCommitIndex(Math.min(Math.max(ckpt?.commitIndex ?? 0, dispatched), log.lastIndex));
    return { dispatchedIndex: dispatched, nextOffset };
  }

  /** Offset of the record after entry `index` (or where the first stored record starts). */
  private offsetAfter(index: number): number {
    const log = this.commitLog;
    if (index < log.lastIndex) return log.entryOffset(index + 1);
    if (index >= log.firstIndex) {
      const at = log.entryOffset(index);
      return at + log.readEntryAt(at).size;
    }
    return log.minOffset;
  }

  /** Starts flushing, checkpoints, retention and dispatching. */
  start(): void {
    this.flusher.start();
    const every = (ms: number, fn: () => void): void => {
      const t = setInterval(fn, ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.options.checkpointIntervalMs ?? CHECKPOINT_INTERVAL_MS_DEFAULT, () => void this.writeCheckpoint().catch((err) => this.log(`checkpoint failed: ${(err as Error).message}`)));
    every(this.options.retentionIntervalMs ?? 10_000, () => this.runRetention());
    this.scheduleDispatch();
  }

  // ---- write side -------------------------------------------------------------------------------------------

  /**
   * Leader: appends one entry holding `drafts` (one message, or a batch: all or nothing). Queue offsets,
   * physical offsets and the store timestamp are assigned here.
   */
  appendMessages(term: number, drafts: MessageDraft[]): AppendMessagesResult {
    if (!this.queueOffsetsValid) this.rebuildQueueOffsets();
    let bytes = 0;
    for (let i = 0; i < drafts.length; i++) bytes += draftLength(drafts[i]!);
    const storeTimestamp = this.clock();
    const messages: AppendedMessage[] = [];
    this.writing.drafts = drafts;
    this.writing.storeTimestamp = storeTimestamp;
    this.writing.out = messages;
    const r = this.commitLog.append(EntryType.MESSAGES, term, bytes, this.writeDrafts);
    // Built field by field: an object spread here costs more than the whole append.
    return { index: r.index, offset: r.offset, payloadOffset: r.payloadOffset, size: r.size, storeTimestamp, messages };
  }

  /** What the next `writeDrafts` call writes (set just before the append, so no closure is made per append). */
  private readonly writing: { drafts: MessageDraft[]; storeTimestamp: number; out: AppendedMessage[] } = { drafts: [], storeTimestamp: 0, out: [] };

  private readonly writeDrafts = (buf: Buffer, view: DataView, pos: number, payloadOffset: number): void => {
    const { drafts, storeTimestamp, out } = this.writing;
    let at = pos;
    for (let i = 0; i < drafts.length; i++) {
      const d = drafts[i]!;
      const queueOffset = this.takeQueueOffset(d.topic, d.queueId);
      const physicalOffset = payloadOffset + (at - pos);
      const size = writeMessage(buf, view, at, d, queueOffset, physicalOffset, storeTimestamp);
      out.push({ queueId: d.queueId, queueOffset, physicalOffset, size });
      at += size;
    }
  };

  /** Leader: appends a non-message entry (no-op, replicated state, membership). */
  appendEntry(term: number, type: number, payload: Buffer): AppendResult {
    return this.commitLog.append(type, term, payload.length, (buf, _view, pos) => {
      payload.copy(buf, pos);
    });
  }

  /**
   * Why a replicated batch of `bytes` bytes at `offset` could not be written now (null: it can), checked before
   * the Raft core is told about it: appends are refused, or the batch opens a segment the disk has no room for.
   */
  replicatedWriteProblem(offset: number, bytes: number): string | null {
    const log = this.commitLog;
    const refusal = log.appendRefusal;
    if (refusal) return refusal.message;
    // Conservative when the last segment is empty: then the check only costs a statfs.
    const opensSegment = log.segmentCount === 0 || Math.floor(offset / log.segmentBytes) > Math.floor(Math.max(0, log.writeOffset - 1) / log.segmentBytes);
    if (bytes > 0 && opensSegment) {
      const needed = log.segmentBytes + (this.options.reserveBytes ?? DERIVED_DATA_RESERVE_BYTES_DEFAULT);
      const free = this.diskFreeBytes();
      if (free < needed) return `disk full: ${free} bytes free, a new segment needs ${needed}`;
    }
    return null;
  }

  /** Follower: writes the leader's records at the leader's offsets. */
  appendReplicated(batch: ReplicatedBatch): number {
    this.queueOffsetsValid = false;
    return this.commitLog.appendReplicated(batch);
  }

  /** Follower: drops an uncommitted suffix. */
  truncateFrom(index: number): void {
    this.queueOffsetsValid = false;
    this.commitLog.truncateFrom(index);
  }

  /** Moves the commit index forward and lets the dispatcher publish the newly committed entries. */
  setCommitIndex(index: number): void {
    const before = this.commitLog.commitIndex;
    this.commitLog.setCommitIndex(index);
    if (this.commitLog.commitIndex > before) this.scheduleDispatch();
  }

  /** Resolves true once everything below `offset` is on disk (false on a sync-flush timeout). */
  waitFlushed(offset: number): Promise<boolean> {
    return this.flusher.waitFlushed(offset);
  }

  private takeQueueOffset(topic: string, queueId: number): number {
    let offsets = this.nextQueueOffsets.get(topic);
    if (!offsets) {
      offsets = [];
      this.nextQueueOffsets.set(topic, offsets);
    }
    const next = offsets[queueId] ?? this.queueEnd(topic, queueId);
    offsets[queueId] = next + 1;
    return next;
  }

  /**
   * Where a queue continues as far as dispatched data and install floors know. A floor counts even before
   * dispatching reaches it: it is a lower bound of the queue's end for any log that holds its entry.
   */
  private queueEnd(topic: string, queueId: number): number {
    return Math.max(this.consumeQueues.find(topic, queueId)?.maxOffset ?? 0, this.floors.get(topic)?.get(queueId) ?? 0);
  }

  /** Recomputes next queue offsets: dispatched queues know their end; the undispatched tail is scanned. */
  private rebuildQueueOffsets(): void {
    this.nextQueueOffsets.clear();
    for (let entry = this.commitLog.readNextAt(this.dispatcher.nextOffset); entry; entry = this.commitLog.readNextAt(entry.offset + entry.size)) {
      if (entry.type !== EntryType.MESSAGES) continue;
      const end = entry.position + entry.size;
      const { buffer, view } = entry;
      for (let pos = entry.position + RECORD_HEADER_BYTES; pos < end; pos += MessageView.totalSize(view, pos)) {
        const topic = MessageView.topic(buffer, view, pos);
        let offsets = this.nextQueueOffsets.get(topic);
        if (!offsets) {
          offsets = [];
          this.nextQueueOffsets.set(topic, offsets);
        }
        const queueId = MessageView.queueId(view, pos);
        offsets[queueId] = Math.max(MessageView.queueOffset(view, pos) + 1, this.floors.get(topic)?.get(queueId) ?? 0);
      }
    }
    this.queueOffsetsValid = true;
  }

  // ---- dispatch ---------------------------------------------------------------------------------------------

  private scheduleDispatch(): void {
    if (this.dispatchScheduled || this.closed) return;
    this.dispatchScheduled = true;
    setImmediate(() => {
      this.dispatchScheduled = false;
      if (this.closed) return;
      try {
        this.dispatcher.dispatch();
      } catch (err) {
        // e.g. no room for a new consume-queue file: nothing is lost (the log has it); retry a little later
        this.log(`dispatch stalled at entry ${this.dispatcher.dispatchedIndex + 1}: ${(err as Error).message}; retrying in 1 s`);
        const retry = setTimeout(() => this.scheduleDispatch(), 1000);
        retry.unref();
        return;
      }
      if (this.dispatcher.dispatchedIndex < this.commitLog.commitIndex) this.scheduleDispatch();
    });
  }

  /** Dispatches everything committed, synchronously (tests, benchmarks, shutdown). */
  dispatchAll(): void {
    while (this.dispatcher.dispatch() > 0);
  }

  // ---- read side --------------------------------------------------------------------------------------------

  getMinOffset(topic: string, queueId: number): number {
    return this.queueRange(topic, queueId).min;
  }

  getMaxOffset(topic: string, queueId: number): number {
    return this.queueRange(topic, queueId).max;
  }

  /**
   * Reads up to `maxMessages` messages of a queue from `offset`. `matches` filters by consume-queue tag code.
   * Slices reference the mapped files; `release()` must be called once they were written out.
   */
  getMessages(topic: string, queueId: number, offset: number, maxMessages: number, matches: ((tagsCode: number) => boolean) | null = null, maxBytes = PULL_BYTES_MAX): GetMessageResult {
    const { cq, min, max } = this.queueRange(topic, queueId);
    const result: GetMessageResult = { status: GetMessageStatus.NO_MESSAGE_IN_QUEUE, nextBeginOffset: 0, minOffset: 0, maxOffset: 0, messages: [], queueOffsets: [], totalBytes: 0, release: NO_RELEASE };
    result.minOffset = min;
    result.maxOffset = max;
    if (max === 0) return result;
    if (offset < min) return { ...result, status: GetMessageStatus.OFFSET_TOO_SMALL, nextBeginOffset: min };
    if (offset === max) return { ...result, status: GetMessageStatus.OFFSET_OVERFLOW_ONE, nextBeginOffset: offset };
    if (offset > max) return { ...result, status: GetMessageStatus.OFFSET_OVERFLOW_BADLY, nextBeginOffset: max };
    if (!cq) return result; // min === max without a consume queue: every case was answered above
    const limit = Math.min(Math.max(1, maxMessages), PULL_MESSAGES_MAX);
    const held = new Set<{ release(): void }>();
    const entry: CqEntry = { physicalOffset: 0, size: 0, tagsCode: 0 };
    let next = offset;
    let lostEntries = 0;
    // Scan a bounded window so a long run of filtered-out entries cannot make one pull unbounded.
    const scanEnd = Math.min(max, offset + limit * 16);
    for (; next < scanEnd && result.messages.length < limit; next++) {
      if (!cq.read(next, entry)) continue;
      if (matches && !matches(entry.tagsCode)) continue;
      if (result.totalBytes > 0 && result.totalBytes + entry.size > maxBytes) break;
      const slice = this.sliceMessage(entry.physicalOffset, entry.size, held);
      if (!slice) {
        lostEntries++;
        continue;
      }
      result.messages.push(slice);
      result.queueOffsets.push(next);
      result.totalBytes += entry.size;
    }
    result.nextBeginOffset = next;
    result.release = () => {
      for (const f of held) f.release();
      held.clear();
    };
    if (result.messages.length > 0) result.status = GetMessageStatus.FOUND;
    else result.status = lostEntries > 0 ? GetMessageStatus.OFFSET_FOUND_NULL : GetMessageStatus.NO_MATCHED_MESSAGE;
    return result;
  }

  /** A slice of the stored message at `phyOffset` (size bytes), holding its segment in `held`; null if deleted. */
  private sliceMessage(phyOffset: number, size: number, held: Set<{ release(): void }>): Buffer | null {
    if (phyOffset < this.commitLog.minOffset) return null;
    const { file, buffer, position } = this.commitLog.locate(phyOffset);
    if (!held.has(file)) {
      if (!file.acquire()) return null;
      held.add(file);
    }
    return buffer.subarray(position, position + size);
  }

  /**
   * The stored message that starts at `phyOffset` (VIEW_MESSAGE_BY_ID, send-back, transactions), as a slice, or
   * null when no committed message starts there. Committed is enough (dispatch may still be catching up): an id
   * from a send result, which is answered at commit, resolves at once. The caller must not keep the slice beyond
   * its request.
   */
  viewMessage(phyOffset: number): Buffer | null {
    if (!Number.isSafeInteger(phyOffset) || phyOffset < this.commitLog.minOffset || phyOffset + 91 > this.committedEndOffset()) return null;
    let loc;
    try {
      loc = this.commitLog.locate(phyOffset);
    } catch {
      return null;
    }
    const { buffer, view, position } = loc;
    if (position + 91 > buffer.length) return null;
    const size = MessageView.totalSize(view, position);
    if (MessageView.magic(view, position) !== MESSAGE_MAGIC_V1 || size < 91 || position + size > buffer.length) return null;
    if (MessageView.physicalOffset(view, position) !== phyOffset) return null;
    return buffer.subarray(position, position + size);
  }

  /** Where the committed part of the log ends. */
  private committedEndOffset(): number {
    const log = this.commitLog;
    const commit = log.commitIndex;
    if (commit < log.firstIndex) return log.minOffset;
    if (commit <= this.dispatcher.dispatchedIndex) return this.dispatcher.nextOffset;
    const at = log.entryOffset(commit);
    return at + log.readEntryAt(at).size;
  }

  /** Messages of `topic` whose KEYS contain `key`, stored within [begin, end] ms, newest first. */
  queryMessagesByKey(topic: string, key: string, maxResults: number, begin: number, end: number): Buffer[] {
    return this.query(topic, key, maxResults, begin, end, (props) => splitKeys(findProperty(props, Prop.KEYS)).includes(key));
  }

  /** The message of `topic` whose UNIQ_KEY is `uniqKey`. */
  queryMessageByUniqKey(topic: string, uniqKey: string, begin = 0, end = Number.MAX_SAFE_INTEGER): Buffer[] {
    return this.query(topic, uniqKey, 1, begin, end, (props) => findProperty(props, Prop.UNIQ_KEY) === uniqKey);
  }

  private query(topic: string, key: string, maxResults: number, begin: number, end: number, confirm: (props: string) => boolean): Buffer[] {
    if (!this.index) return [];
    const max = Math.min(Math.max(1, maxResults), QUERY_RESULTS_MAX);
    const out: Buffer[] = [];
    const seen = new Set<number>();
    for (const offset of this.index.query(indexKey(topic, key), begin, end, max * 4)) {
      if (out.length >= max) break;
      if (seen.has(offset)) continue;
      seen.add(offset);
      const msg = this.viewMessage(offset);
      if (!msg) continue;
      const view = viewOf(msg);
      const ts = MessageView.storeTimestamp(view, 0);
      if (ts < begin || ts > end) continue;
      if (MessageView.topic(msg, view, 0) !== topic || !confirm(MessageView.properties(msg, view, 0))) continue;
      out.push(msg);
    }
    return out;
  }

  /** Store time of a queue's oldest message, or -1. */
  getEarliestMessageTime(topic: string, queueId: number): number {
    const cq = this.consumeQueues.find(topic, queueId);
    if (!cq) return -1;
    const e = cq.get(cq.minOffset);
    const msg = e ? this.viewMessage(e.physicalOffset) : null;
    return msg ? MessageView.storeTimestamp(viewOf(msg), 0) : -1;
  }

  /**
   * The queue offset of the first message stored at or after `timestamp` (lower boundary), or of the last one
   * stored at or before it (`boundary: 'upper'`); clamps to [min, max] like RocketMQ.
   */
  searchOffsetByTimestamp(topic: string, queueId: number, timestamp: number, boundary: 'lower' | 'upper' = 'lower'): number {
    const { cq, min, max } = this.queueRange(topic, queueId);
    if (!cq) return max;
    const timeAt = (q: number): number => {
      const e = cq.get(q);
      const msg = e ? this.viewMessage(e.physicalOffset) : null;
      return msg ? MessageView.storeTimestamp(viewOf(msg), 0) : -1;
    };
    let lo = min;
    let hi = max; // first offset whose time >= timestamp (lower) / > timestamp (upper)
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const t = timeAt(mid);
      if (t < timestamp || (boundary === 'upper' && t === timestamp)) lo = mid + 1;
      else hi = mid;
    }
    if (boundary === 'upper') return Math.max(min, lo - 1);
    return lo;
  }

  // ---- checkpoints, retention, shutdown ----------------------------------------------------------------------

  /** Flushes log, queues and index, then records how far dispatching got (restart resumes from there). */
  async writeCheckpoint(): Promise<void> {
    if (this.checkpointRunning || this.closed) return;
    this.checkpointRunning = true;
    try {
      const generation = this.installGeneration;
      const dispatchedIndex = this.dispatcher.dispatchedIndex;
      const commitIndex = this.commitLog.commitIndex;
      await this.commitLog.flush();
      await this.consumeQueues.flush();
      await this.index?.flush();
      // A segment install meanwhile replaced what these indexes describe (and removed the checkpoint on purpose).
      const current = (): boolean => !this.closed && generation === this.installGeneration;
      if (!current()) return;
      await writeFileAtomicAsync(path.join(this.options.dir, CHECKPOINT_FILE), JSON.stringify({ dispatchedIndex, commitIndex, writtenAt: this.clock() } satisfies Checkpoint), current);
    } finally {
      this.checkpointRunning = false;
    }
  }

  /** Share of the store's file system in use (0..1). */
  diskUseRatio(): number {
    const s = fs.statfsSync(this.options.dir);
    return s.blocks > 0 ? 1 - s.bavail / s.blocks : 0;
  }

  private diskFreeBytes(): number {
    const s = fs.statfsSync(this.options.dir);
    return s.bavail * s.bsize;
  }

  /**
   * Deletes sealed segments older than the retention time, or the oldest ones while the disk is fuller than the
   * delete ratio, never beyond what is committed, dispatched and covered by the retention floor. Consume queues
   * and the index follow. Also refuses or re-allows appends by disk use. Returns how many segments it deleted.
   */
  runRetention(now = this.clock()): number {
    const log = this.commitLog;
    const ratio = this.diskUseRatio();
    const refuseRatio = this.options.diskUseRatioRefuse ?? DISK_USE_RATIO_REFUSE_DEFAULT;
    if (ratio > refuseRatio) {
      log.refuseAppends(StoreErrorCode.DISK_FULL, `disk ${(ratio * 100).toFixed(1)}% full (limit ${(refuseRatio * 100).toFixed(0)}%): appends refused`);
    } else if (log.appendRefusal?.code === StoreErrorCode.DISK_FULL && this.diskFreeBytes() >= 2 * log.segmentBytes) {
      log.clearRefusal(StoreErrorCode.DISK_FULL);
      this.log('disk space available again: appends allowed');
    }
    const retentionMs = this.options.retentionMs ?? RETENTION_MS_DEFAULT;
    const deleteRatio = this.options.diskUseRatioDelete ?? DISK_USE_RATIO_DELETE_DEFAULT;
    const floor = Math.min(log.commitIndex, this.dispatcher.dispatchedIndex, this.options.retentionFloor?.() ?? Infinity);
    let deleted = 0;
    for (let seg = log.oldestSealedSegment(); seg && deleted < 16; seg = log.oldestSealedSegment()) {
      if (seg.lastIndex > floor) break;
      const ageMs = now - fs.statSync(seg.filePath).mtimeMs;
      const full = deleted === 0 ? ratio > deleteRatio : this.diskUseRatio() > deleteRatio;
      if (ageMs < retentionMs && !full) break;
      log.dropOldestSegment();
      deleted++;
    }
    if (deleted > 0) {
      for (const cq of this.consumeQueues.all()) cq.deleteBelowPhysical(log.minOffset);
      this.index?.deleteBelowPhysical(log.minOffset);
      this.log(`retention deleted ${deleted} segment(s); the log now starts at offset ${log.minOffset} (entry ${log.firstIndex})`);
    }
    return deleted;
  }

  /** Stops services, flushes everything and writes a final checkpoint. */
  async close(): Promise<void> {
    if (this.closed) return;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.flusher.stop();
    while (this.checkpointRunning) await new Promise((r) => setTimeout(r, 5));
    try {
      await this.writeCheckpoint();
    } catch (err) {
      this.log(`final checkpoint failed: ${(err as Error).message}`);
    }
    this.closed = true;
    this.commitLog.close();
    this.consumeQueues.close();
    this.index?.close();
  }

  /** Closes without flushing (tests of crash behaviour in-process). */
  abandon(): void {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.commitLog.close();
    this.consumeQueues.close();
    this.index?.close();
  }
}
