// A simulated disk for one node. Every write is visible at once (the page cache) and becomes durable
// after a random latency, in FIFO order (driver rule R2). A crash keeps the durable state plus a
// random prefix of the pending writes, the last of which may be torn (only some of its entries).

import assert from 'node:assert/strict';

import type { SeededPrng } from '../../dledger/core/prng.js';
import type { HardState, Membership } from '../../dledger/core/types.js';
import { type LogImage, type SimEntry, SimLog } from './sim-log.js';

export type DiskOp =
  | { readonly kind: 'hardState'; readonly hardState: HardState }
  | { readonly kind: 'truncate'; readonly fromIndex: number }
  | { readonly kind: 'append'; readonly entries: readonly SimEntry[] }
  | { readonly kind: 'install'; readonly image: LogImage }
  | { readonly kind: 'compact'; readonly throughIndex: number };

interface PendingOp {
  readonly op: DiskOp;
  readonly seq: number;
  readonly doneAt: number;
}

/** Bound on queued writes per node; the simulator never gets near it. */
const PENDING_OPS_MAX = 100_000;

export class SimDisk {
  /** What the node sees (the page cache). */
  log: SimLog;
  hardState: HardState = { term: 0, votedFor: null };
  private durableLog: SimLog;
  private durableHardState: HardState = { term: 0, votedFor: null };
  private pending: PendingOp[] = [];
  private lastSeq = 0;
  private durableSeqValue = 0;
  private lastDoneAt = 0;

  constructor(
    initialMembership: Membership,
    segmentEntries: number,
    private readonly latencyMin: number,
    private latencyMax: number,
  ) {
    this.log = new SimLog(initialMembership, segmentEntries);
    this.durableLog = new SimLog(initialMembership, segmentEntries);
  }

  /** What survives a crash right now (for checkers; never read by the driver before a crash). */
  get durable(): { readonly log: SimLog; readonly hardState: HardState } {
    return { log: this.durableLog, hardState: this.durableHardState };
  }

  /** A slow disk (fault phase only): writes take up to `latencyMax` ticks. */
  setLatencyMax(latencyMax: number): void {
    this.latencyMax = Math.max(this.latencyMin, latencyMax);
  }

  /** When the last queued write becomes durable. */
  get lastDoneAtTick(): number {
    return this.lastDoneAt;
  }

  /** Sequence number of the last write queued. */
  get queuedSeq(): number {
    return this.lastSeq;
  }

  get durableSeq(): number {
    return this.durableSeqValue;
  }

  get pendingCount(): number {
    return this.pending.length;
  }

  /** Applies `op` to the visible state and queues it for durability. Returns its sequence number. */
  write(op: DiskOp, now: number, prng: SeededPrng): number {
    applyOp(this.log, op);
    if (op.kind === 'hardState') this.hardState = op.hardState;
    assert(this.pending.length < PENDING_OPS_MAX, 'disk queue overflow');
    const doneAt = Math.max(this.lastDoneAt, now + prng.between(this.latencyMin, this.latencyMax));
    this.lastDoneAt = doneAt;
    this.lastSeq++;
    this.pending.push({ op, seq: this.lastSeq, doneAt });
    return this.lastSeq;
  }

  /** Makes every write due by `now` durable; returns them in order. */
  complete(now: number): DiskOp[] {
    const done: DiskOp[] = [];
    while (this.pending.length > 0 && (this.pending[0] as PendingOp).doneAt <= now) {
      const pending = this.pending.shift() as PendingOp;
      this.makeDurable(pending.op);
      this.durableSeqValue = pending.seq;
      done.push(pending.op);
    }
    return done;
  }

  /** Power loss: a random prefix of pending writes reaches the disk, the next append maybe partly. */
  crash(prng: SeededPrng): { lostOps: number; tornEntries: number } {
    const survive = prng.nextInt(this.pending.length + 1);
    for (let i = 0; i < survive; i++) this.makeDurable((this.pending[i] as PendingOp).op);
    let tornEntries = 0;
    const torn = this.pending[survive];
    if (torn !== undefined && torn.op.kind === 'append' && torn.op.entries.length > 1) {
      tornEntries = prng.nextInt(torn.op.entries.length);
      if (tornEntries > 0) this.makeDurable({ kind: 'append', entries: torn.op.entries.slice(0, tornEntries) });
    }
    const lostOps = this.pending.length - survive;
    this.pending = [];
    this.lastDoneAt = 0;
    this.log = this.durableLog.clone();
    this.hardState = this.durableHardState;
    return { lostOps, tornEntries };
  }

  private makeDurable(op: DiskOp): void {
    applyOp(this.durableLog, op);
    if (op.kind === 'hardState') this.durableHardState = op.hardState;
  }
}

function applyOp(log: SimLog, op: DiskOp): void {
  switch (op.kind) {
    case 'hardState':
      return;
    case 'truncate':
      return log.truncateFrom(op.fromIndex);
    case 'append':
      return log.append(op.entries);
    case 'install':
      return log.install(op.image);
    case 'compact':
      return log.compactThrough(op.throughIndex);
  }
}
