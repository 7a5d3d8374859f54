// A simulated network: per-link random delay (hence reordering), loss, duplication, and directed
// partitions (a blocked link drops what is sent on it and what arrives over it).

import assert from 'node:assert/strict';

import type { SeededPrng } from '../../dledger/core/prng.js';
import type { Message, NodeId } from '../../dledger/core/types.js';

export interface NetworkFaults {
  delayMin: number;
  delayMax: number;
  /** Each directed link adds a fixed extra delay in [0, linkDelayExtraMax] (slow and asymmetric links). */
  linkDelayExtraMax: number;
  dropRate: number;
  duplicateRate: number;
}

export interface Envelope {
  readonly seq: number;
  readonly deliverAt: number;
  readonly message: Message;
}

/** Bound on messages in flight; a run that exceeds it has a runaway bug. */
const IN_FLIGHT_MAX = 200_000;

export class SimNetwork {
  private readonly buckets = new Map<number, Envelope[]>();
  private readonly blocked = new Set<string>();
  private readonly linkExtra = new Map<string, number>();
  private seq = 0;
  private inFlight = 0;
  sent = 0;
  dropped = 0;

  constructor(
    readonly faults: NetworkFaults,
    private readonly prng: SeededPrng,
  ) {}

  isBlocked(from: NodeId, to: NodeId): boolean {
    return this.blocked.size > 0 && this.blocked.has(`${from}>${to}`);
  }

  block(from: NodeId, to: NodeId): void {
    this.blocked.add(`${from}>${to}`);
  }

  healAll(): void {
    this.blocked.clear();
  }

  get partitioned(): boolean {
    return this.blocked.size > 0;
  }

  send(message: Message, now: number): void {
    this.sent++;
    if (this.isBlocked(message.from, message.to) || this.prng.chance(this.faults.dropRate)) {
      this.dropped++;
      return;
    }
    this.enqueue(message, now);
    if (this.prng.chance(this.faults.duplicateRate)) this.enqueue(message, now);
  }

  /** Messages due at `now`, in send order among equal delivery ticks. Blocked links drop them here too. */
  due(now: number): Envelope[] {
    const bucket = this.buckets.get(now);
    if (bucket === undefined) return [];
    this.buckets.delete(now);
    this.inFlight -= bucket.length;
    return bucket.filter((envelope) => {
      const blocked = this.isBlocked(envelope.message.from, envelope.message.to);
      if (blocked) this.dropped++;
      return !blocked;
    });
  }

  /** Puts a message back for later delivery (the receiver is paused). */
  defer(envelope: Envelope, deliverAt: number): void {
    this.push({ seq: envelope.seq, deliverAt, message: envelope.message });
  }

  private enqueue(message: Message, now: number): void {
    const link = `${message.from}>${message.to}`;
    let extra = this.linkExtra.get(link);
    if (extra === undefined) {
      extra = this.prng.between(0, this.faults.linkDelayExtraMax);
      this.linkExtra.set(link, extra);
    }
    const delay = this.prng.between(this.faults.delayMin, this.faults.delayMax) + extra;
    this.push({ seq: ++this.seq, deliverAt: now + Math.max(1, delay), message });
  }

  private push(envelope: Envelope): void {
    assert(this.inFlight < IN_FLIGHT_MAX, 'too many messages in flight');
    let bucket = this.buckets.get(envelope.deliverAt);
    if (bucket === undefined) {
      bucket = [];
      this.buckets.set(envelope.deliverAt, bucket);
    }
    bucket.push(envelope);
    this.inFlight++;
  }
}
