// The broker's replicated state: topics, subscription groups, consumer offsets and delayed-delivery progress.
// It changes only by applying committed log entries (STATE entries, and op messages in system topics), in log
// order, on every node, so every replica holds the same state and a new leader resumes exactly where the old
// one stopped. A snapshot (state.json, with the index it covers) lets restart skip what was applied before, and
// bounds retention: the log is never deleted beyond the last snapshot.
import path from 'node:path';
import { readJsonFile, removeStaleTemps, writeFileAtomicAsync, writeJsonFileAtomic } from '../store/atomic-file.js';
import { TopicTable, type TopicConfig } from './topic-config.js';
import { ConsumerOffsetTable } from './consumer-offsets.js';
import { SubscriptionGroupTable, type SubscriptionGroupConfig } from './subscription-groups.js';
import { TransactionState, type TxnSnapshot } from './transaction-state.js';

/** One change carried by a STATE entry. */
export type StateOp =
  | { t: 'topic'; config: TopicConfig }
  | { t: 'topicDelete'; topic: string }
  | { t: 'group'; config: SubscriptionGroupConfig }
  | { t: 'groupDelete'; group: string }
  | { t: 'offsets'; group: string; topic: string; queues: Record<string, number> }
  /** The leader's transaction check service sent back-checks for these half messages. */
  | { t: 'txnChecks'; items: Array<{ o: number; checks: number; next: number }> }
  /** Half offsets below `to` no longer exist on the leader (retention): every node forgets them alike. */
  | { t: 'txnSkip'; to: number };

export interface StateEntry {
  ops: StateOp[];
}

export function encodeStateEntry(ops: StateOp[]): Buffer {
  return Buffer.from(JSON.stringify({ ops } satisfies StateEntry));
}

export interface StateSnapshot {
  version: 1;
  /** Every entry up to this index is reflected. */
  appliedIndex: number;
  topics: TopicConfig[];
  groups: SubscriptionGroupConfig[];
  offsets: Record<string, Record<string, number>>;
  /** Delay level -> next schedule-queue offset to deliver. */
  delayProgress: Record<string, number>;
  /** The Raft membership in effect at appliedIndex, with member addresses (opaque here; the Raft node owns it). */
  raftMembership?: unknown;
  txn?: TxnSnapshot;
}

const SNAPSHOT_FILE = 'state.json';

export class ReplicatedState {
  readonly topics = new TopicTable();
  readonly groups = new SubscriptionGroupTable();
  readonly offsets = new ConsumerOffsetTable();
  /** Delay level -> next offset of its schedule queue to deliver. */
  readonly delayProgress = new Map<number, number>();
  readonly txn = new TransactionState();
  /** Index of the last entry applied (the snapshot's, after a restart). */
  appliedIndex = 0;
  /** Index covered by the last snapshot written to disk. */
  snapshotIndex = 0;
  private readonly listeners: Array<(op: StateOp) => void> = [];
  /** Raft membership restored from the snapshot, and where to get the current one when saving. */
  raftMembership: unknown = undefined;
  raftMembershipAt: ((index: number) => unknown) | null = null;

  constructor(
    private readonly dir: string,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Loads the snapshot, if any; returns the index it covers. */
  load(): number {
    removeStaleTemps(path.join(this.dir, SNAPSHOT_FILE));
    const snap = readJsonFile<StateSnapshot>(path.join(this.dir, SNAPSHOT_FILE));
    if (!snap) return 0;
    this.restore(snap);
    return snap.appliedIndex;
  }

  restore(snap: StateSnapshot): void {
    this.topics.restore(snap.topics);
    this.groups.restore(snap.groups);
    this.offsets.restore(snap.offsets);
    this.delayProgress.clear();
    for (const [level, offset] of Object.entries(snap.delayProgress)) this.delayProgress.set(Number(level), offset);
    this.txn.restore(snap.txn);
    this.appliedIndex = snap.appliedIndex;
    this.snapshotIndex = snap.appliedIndex;
    this.raftMembership = snap.raftMembership;
  }

  /** Called for every applied op (e.g. to re-register topics with name servers). */
  onChange(listener: (op: StateOp) => void): void {
    this.listeners.push(listener);
  }

  /** Applies a committed STATE entry. Entries at or below the snapshot index were applied already. */
  applyEntry(index: number, payload: Buffer): void {
    if (index <= this.appliedIndex) return;
    let entry: StateEntry;
    try {
      entry = JSON.parse(payload.toString('utf8')) as StateEntry;
    } catch (err) {
      // A committed entry that does not parse is a bug (we wrote it), not an operating error.
      throw new Error(`STATE entry ${index} is not valid JSON: ${(err as Error).message}`);
    }
    for (const op of entry.ops) this.applyOp(op);
    this.appliedIndex = index;
  }

  /** Notes that entries up to `index` (of other kinds) were applied. */
  advance(index: number): void {
    if (index > this.appliedIndex) this.appliedIndex = index;
  }

  private applyOp(op: StateOp): void {
    const now = this.clock();
    switch (op.t) {
      case 'topic':
        this.topics.put(op.config, now);
        break;
      case 'topicDelete':
        this.topics.delete(op.topic, now);
        break;
      case 'group':
        this.groups.put(op.config);
        break;
      case 'groupDelete':
        this.groups.delete(op.group);
        break;
      case 'offsets':
        for (const [q, offset] of Object.entries(op.queues)) this.offsets.set(op.group, op.topic, Number(q), offset);
        break;
      case 'txnChecks':
        for (const item of op.items) this.txn.recordCheck(item.o, { checks: item.checks, nextCheckAt: item.next });
        break;
      case 'txnSkip':
        this.txn.skipTo(op.to);
        break;
    }
    for (const l of this.listeners) l(op);
  }

  /** Applies delayed-delivery progress carried by a committed schedule op message. */
  applyDelayProgress(level: number, nextOffset: number): void {
    if (nextOffset > (this.delayProgress.get(level) ?? 0)) this.delayProgress.set(level, nextOffset);
  }

  snapshot(): StateSnapshot {
    return {
      version: 1,
      appliedIndex: this.appliedIndex,
      topics: this.topics.snapshot(),
      groups: this.groups.snapshot(),
      offsets: this.offsets.snapshot(),
      delayProgress: Object.fromEntries([...this.delayProgress].map(([l, o]) => [String(l), o])),
      raftMembership: this.raftMembershipAt ? this.raftMembershipAt(this.appliedIndex) : this.raftMembership,
      txn: this.txn.snapshot(),
    };
  }

  /** Bumped by every snapshot write; an asynchronous write renames only if no write started after it. */
  private writeGeneration = 0;

  /**
   * Writes the snapshot atomically, synchronously (shutdown, segment install). The caller makes sure the log
   * holds everything the snapshot covers durably first.
   */
  saveSnapshot(): void {
    if (this.appliedIndex === this.snapshotIndex) return;
    const snap = this.snapshot();
    this.writeGeneration++;
    writeJsonFileAtomic(path.join(this.dir, SNAPSHOT_FILE), snap);
    this.snapshotIndex = snap.appliedIndex;
  }

  private saving: Promise<void> | null = null;

  /**
   * The periodic snapshot: captured now (synchronously, so it is consistent), written off the event loop once
   * `durable` resolved (the log must hold what the snapshot covers: after a power loss a snapshot ahead of the
   * log could not be used). `snapshotIndex`, which bounds retention, moves only once the file is durable. A
   * synchronous save meanwhile (e.g. a segment install) wins: this one is then dropped.
   */
  saveSnapshotAsync(durable: () => Promise<unknown> = () => Promise.resolve()): Promise<void> {
    if (this.saving || this.appliedIndex === this.snapshotIndex) return this.saving ?? Promise.resolve();
    const snap = this.snapshot();
    const generation = ++this.writeGeneration;
    this.saving = durable()
      .then(() => writeFileAtomicAsync(path.join(this.dir, SNAPSHOT_FILE), JSON.stringify(snap), () => generation === this.writeGeneration))
      .then((written) => {
        if (written && snap.appliedIndex > this.snapshotIndex) this.snapshotIndex = snap.appliedIndex;
      })
      .finally(() => {
        this.saving = null;
      });
    return this.saving;
  }
}
