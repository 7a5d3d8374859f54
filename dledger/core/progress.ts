// The leader's view of one follower, and the replication state machine (etcd's probe/replicate/snapshot,
// DLedger's compare/append/install):
//
//            reject (hint)             success                 snapshot acked / status
//   replicate ─────────────► probe ─────────────► replicate     snapshot ─────────────► probe
//        ▲                     │ next below the leader's first index                     │
//        │                     └──────────────────────────────► snapshot ◄───────────────┘ (failed: retried)
//        └──────────────────────────────────────────────────────────────────────────────┘
//
// probe: one batch at a time (paused until an answer or a heartbeat response), to find where logs agree.
// replicate: optimistic pipelining, `next` runs ahead of `match` within the inflight window.
// snapshot: segments are being transferred out of band; nothing else is sent until that resolves.

import assert from 'node:assert/strict';

import { Inflights } from './inflights.js';

export const ProgressState = { Probe: 'probe', Replicate: 'replicate', Snapshot: 'snapshot' } as const;
export type ProgressState = (typeof ProgressState)[keyof typeof ProgressState];

export class Progress {
  /** Highest index known to match the leader's log (acknowledged durable by the follower). */
  match = 0;
  /** Next index to send. Invariant: match < next. */
  next: number;
  state: ProgressState = ProgressState.Probe;
  /** Probe state: a batch is outstanding, send nothing more until an answer or a heartbeat response. */
  probeSent = false;
  /** Snapshot state: the index being installed. */
  pendingSnapshot = 0;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  /** An append went out since the last heartbeat round (limits gap probes to one per interval). */
  appendSentSinceHeartbeat = false;
  /** Highest commit index sent to this follower (to skip redundant commit notices). */
  commitSent = 0;
  readonly inflights: Inflights;

  constructor(next: number, inflightBatchesMax: number, inflightBytesMax: number) {
    assert(next >= 1);
    this.next = next;
    this.inflights = new Inflights(inflightBatchesMax, inflightBytesMax);
  }

  becomeProbe(): void {
    // After a snapshot the follower has at least the snapshot index, so probing starts above it.
    const base = this.state === ProgressState.Snapshot ? Math.max(this.match, this.pendingSnapshot) : this.match;
    this.state = ProgressState.Probe;
    this.next = base + 1;
    this.resetFlow();
  }

  becomeReplicate(): void {
    this.state = ProgressState.Replicate;
    this.next = this.match + 1;
    this.resetFlow();
  }

  becomeSnapshot(index: number): void {
    assert(index >= this.match);
    this.state = ProgressState.Snapshot;
    this.pendingSnapshot = index;
    this.probeSent = false;
    this.inflights.reset();
  }

  /** The follower acknowledged its log matches through `index`. Returns whether this was news. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (index > this.match) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    this.inflights.freeTo(index);
    this.assertInvariants();
    return updated;
  }

  /**
   * The follower rejected prevIndex `rejected`, hinting that index `hintNext - 1` may match.
   * Returns false when the rejection is stale (answers a batch we have since moved past).
   */
  maybeBackOff(rejected: number, hintNext: number): boolean {
    if (this.state === ProgressState.Replicate) {
      if (rejected <= this.match) return false;
      this.becomeProbe(); // pipelined batches after the rejected one are void: start over from match+1
      return true;
    }
    if (this.state === ProgressState.Snapshot || this.next - 1 !== rejected) return false;
    // The rejected prevIndex itself does not match, so the next probe starts at or below it.
    this.next = Math.max(this.match + 1, Math.min(rejected, hintNext));
    this.probeSent = false;
    this.assertInvariants();
    return true;
  }

  /** Whether a batch may be sent now. */
  paused(): boolean {
    switch (this.state) {
      case ProgressState.Probe:
        return this.probeSent;
      case ProgressState.Replicate:
        return this.inflights.full();
      case ProgressState.Snapshot:
        return true;
    }
  }

  /** Records a batch ending at `lastIndex` as sent (`lastIndex === next - 1` for an empty one). */
  sent(lastIndex: number, bytes: number): void {
    assert(lastIndex >= this.next - 1);
    if (this.state === ProgressState.Replicate) {
      if (lastIndex >= this.next) {
        this.inflights.add(lastIndex, bytes);
        this.next = lastIndex + 1;
      }
    } else {
      assert(this.state === ProgressState.Probe);
      this.probeSent = true;
    }
    this.assertInvariants();
  }

  private resetFlow(): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.inflights.reset();
    this.assertInvariants();
  }

  private assertInvariants(): void {
    assert(this.match >= 0);
    assert(this.next > this.match, 'progress: next must stay above match');
  }
}
