// The consumer's buffer for one assigned queue: messages pulled but not yet consumed, keyed by queue
// offset, plus the offset boundary of everything pulled so far. The offset to commit is the smallest
// offset still unconsumed (or, when nothing is buffered, the pull boundary), so a message that is still
// being processed is never skipped after a restart or a re-balance, whatever order batches finish in.
import type { MessageExt } from '../common/message.js';
import type { MessageQueue } from './route.js';

export class ProcessQueue {
  /** Unconsumed messages by queue offset. Kept in ascending key order, so the first key is the minimum. */
  private readonly messages = new Map<number, MessageExt>();
  private highestOffset = -1;
  private bodyBytes = 0;
  /** Every offset below this was pulled (delivered or filtered out). */
  private pulledUpTo: number;
  /** Listener calls running on this queue's messages. */
  private running = 0;
  private idleWaiters: Array<() => void> = [];
  private roomWaiters: Array<() => void> = [];
  private droppedFlag = false;

  constructor(
    readonly queue: MessageQueue,
    startOffset: number,
    private readonly maxCount: number,
    private readonly maxBytes: number,
  ) {
    this.pulledUpTo = startOffset;
  }

  get dropped(): boolean {
    return this.droppedFlag;
  }

  get count(): number {
    return this.messages.size;
  }

  get bytes(): number {
    return this.bodyBytes;
  }

  get inflight(): number {
    return this.running;
  }

  /** Where the next pull starts. */
  get nextPullOffset(): number {
    return this.pulledUpTo;
  }

  /** True while the buffer holds more than a flow-control threshold allows (pulling pauses). */
  get full(): boolean {
    return this.messages.size > this.maxCount || this.bodyBytes > this.maxBytes;
  }

  /**
   * Adds pulled messages and moves the pull boundary to `nextBeginOffset`. Messages at or beyond the
   * boundary or already buffered are ignored. Returns the messages actually added.
   */
  put(msgs: readonly MessageExt[], nextBeginOffset: number): MessageExt[] {
    const added: MessageExt[] = [];
    for (const msg of msgs) {
      if (this.messages.has(msg.queueOffset)) continue;
      if (msg.queueOffset < this.highestOffset) this.reorderAfter(msg);
      else this.messages.set(msg.queueOffset, msg);
      this.highestOffset = Math.max(this.highestOffset, msg.queueOffset);
      this.bodyBytes += msg.body.length;
      added.push(msg);
    }
    this.pulledUpTo = nextBeginOffset;
    return added;
  }

  /** Moves the pull boundary without messages (NO_NEW_MSG, NO_MATCHED_MSG, OFFSET_ILLEGAL). */
  advanceTo(nextBeginOffset: number): void {
    this.pulledUpTo = nextBeginOffset;
    if (this.messages.size === 0) this.highestOffset = nextBeginOffset - 1;
  }

  /** Marks consumed messages; returns the offset to commit afterwards. */
  remove(msgs: readonly MessageExt[]): number {
    for (const msg of msgs) {
      const held = this.messages.get(msg.queueOffset);
      if (held === undefined) continue;
      this.messages.delete(msg.queueOffset);
      this.bodyBytes -= held.body.length;
    }
    if (!this.full) this.wake(this.roomWaiters);
    return this.committableOffset();
  }

  /** The smallest offset not yet consumed: the first buffered message, or the pull boundary. */
  committableOffset(): number {
    for (const offset of this.messages.keys()) return offset;
    return this.pulledUpTo;
  }

  /** Whether `msg` is still buffered (not consumed, not dropped). */
  holds(msg: MessageExt): boolean {
    return this.messages.get(msg.queueOffset) === msg;
  }

  beginConsume(): void {
    this.running += 1;
  }

  endConsume(): void {
    this.running -= 1;
    if (this.running === 0) this.wake(this.idleWaiters);
  }

  /** Resolves once no listener call runs on this queue, or after `timeoutMs`; true when idle. */
  async whenIdle(timeoutMs: number): Promise<boolean> {
    if (this.running === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const idle = await Promise.race([
      new Promise<boolean>((resolve) => this.idleWaiters.push(() => resolve(true))),
      // Ref'd on purpose: a caller awaiting the drain must not see the process exit under it; the timer is bounded and cleared.
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    return idle;
  }

  /** Resolves once the buffer is below its thresholds or the queue is dropped. */
  whenRoom(): Promise<void> {
    if (!this.full || this.droppedFlag) return Promise.resolve();
    return new Promise<void>((resolve) => this.roomWaiters.push(resolve));
  }

  /** Stops this queue: pulling ends, buffered messages are no longer handed out, waiters are released. */
  drop(): void {
    this.droppedFlag = true;
    this.wake(this.roomWaiters);
  }

  private wake(list: Array<() => void>): void {
    if (list.length === 0) return;
    const waiters = list.splice(0, list.length);
    for (const w of waiters) w();
  }

  /** Inserts an out-of-order message (after an offset reset) while keeping the map in ascending order. */
  private reorderAfter(msg: MessageExt): void {
    const entries = [...this.messages.entries(), [msg.queueOffset, msg] as [number, MessageExt]].sort((a, b) => a[0] - b[0]);
    this.messages.clear();
    for (const [offset, m] of entries) this.messages.set(offset, m);
  }
}
