// A counting semaphore with a bounded FIFO of waiters: the bound on in-flight sends.
import { ClientError, ClientErrorCode } from './errors.js';

export class Semaphore {
  private available: number;
  private readonly waiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  private head = 0;
  private closedWith: Error | null = null;

  constructor(
    readonly permits: number,
    private readonly waitersMax: number,
  ) {
    this.available = permits;
  }

  get inUse(): number {
    return this.permits - this.available;
  }

  get waiting(): number {
    return this.waiters.length - this.head;
  }

  /** Resolves with a permit; rejects with BUSY when the waiting line is full, or the close error. */
  acquire(): Promise<void> {
    if (this.closedWith !== null) return Promise.reject(this.closedWith);
    if (this.available > 0) {
      this.available -= 1;
      return Promise.resolve();
    }
    if (this.waiting >= this.waitersMax) {
      return Promise.reject(new ClientError(`${this.waitersMax} operations are already waiting for one of ${this.permits} slots`, ClientErrorCode.BUSY, true));
    }
    return new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  release(): void {
    if (this.head < this.waiters.length) {
      const next = this.waiters[this.head]!;
      this.waiters[this.head] = undefined as never;
      this.head += 1;
      this.compact();
      next.resolve();
      return;
    }
    this.available = Math.min(this.permits, this.available + 1);
  }

  /** Rejects every waiter and every later acquire. */
  close(error: Error): void {
    this.closedWith = error;
    const pending = this.waiters.slice(this.head);
    this.waiters.length = 0;
    this.head = 0;
    for (const w of pending) w.reject(error);
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.waiters.length) {
      this.waiters.splice(0, this.head);
      this.head = 0;
    }
  }
}
