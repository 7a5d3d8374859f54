// PullConsumer: the caller drives everything (which queue, which offset, when to commit). The client
// only resolves routes, long-polls when asked to, re-checks tags and keeps heartbeats going.
import type { MessageExt } from '../common/message.js';
import { topicNameProblem } from '../common/topic.js';
import { PullSysFlag, type PullStatus } from './broker-api.js';
import { checkGroupName, ClientCore, positiveInteger, type ClientOptions } from './client-core.js';
import { ClientError, ClientErrorCode, illegalArgument, leaderHintFromRemark, ROUTE_STALE_CODES } from './errors.js';
import type { ConsumerData } from './heartbeat.js';
import { PULL_BATCH_SIZE_MAX, PULL_TIMEOUT_MARGIN_MS, SUBSCRIPTIONS_MAX, SUSPEND_TIMEOUT_MS_MAX } from './limits.js';
import { filterByTag } from './pull-service.js';
import type { MessageQueue } from './route.js';
import { subscriptionData, type SubscriptionData } from './subscription.js';

export interface PullConsumerOptions extends ClientOptions {
  group: string;
}

export interface PullResult {
  status: PullStatus;
  nextBeginOffset: number;
  minOffset: number;
  maxOffset: number;
  /** FOUND only; already filtered by the expression's tags. */
  messages: MessageExt[];
}

export interface PullOptions {
  /** TAG expression, default '*'. */
  expression?: string;
  /** Let the broker hold the request up to this long when nothing is there yet (long polling). */
  suspendTimeoutMs?: number;
}

export class PullConsumer {
  readonly group: string;
  private readonly core: ClientCore;
  /** Topics this consumer has touched, announced in heartbeats with '*'. */
  private readonly topics = new Map<string, SubscriptionData>();

  constructor(options: PullConsumerOptions) {
    this.group = checkGroupName(options?.group, 'consumer');
    this.core = new ClientCore(options, {
      label: `pull consumer ${this.group}`,
      producers: () => [],
      consumers: () => [this.consumerData()],
      unregister: { consumerGroup: this.group },
      useTemplateRoutes: false,
    });
  }

  get clientId(): string {
    return this.core.clientId;
  }

  async start(): Promise<void> {
    this.core.start();
    await this.core.heartbeatAll();
  }

  async shutdown(): Promise<void> {
    await this.core.close();
  }

  /** The readable queues of `topic`, from a fresh route. */
  async fetchQueues(topic: string): Promise<MessageQueue[]> {
    this.core.assertRunning();
    this.use(topic);
    const route = await this.core.routes.refresh(topic);
    if (route === null) throw new ClientError(`no route for topic ${topic}`, ClientErrorCode.NO_ROUTE, false);
    return route.readable.map((q) => ({ ...q }));
  }

  async pull(queue: MessageQueue, offset: number, maxNums: number, options: PullOptions = {}): Promise<PullResult> {
    this.core.assertRunning();
    if (!Number.isSafeInteger(offset) || offset < 0) throw illegalArgument(`offset must be an integer >= 0, got ${String(offset)}`);
    positiveInteger(maxNums, 1, 'maxNums', 1, PULL_BATCH_SIZE_MAX);
    const suspendMs = options.suspendTimeoutMs === undefined ? 0 : positiveInteger(options.suspendTimeoutMs, 0, 'suspendTimeoutMs', 1, SUSPEND_TIMEOUT_MS_MAX);
    const sub = subscriptionData(queue.topic, options.expression, this.core.now());
    this.use(queue.topic);
    const address = await this.master(queue);
    try {
      const raw = await this.core.broker.pull(
        address,
        {
          consumerGroup: this.group,
          topic: queue.topic,
          queueId: queue.queueId,
          queueOffset: offset,
          maxMsgNums: maxNums,
          sysFlag: PullSysFlag.SUBSCRIPTION | (suspendMs > 0 ? PullSysFlag.SUSPEND : 0),
          commitOffset: 0,
          suspendTimeoutMillis: suspendMs,
          subscription: sub.subString,
          subVersion: sub.subVersion,
          expressionType: 'TAG',
        },
        suspendMs > 0 ? suspendMs + PULL_TIMEOUT_MARGIN_MS : this.core.requestTimeoutMs,
      );
      return {
        status: raw.status,
        nextBeginOffset: raw.nextBeginOffset,
        minOffset: raw.minOffset,
        maxOffset: raw.maxOffset,
        messages: filterByTag(raw.messages, sub),
      };
    } catch (error) {
      this.afterError(queue, address, error);
      throw error;
    }
  }

  /** The group's committed offset of `queue`, or -1 when none. */
  async committedOffset(queue: MessageQueue): Promise<number> {
    return this.withMaster(queue, (address) => this.core.broker.queryConsumerOffset(address, this.group, queue));
  }

  async commit(queue: MessageQueue, offset: number): Promise<void> {
    if (!Number.isSafeInteger(offset) || offset < 0) throw illegalArgument(`offset must be an integer >= 0, got ${String(offset)}`);
    await this.withMaster(queue, (address) => this.core.broker.updateConsumerOffset(address, this.group, queue, offset));
  }

  async minOffset(queue: MessageQueue): Promise<number> {
    return this.withMaster(queue, (address) => this.core.broker.minOffset(address, queue));
  }

  /** The next offset to be written (entries ever written to the queue). */
  async maxOffset(queue: MessageQueue): Promise<number> {
    return this.withMaster(queue, (address) => this.core.broker.maxOffset(address, queue));
  }

  async searchOffset(queue: MessageQueue, timestamp: number): Promise<number> {
    if (!Number.isSafeInteger(timestamp)) throw illegalArgument('timestamp must be milliseconds since the epoch');
    return this.withMaster(queue, (address) => this.core.broker.searchOffset(address, queue, timestamp));
  }

  private use(topic: string): void {
    const problem = topicNameProblem(topic);
    if (problem !== null) throw illegalArgument(problem);
    if (this.topics.has(topic)) return;
    if (this.topics.size >= SUBSCRIPTIONS_MAX) throw illegalArgument(`a pull consumer may use at most ${SUBSCRIPTIONS_MAX} topics`);
    this.topics.set(topic, subscriptionData(topic, '*', this.core.now()));
    this.core.routes.watch(topic);
  }

  private consumerData(): ConsumerData {
    return {
      groupName: this.group,
      consumeType: 'CONSUME_ACTIVELY',
      messageModel: 'CLUSTERING',
      consumeFromWhere: 'CONSUME_FROM_LAST_OFFSET',
      unitMode: false,
      subscriptionDataSet: [...this.topics.values()],
    };
  }

  private async master(queue: MessageQueue): Promise<string> {
    let address = this.core.routes.masterOf(queue.brokerName);
    if (address === undefined) {
      await this.core.routes.get(queue.topic);
      address = this.core.routes.masterOf(queue.brokerName);
    }
    if (address === undefined) throw new ClientError(`broker group ${queue.brokerName} has no master right now`, ClientErrorCode.NO_ROUTE, true);
    return address;
  }

  private async withMaster<T>(queue: MessageQueue, call: (address: string) => Promise<T>): Promise<T> {
    this.core.assertRunning();
    const address = await this.master(queue);
    try {
      return await call(address);
    } catch (error) {
      this.afterError(queue, address, error);
      throw error;
    }
  }

  private afterError(queue: MessageQueue, address: string, error: unknown): void {
    if (!(error instanceof ClientError)) return;
    if (!error.isTransport && !ROUTE_STALE_CODES.has(error.code)) return;
    const hint = leaderHintFromRemark(error.remark);
    if (hint !== null && hint !== address) this.core.routes.noteLeaderHint(queue.brokerName, hint);
    this.core.routes.refreshSoon(queue.topic);
  }
}
