// A bounded-concurrency pool that runs listener batches from every assigned queue. Batches start in
// the order they were submitted (so one queue's messages start in queue order); at most `concurrency`
// run at once. Batches of a dropped queue are skipped: their messages stay unconsumed in the process
// queue, so the committed offset stays below them and the queue's next owner gets them.
import type { MessageExt } from '../common/message.js';
import type { Logger } from '../remoting/index.js';
import { errorText } from './errors.js';
import type { ProcessQueue } from './process-queue.js';

export interface ConsumeTask {
  readonly pq: ProcessQueue;
  readonly msgs: MessageExt[];
}

export class ConsumeService {
  private readonly queue: ConsumeTask[] = [];
  private head = 0;
  private running = 0;
  private stopped = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly concurrency: number,
    private readonly batchSize: number,
    private readonly run: (task: ConsumeTask) => Promise<void>,
    private readonly logger: Logger,
  ) {}

  get active(): number {
    return this.running;
  }

  get pending(): number {
    return this.queue.length - this.head;
  }

  /** Splits `msgs` into batches of at most batchSize and queues them. */
  submit(pq: ProcessQueue, msgs: readonly MessageExt[]): void {
    if (this.stopped) return;
    for (let i = 0; i < msgs.length; i += this.batchSize) this.queue.push({ pq, msgs: msgs.slice(i, i + this.batchSize) });
    this.pump();
  }

  /** Queues one batch as is (a local retry). */
  resubmit(task: ConsumeTask): void {
    if (this.stopped) return;
    this.queue.push(task);
    this.pump();
  }

  /** Drops every queued batch and starts no more; resolves once running batches are done. */
  stop(): Promise<void> {
    this.stopped = true;
    this.queue.length = 0;
    this.head = 0;
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    while (!this.stopped && this.running < this.concurrency && this.head < this.queue.length) {
      const task = this.queue[this.head]!;
      this.queue[this.head] = undefined as never;
      this.head += 1;
      if (task.pq.dropped) continue;
      this.start(task);
    }
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }

  private start(task: ConsumeTask): void {
    this.running += 1;
    task.pq.beginConsume();
    this.run(task)
      .catch((error) => this.logger.warn(`consumer: batch of ${task.msgs.length} from ${task.pq.queue.topic}/${task.pq.queue.queueId} failed: ${errorText(error)}`))
      .finally(() => {
        this.running -= 1;
        task.pq.endConsume();
        if (this.running === 0 && this.idleWaiters.length > 0) for (const w of this.idleWaiters.splice(0)) w();
        this.pump();
      });
  }
}
