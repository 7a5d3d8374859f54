// Re-balancing: for each subscribed topic, work out which queues this client should own (the average
// allocation in clustering mode, every queue in broadcasting mode) and tell the host which queues to
// release and which to take. A topic whose route or member list cannot be read keeps its current queues.
import { allocateAveragely } from './allocate.js';
import type { ClientCore } from './client-core.js';
import { ClientError, ClientErrorCode, errorText } from './errors.js';
import type { MessageModel } from './heartbeat.js';
import type { ProcessQueue } from './process-queue.js';
import { queueKey, type MessageQueue } from './route.js';
import { RETRY_ROUTE_MISSES_BEFORE_WARNING } from './limits.js';
import { RETRY_GROUP_TOPIC_PREFIX } from '../common/topic.js';

export interface RebalanceHost {
  readonly group: string;
  readonly messageModel: MessageModel;
  /** Topics to balance (subscriptions, including the retry topic in clustering mode). */
  topics(): string[];
  /** Process queues currently held, by queueKey. */
  held(): ReadonlyMap<string, ProcessQueue>;
  /** Starts consuming a newly owned queue; false when it could not (retried next round). */
  take(queue: MessageQueue): Promise<boolean>;
  /** Stops consuming a queue: drain, commit, forget. */
  release(pq: ProcessQueue): Promise<void>;
  /** False once shutdown began: no queue is taken after that. */
  active(): boolean;
}

export interface RebalanceChange {
  released: MessageQueue[];
  taken: MessageQueue[];
  /** Topics skipped and queues not taken this round; a later round should try again soon. */
  incomplete: number;
}

/** What must change for one topic, given what is held and what should be held. */
export function diffAssignment(topic: string, held: ReadonlyMap<string, ProcessQueue>, wanted: readonly MessageQueue[]): { release: ProcessQueue[]; take: MessageQueue[] } {
  const wantedKeys = new Set(wanted.map(queueKey));
  const release: ProcessQueue[] = [];
  for (const [key, pq] of held) if (pq.queue.topic === topic && !wantedKeys.has(key)) release.push(pq);
  const take = wanted.filter((q) => !held.has(queueKey(q)));
  return { release, take };
}

export class RebalanceService {
  private cursor = 0;
  /** Retry topic -> re-balance rounds in a row that found no route for it. */
  private readonly missingRetryRoutes = new Map<string, number>();

  constructor(
    private readonly core: ClientCore,
    private readonly host: RebalanceHost,
  ) {}

  /** One round over every topic; also releases queues of topics no longer subscribed. */
  async rebalance(): Promise<RebalanceChange> {
    const change: RebalanceChange = { released: [], taken: [], incomplete: 0 };
    if (!this.host.active()) return change;
    const topics = this.host.topics();
    const topicSet = new Set(topics);
    const stale = [...this.host.held().values()].filter((pq) => !topicSet.has(pq.queue.topic));
    await Promise.all(stale.map((pq) => this.host.release(pq)));
    change.released.push(...stale.map((pq) => pq.queue));
    for (const topic of topics) {
      if (!this.host.active()) break;
      let wanted: MessageQueue[];
      try {
        wanted = await this.wanted(topic);
      } catch (error) {
        this.noteSkipped(topic, error);
        change.incomplete += 1;
        continue;
      }
      this.missingRetryRoutes.delete(topic);
      const { release, take } = diffAssignment(topic, this.host.held(), wanted);
      await Promise.all(release.map((pq) => this.host.release(pq)));
      change.released.push(...release.map((pq) => pq.queue));
      const results = await Promise.all(take.map(async (q) => ((await this.host.take(q)) ? q : null)));
      for (const q of results) {
        if (q !== null) change.taken.push(q);
        else change.incomplete += 1;
      }
    }
    return change;
  }

  /**
   * A group's retry topic is created by the broker on the group's first heartbeat and routed once the broker
   * re-registers, so a new group finds no route for it for a moment: that is only worth a warning if it lasts.
   */
  private noteSkipped(topic: string, error: unknown): void {
    const message = `consumer ${this.host.group}: re-balance of ${topic} skipped: ${errorText(error)}`;
    const routeMissing = error instanceof ClientError && error.code === ClientErrorCode.NO_ROUTE;
    if (routeMissing && topic.startsWith(RETRY_GROUP_TOPIC_PREFIX)) {
      const times = (this.missingRetryRoutes.get(topic) ?? 0) + 1;
      this.missingRetryRoutes.set(topic, times);
      if (times < RETRY_ROUTE_MISSES_BEFORE_WARNING) {
        this.core.logger.debug?.(message);
        return;
      }
    }
    this.core.logger.warn(message);
  }

  private async wanted(topic: string): Promise<MessageQueue[]> {
    const route = await this.core.routes.get(topic);
    if (route === null) throw new ClientError(`no route for ${topic}`, ClientErrorCode.NO_ROUTE, true);
    if (this.host.messageModel === 'BROADCASTING') return [...route.readable];
    const ids = await this.consumerIds(topic);
    return allocateAveragely(this.core.clientId, ids, route.readable);
  }

  /** Asks the masters of the topic's groups in turn (rotating the first one) for the group's members. */
  private async consumerIds(topic: string): Promise<string[]> {
    const masters = this.core.routes.brokersOf(topic).flatMap((b) => (b.master === undefined ? [] : [b.master]));
    if (masters.length === 0) throw new ClientError(`no broker master for ${topic}`, ClientErrorCode.NO_ROUTE, true);
    let lastError: unknown = null;
    for (let i = 0; i < masters.length; i++) {
      const address = masters[(this.cursor + i) % masters.length]!;
      try {
        const ids = await this.core.broker.consumerIds(address, this.host.group);
        this.cursor = (this.cursor + i) % masters.length;
        return ids;
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  }
}
