// Producer queue choice: round-robin over writable queues, skipping broker groups that failed recently
// and, on a retry, the group that just failed. Pure: the clock is injected.
import type { MessageQueue } from './route.js';

/** Remembers broker groups that failed a send, and until when they are avoided. */
export class FaultTracker {
  private readonly avoidUntil = new Map<string, number>();

  constructor(
    private readonly avoidanceMs: number,
    private readonly now: () => number,
  ) {}

  markFailed(brokerName: string): void {
    if (this.avoidanceMs <= 0) return;
    this.avoidUntil.set(brokerName, this.now() + this.avoidanceMs);
  }

  /** A success proves the group healthy again. */
  markHealthy(brokerName: string): void {
    this.avoidUntil.delete(brokerName);
  }

  isAvoided(brokerName: string): boolean {
    const until = this.avoidUntil.get(brokerName);
    if (until === undefined) return false;
    if (until > this.now()) return true;
    this.avoidUntil.delete(brokerName);
    return false;
  }

  /** Number of groups tracked (bounded by the broker groups of the routes in use). */
  get size(): number {
    return this.avoidUntil.size;
  }
}

export class RoundRobinSelector {
  private index: number;

  /** `start` spreads producers that start together over different first queues. */
  constructor(start = 0) {
    this.index = Math.abs(Math.trunc(start)) % 0x7fff_ffff;
  }

  /**
   * The next queue in turn, preferring, in this order: a group that is neither avoided nor `notBroker`;
   * a group that is not avoided; a group other than `notBroker`; any queue. Undefined when `queues` is empty.
   */
  select(queues: readonly MessageQueue[], faults: FaultTracker, notBroker?: string): MessageQueue | undefined {
    const n = queues.length;
    if (n === 0) return undefined;
    const start = this.index;
    this.index = (this.index + 1) % 0x7fff_ffff;
    const pick = (accept: (q: MessageQueue) => boolean): MessageQueue | undefined => {
      for (let i = 0; i < n; i++) {
        const q = queues[(start + i) % n]!;
        if (accept(q)) return q;
      }
      return undefined;
    };
    return (
      pick((q) => q.brokerName !== notBroker && !faults.isAvoided(q.brokerName)) ??
      pick((q) => !faults.isAvoided(q.brokerName)) ??
      pick((q) => q.brokerName !== notBroker) ??
      queues[start % n]
    );
  }
}
