// Long polling: a pull that finds nothing new is parked (per topic and queue) until a message arrives for that
// queue or its suspend time runs out, then run again without suspension and answered.
import { HELD_PULLS_MAX } from './limits.js';

interface HeldPull {
  /** Queue offset the consumer asked for: woken only when the queue grows past it. */
  offset: number;
  deadline: number;
  wake: () => void;
}

export class PullHoldService {
  private readonly held = new Map<string, HeldPull[]>();
  private count = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly clock: () => number,
    private readonly checkIntervalMs = 100,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.expire(), this.checkIntervalMs);
    this.timer.unref();
  }

  get heldCount(): number {
    return this.count;
  }

  /** Parks a pull; returns false when too many are held (the caller answers at once). */
  hold(topic: string, queueId: number, offset: number, suspendMs: number, wake: () => void): boolean {
    if (this.count >= HELD_PULLS_MAX) return false;
    const key = `${topic}\u0000${queueId}`;
    let list = this.held.get(key);
    if (!list) {
      list = [];
      this.held.set(key, list);
    }
    list.push({ offset, deadline: this.clock() + suspendMs, wake });
    this.count++;
    return true;
  }

  /** Messages arrived: wakes the pulls of that queue that were waiting for offsets below `maxOffset`. */
  notifyArrival(topic: string, queueId: number, maxOffset: number): void {
    const key = `${topic}\u0000${queueId}`;
    const list = this.held.get(key);
    if (!list) return;
    const keep: HeldPull[] = [];
    const ready: HeldPull[] = [];
    for (const p of list) (p.offset < maxOffset ? ready : keep).push(p);
    if (keep.length === 0) this.held.delete(key);
    else this.held.set(key, keep);
    this.count -= ready.length;
    for (const p of ready) p.wake();
  }

  private expire(): void {
    const now = this.clock();
    for (const [key, list] of this.held) {
      const keep = list.filter((p) => p.deadline > now);
      if (keep.length === list.length) continue;
      if (keep.length === 0) this.held.delete(key);
      else this.held.set(key, keep);
      for (const p of list) if (p.deadline <= now) p.wake();
      this.count -= list.length - keep.length;
    }
  }

  /** Answers every held pull now (shutdown, or losing leadership). */
  wakeAll(): void {
    const all = [...this.held.values()].flat();
    this.held.clear();
    this.count = 0;
    for (const p of all) p.wake();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.wakeAll();
  }
}
