// Flushing the commit log to disk.
//  - ASYNC_FLUSH: a periodic fsync; an acknowledged write survives a process crash (it is in the page cache)
//    but not a power cut that comes before the next flush.
//  - SYNC_FLUSH: group commit: writers wait for the fsync that covers their record; one fsync runs at a time and
//    covers everything written before it started, so many writers share each fsync.
import type { CommitLog } from './commit-log.js';
import { StoreError, StoreErrorCode } from './errors.js';

export const FlushMode = {
  ASYNC: 'ASYNC_FLUSH',
  SYNC: 'SYNC_FLUSH',
} as const;
export type FlushMode = (typeof FlushMode)[keyof typeof FlushMode];

interface Waiter {
  offset: number;
  /** The log and its rewind count when the wait began: a truncation or install since then orphans the wait. */
  log: CommitLog;
  rewinds: number;
  since: number;
  resolve: (durable: boolean) => void;
  reject: (err: Error) => void;
}

export interface FlushServiceOptions {
  mode: FlushMode;
  intervalMs: number;
  syncTimeoutMs: number;
  clock: () => number;
  log: (message: string) => void;
  /** Called after each successful flush with the flushed offset. */
  onFlushed?: (offset: number) => void;
}

export class FlushService {
  private readonly waiters: Waiter[] = [];
  private waiterHead = 0;
  private running = false;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  private failure: StoreError | null = null;

  /** The log is read through `logOf` because a segment install replaces it. */
  constructor(
    private readonly logOf: () => CommitLog,
    private readonly options: FlushServiceOptions,
  ) {}

  private get commitLog(): CommitLog {
    return this.logOf();
  }

  start(): void {
    const period = this.options.mode === FlushMode.ASYNC ? this.options.intervalMs : Math.min(100, this.options.syncTimeoutMs);
    this.timer = setInterval(() => {
      if (this.options.mode === FlushMode.ASYNC) this.flushNow();
      else this.expireWaiters();
    }, period);
    this.timer.unref();
  }

  /**
   * Resolves true once everything below `offset` is on disk; false if that took longer than the sync timeout, or if
   * the log was truncated or replaced meanwhile (the bytes waited for are gone: the caller asks again for what is
   * there now).
   */
  waitFlushed(offset: number): Promise<boolean> {
    if (this.failure) return Promise.reject(this.failure);
    const log = this.commitLog;
    if (log.flushedOffset >= offset) return Promise.resolve(true);
    return new Promise<boolean>((resolve, reject) => {
      this.waiters.push({ offset, log, rewinds: log.rewinds, since: this.options.clock(), resolve, reject });
      this.flushNow();
    });
  }

  /** Starts a flush unless one is running (then another follows it). */
  flushNow(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void this.loop();
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false;
        const flushed = await this.commitLog.flush();
        this.options.onFlushed?.(flushed);
        this.release(flushed);
      } while (this.again || this.pendingWaiters() > 0 && this.commitLog.flushedOffset < this.commitLog.writeOffset);
    } catch (err) {
      this.fail(err as Error);
    } finally {
      this.running = false;
    }
  }

  private pendingWaiters(): number {
    return this.waiters.length - this.waiterHead;
  }

  private release(flushed: number): void {
    const log = this.commitLog;
    while (this.waiterHead < this.waiters.length) {
      const w = this.waiters[this.waiterHead]!;
      // Waiters are in write order, and every one registered before a rewind is orphaned by it: they lead the queue.
      if (w.log !== log || w.rewinds !== log.rewinds) w.resolve(false);
      else if (w.offset <= flushed) w.resolve(true);
      else break;
      this.waiterHead++;
    }
    this.compact();
  }

  private expireWaiters(): void {
    this.release(this.commitLog.flushedOffset);
    const deadline = this.options.clock() - this.options.syncTimeoutMs;
    while (this.waiterHead < this.waiters.length && this.waiters[this.waiterHead]!.since <= deadline) {
      this.waiters[this.waiterHead++]!.resolve(false);
    }
    this.compact();
  }

  private compact(): void {
    if (this.waiterHead > 1024 && this.waiterHead * 2 > this.waiters.length) {
      this.waiters.splice(0, this.waiterHead);
      this.waiterHead = 0;
    }
  }

  private fail(err: Error): void {
    const storeErr = err instanceof StoreError ? err : new StoreError(StoreErrorCode.IO_ERROR, `flush failed: ${err.message}`, { cause: err });
    this.failure = storeErr;
    this.options.log(`flush failed, appends are refused until restart: ${storeErr.message}`);
    this.commitLog.refuseAppends(storeErr.code, `${storeErr.message}; appends are refused until the broker restarts`);
    while (this.waiterHead < this.waiters.length) this.waiters[this.waiterHead++]!.reject(storeErr);
    this.compact();
  }

  /** Stops the timer and flushes what is left. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    while (this.running) await new Promise((r) => setImmediate(r));
    if (!this.failure) {
      const flushed = await this.commitLog.flush();
      this.release(flushed);
    }
    this.expireAll();
  }

  private expireAll(): void {
    while (this.waiterHead < this.waiters.length) this.waiters[this.waiterHead++]!.resolve(false);
    this.waiters.length = 0;
    this.waiterHead = 0;
  }
}
