// The counting side both consumers share: checks each body's size and number, times first to last new message,
// and decides when the consumer is done: every expected number arrived, or nothing new came for `idleMs` after the
// producer finished, or `timeCapMs` passed since start.
import { listenForExpect, mbRate, rate, SEQ_BYTES, SeqTracker, type ConsumerResult } from './child-io.js';

export interface CounterOptions {
  system: string;
  mode: string;
  bodyBytes: number;
  capacity: number;
  idleMs: number;
  timeCapMs: number;
}

export class ConsumeCounter {
  readonly tracker: SeqTracker;
  received = 0;
  private firstAt = 0;
  private lastAt = 0;
  private cpuAtFirst: NodeJS.CpuUsage | null = null;
  private cpuSpent: NodeJS.CpuUsage | null = null;
  private expected = -1;
  private finished = false;
  private timedOut = false;
  private readonly startedAt = performance.now();
  private resolveDone!: () => void;
  readonly done: Promise<void>;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly o: CounterOptions) {
    this.tracker = new SeqTracker(o.capacity);
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    listenForExpect((n) => {
      this.expected = n;
      if (this.lastAt === 0) this.lastAt = performance.now();
      this.check();
    });
    this.timer = setInterval(() => {
      const now = performance.now();
      if (now - this.startedAt > o.timeCapMs) this.finish(true);
      else if (this.expected >= 0 && now - Math.max(this.lastAt, this.startedAt) > o.idleMs) this.finish(true);
    }, 100);
  }

  /** One delivered body. */
  add(body: Uint8Array): void {
    this.received += 1;
    if (body.length !== this.o.bodyBytes || body.length < SEQ_BYTES) {
      this.tracker.wrongSize += 1;
      return;
    }
    const seq = ((body[0]! << 24) | (body[1]! << 16) | (body[2]! << 8) | body[3]!) >>> 0;
    if (this.tracker.add(seq)) {
      const now = performance.now();
      if (this.firstAt === 0) {
        this.firstAt = now;
        this.cpuAtFirst = process.cpuUsage();
      }
      this.lastAt = now;
      if (this.expected >= 0 && this.tracker.unique >= this.expected) this.check();
    }
  }

  private check(): void {
    if (this.expected >= 0 && this.tracker.unique >= this.expected) this.finish(false);
  }

  private finish(timedOut: boolean): void {
    if (this.finished) return;
    this.finished = true;
    this.timedOut = timedOut;
    if (this.cpuAtFirst !== null) this.cpuSpent = process.cpuUsage(this.cpuAtFirst);
    clearInterval(this.timer);
    this.resolveDone();
  }

  result(): ConsumerResult {
    const t = this.tracker;
    const elapsedMs = this.firstAt === 0 ? 0 : this.lastAt - this.firstAt;
    const expected = Math.max(0, this.expected);
    const { missing, firstMissing } = t.missingBelow(expected);
    return {
      system: this.o.system,
      mode: this.o.mode,
      received: this.received,
      unique: t.unique,
      duplicates: t.duplicates,
      outOfRange: t.outOfRange,
      wrongSize: t.wrongSize,
      expected,
      missing,
      firstMissing,
      elapsedMs: Math.round(elapsedMs),
      msgsPerSec: rate(t.unique, elapsedMs),
      mbPerSec: mbRate(t.unique * this.o.bodyBytes, elapsedMs),
      cpuMs: this.cpuSpent === null ? 0 : Math.round((this.cpuSpent.user + this.cpuSpent.system) / 1000),
      timedOut: this.timedOut,
    };
  }
}
