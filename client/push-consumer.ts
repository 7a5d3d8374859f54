// PushConsumer: subscriptions, re-balancing, one long-polling pull loop per owned queue, a bounded pool
// of listener calls, offset commits, and the retry path for failed messages.
import { homedir } from 'node:os';
import path from 'node:path';
import type { MessageExt } from '../common/message.js';
import { Prop } from '../common/properties.js';
import { retryTopic, topicNameProblem } from '../common/topic.js';
import { RequestCode } from '../remoting/index.js';
import { checkGroupName, ClientCore, positiveInteger, type ClientOptions } from './client-core.js';
import { CoalescingRunner } from './coalescing-runner.js';
import { ConsumeService, type ConsumeTask } from './consume-service.js';
import { errorText, illegalArgument } from './errors.js';
import type { ConsumeFromWhere, ConsumerData, MessageModel } from './heartbeat.js';
import {
  CONSUME_BATCH_SIZE_DEFAULT,
  CONSUME_BATCH_SIZE_MAX,
  CONSUME_CONCURRENCY_DEFAULT,
  CONSUME_CONCURRENCY_MAX,
  CONSUME_TIMESTAMP_LOOKBACK_MS_DEFAULT,
  FAULT_AVOIDANCE_MS_DEFAULT,
  LOCAL_RETRY_DELAY_MS_DEFAULT,
  MAX_RECONSUME_TIMES_DEFAULT,
  MAX_RECONSUME_TIMES_MAX,
  PERSIST_OFFSET_INTERVAL_MS_DEFAULT,
  PULL_BATCH_SIZE_DEFAULT,
  PULL_BATCH_SIZE_MAX,
  PULL_ERROR_BACKOFF_MS_DEFAULT,
  PULL_THRESHOLD_BYTES_FOR_QUEUE_DEFAULT,
  PULL_THRESHOLD_FOR_QUEUE_DEFAULT,
  PULL_THRESHOLD_FOR_QUEUE_MAX,
  QUEUE_DRAIN_TIMEOUT_MS_DEFAULT,
  REBALANCE_INTERVAL_MS_DEFAULT,
  REBALANCE_RETRY_DELAY_MS,
  SEND_RETRY_BACKOFF_MS_DEFAULT,
  SEND_TIMEOUT_MS_DEFAULT,
  SUBSCRIPTIONS_MAX,
  SUSPEND_TIMEOUT_MS_DEFAULT,
  SUSPEND_TIMEOUT_MS_MAX,
  TIMER_INTERVAL_MS_MIN,
} from './limits.js';
import { MessageSender } from './message-sender.js';
import { LocalOffsetStore, RemoteOffsetStore, type OffsetStore } from './offset-store.js';
import { ProcessQueue } from './process-queue.js';
import { PullService } from './pull-service.js';
import { RebalanceService } from './rebalance.js';
import { queueKey, type MessageQueue } from './route.js';
import { INNER_PRODUCER_GROUP, SendBack } from './send-back.js';
import { subscriptionData, type SubscriptionData } from './subscription.js';

export type ConsumeStatus = 'CONSUME_SUCCESS' | 'RECONSUME_LATER';

export interface ConsumeContext {
  /** The queue the messages were pulled from (for retried messages: the retry topic's queue). */
  queue: MessageQueue;
}

export type MessageListener = (msgs: MessageExt[], ctx: ConsumeContext) => Promise<ConsumeStatus> | ConsumeStatus;

export interface PushConsumerOptions extends ClientOptions {
  group: string;
  messageModel?: MessageModel;
  consumeFromWhere?: ConsumeFromWhere;
  /** Start point (ms) for CONSUME_FROM_TIMESTAMP; default half an hour before start. */
  consumeTimestamp?: number;
  pullBatchSize?: number;
  consumeBatchSize?: number;
  consumeConcurrency?: number;
  /** Unconsumed messages per queue above which its pulling pauses. */
  pullThresholdForQueue?: number;
  /** Unconsumed body bytes per queue above which its pulling pauses. */
  pullThresholdBytesForQueue?: number;
  maxReconsumeTimes?: number;
  persistOffsetIntervalMs?: number;
  rebalanceIntervalMs?: number;
  /** How long the broker may hold a pull that found nothing. */
  suspendTimeoutMs?: number;
  /** Pause before pulling a queue again after a failed pull. */
  pullErrorBackoffMs?: number;
  /** Delay before re-consuming a batch whose send-back failed. */
  localRetryDelayMs?: number;
  /** How long releasing a queue waits for its running listener calls. */
  queueDrainTimeoutMs?: number;
  /** Broadcasting mode: directory of the local offset file (default ~/.ledgermq_offsets). */
  offsetStoreDir?: string;
}

type ConsumerState = 'new' | 'starting' | 'running' | 'stopping' | 'closed';

export class PushConsumer {
  readonly group: string;
  readonly messageModel: MessageModel;
  private readonly core: ClientCore;
  private readonly consumeFromWhere: ConsumeFromWhere;
  private readonly consumeTimestamp: number;
  private readonly pullThreshold: number;
  private readonly pullThresholdBytes: number;
  private readonly maxReconsumeTimes: number;
  private readonly persistIntervalMs: number;
  private readonly rebalanceIntervalMs: number;
  private readonly localRetryDelayMs: number;
  private readonly drainTimeoutMs: number;
  private readonly subscriptions = new Map<string, SubscriptionData>();
  private readonly queues = new Map<string, ProcessQueue>();
  private readonly offsets: OffsetStore;
  private readonly pulls: PullService;
  private readonly consumer: ConsumeService;
  private readonly sendBack: SendBack;
  private readonly rebalancer: RebalanceService;
  private readonly rebalanceRunner: CoalescingRunner;
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private rebalanceRetry: NodeJS.Timeout | null = null;
  private rebalanceFailures = 0;
  private listener: MessageListener | null = null;
  private state: ConsumerState = 'new';

  constructor(options: PushConsumerOptions) {
    this.group = checkGroupName(options?.group, 'consumer');
    const model = options.messageModel ?? 'CLUSTERING';
    if (model !== 'CLUSTERING' && model !== 'BROADCASTING') throw illegalArgument(`messageModel must be CLUSTERING or BROADCASTING, got ${String(model)}`);
    this.messageModel = model;
    const from = options.consumeFromWhere ?? 'CONSUME_FROM_LAST_OFFSET';
    if (!['CONSUME_FROM_LAST_OFFSET', 'CONSUME_FROM_FIRST_OFFSET', 'CONSUME_FROM_TIMESTAMP'].includes(from)) throw illegalArgument(`unknown consumeFromWhere ${String(from)}`);
    this.consumeFromWhere = from;
    this.core = new ClientCore(options, {
      label: `consumer ${this.group}`,
      producers: () => [],
      consumers: () => [this.consumerData()],
      unregister: { consumerGroup: this.group },
      useTemplateRoutes: false,
      onRouteChanged: (topic) => {
        if (this.state === 'running' && this.subscriptions.has(topic)) void this.rebalanceRunner.run();
      },
    });
    this.consumeTimestamp = options.consumeTimestamp ?? this.core.now() - CONSUME_TIMESTAMP_LOOKBACK_MS_DEFAULT;
    if (!Number.isSafeInteger(this.consumeTimestamp)) throw illegalArgument('consumeTimestamp must be a millisecond timestamp');
    const pullBatchSize = positiveInteger(options.pullBatchSize, PULL_BATCH_SIZE_DEFAULT, 'pullBatchSize', 1, PULL_BATCH_SIZE_MAX);
    const consumeBatchSize = positiveInteger(options.consumeBatchSize, CONSUME_BATCH_SIZE_DEFAULT, 'consumeBatchSize', 1, CONSUME_BATCH_SIZE_MAX);
    const concurrency = positiveInteger(options.consumeConcurrency, CONSUME_CONCURRENCY_DEFAULT, 'consumeConcurrency', 1, CONSUME_CONCURRENCY_MAX);
    this.pullThreshold = positiveInteger(options.pullThresholdForQueue, PULL_THRESHOLD_FOR_QUEUE_DEFAULT, 'pullThresholdForQueue', 1, PULL_THRESHOLD_FOR_QUEUE_MAX);
    this.pullThresholdBytes = positiveInteger(options.pullThresholdBytesForQueue, PULL_THRESHOLD_BYTES_FOR_QUEUE_DEFAULT, 'pullThresholdBytesForQueue');
    this.maxReconsumeTimes = positiveInteger(options.maxReconsumeTimes, MAX_RECONSUME_TIMES_DEFAULT, 'maxReconsumeTimes', 0, MAX_RECONSUME_TIMES_MAX);
    this.persistIntervalMs = positiveInteger(options.persistOffsetIntervalMs, PERSIST_OFFSET_INTERVAL_MS_DEFAULT, 'persistOffsetIntervalMs', TIMER_INTERVAL_MS_MIN);
    this.rebalanceIntervalMs = positiveInteger(options.rebalanceIntervalMs, REBALANCE_INTERVAL_MS_DEFAULT, 'rebalanceIntervalMs', TIMER_INTERVAL_MS_MIN);
    const suspendTimeoutMs = positiveInteger(options.suspendTimeoutMs, SUSPEND_TIMEOUT_MS_DEFAULT, 'suspendTimeoutMs', 1, SUSPEND_TIMEOUT_MS_MAX);
    const errorBackoffMs = positiveInteger(options.pullErrorBackoffMs, PULL_ERROR_BACKOFF_MS_DEFAULT, 'pullErrorBackoffMs', 1);
    this.localRetryDelayMs = positiveInteger(options.localRetryDelayMs, LOCAL_RETRY_DELAY_MS_DEFAULT, 'localRetryDelayMs', 1);
    this.drainTimeoutMs = positiveInteger(options.queueDrainTimeoutMs, QUEUE_DRAIN_TIMEOUT_MS_DEFAULT, 'queueDrainTimeoutMs', 0);

    const logger = this.core.logger;
    this.offsets = this.clustering
      ? new RemoteOffsetStore(this.core.broker, this.core.routes, this.group, logger)
      : new LocalOffsetStore(options.offsetStoreDir ?? path.join(homedir(), '.ledgermq_offsets'), this.group, logger);
    this.pulls = new PullService({
      core: this.core,
      group: this.group,
      clustering: this.clustering,
      pullBatchSize,
      suspendTimeoutMs,
      errorBackoffMs,
      offsets: this.offsets,
      subscription: (topic) => this.subscriptions.get(topic),
      deliver: (pq, msgs) => this.consumer.submit(pq, msgs),
      resubscribe: () => void this.core.heartbeatAll(),
    });
    this.consumer = new ConsumeService(concurrency, consumeBatchSize, (task) => this.consume(task), logger);
    const sender = new MessageSender(this.core, {
      group: INNER_PRODUCER_GROUP,
      sendTimeoutMs: SEND_TIMEOUT_MS_DEFAULT,
      retryTimes: 1,
      faultAvoidanceMs: FAULT_AVOIDANCE_MS_DEFAULT,
      retryBackoffMs: SEND_RETRY_BACKOFF_MS_DEFAULT,
    });
    this.sendBack = new SendBack(this.core, sender, this.group, this.maxReconsumeTimes);
    this.rebalancer = new RebalanceService(this.core, {
      group: this.group,
      messageModel: this.messageModel,
      topics: () => [...this.subscriptions.keys()],
      held: () => this.queues,
      take: (queue) => this.take(queue),
      release: (pq) => this.release(pq),
      active: () => this.state === 'running' || this.state === 'starting',
    });
    this.rebalanceRunner = new CoalescingRunner(
      async () => {
        const change = await this.rebalancer.rebalance();
        this.scheduleRebalanceRetry(change.incomplete > 0);
      },
      (error) => logger.warn(`consumer ${this.group}: re-balance failed: ${errorText(error)}`),
    );
    this.core.remoting.registerProcessor(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, (request) => {
      const group = request.extFields?.['consumerGroup'];
      if (this.state === 'running' && (group === undefined || group === this.group)) {
        logger.debug?.(`consumer ${this.group}: members changed, re-balancing now`);
        void this.rebalanceRunner.run();
      }
      return null;
    });
  }

  get clientId(): string {
    return this.core.clientId;
  }

  private get clustering(): boolean {
    return this.messageModel === 'CLUSTERING';
  }

  /** Subscribes to `topic` with a TAG expression ('*' or 'TagA || TagB'); replaces an earlier one. */
  subscribe(topic: string, expression = '*'): void {
    const problem = topicNameProblem(topic);
    if (problem !== null) throw illegalArgument(`cannot subscribe: ${problem}`);
    if (!this.subscriptions.has(topic) && this.subscriptions.size >= SUBSCRIPTIONS_MAX) throw illegalArgument(`at most ${SUBSCRIPTIONS_MAX} subscriptions`);
    if (this.state === 'stopping' || this.state === 'closed') throw illegalArgument(`consumer ${this.group} is shut down`);
    this.subscriptions.set(topic, subscriptionData(topic, expression, this.core.now()));
    if (this.state === 'running') {
      this.core.routes.watch(topic);
      void this.core.heartbeatAll().then(() => this.rebalanceRunner.run());
    }
  }

  onMessage(listener: MessageListener): void {
    if (typeof listener !== 'function') throw illegalArgument('the listener must be a function');
    this.listener = listener;
  }

  /** Queues this consumer currently consumes (including its retry topic's). */
  assignment(): MessageQueue[] {
    return [...this.queues.values()].filter((pq) => !pq.dropped).map((pq) => ({ ...pq.queue }));
  }

  async start(): Promise<void> {
    if (this.state !== 'new') throw illegalArgument(`consumer ${this.group} can be started once`);
    if (this.listener === null) throw illegalArgument('call onMessage() before start()');
    if (this.subscriptions.size === 0) throw illegalArgument('call subscribe() before start()');
    if (this.clustering) {
      const retry = retryTopic(this.group);
      if (!this.subscriptions.has(retry)) this.subscriptions.set(retry, subscriptionData(retry, '*', this.core.now()));
    }
    this.state = 'starting';
    this.core.start();
    try {
      await this.offsets.load();
      for (const topic of this.subscriptions.keys()) this.core.routes.watch(topic);
      await Promise.all(
        [...this.subscriptions.keys()].map((topic) =>
          this.core.routes.refresh(topic).catch((error) => this.core.logger.warn(`consumer ${this.group}: route of ${topic} unavailable at start: ${errorText(error)}`)),
        ),
      );
      await this.core.heartbeatAll();
      await this.rebalanceRunner.run();
    } catch (error) {
      await this.shutdown();
      throw error;
    }
    if (this.state !== 'starting') return;
    this.state = 'running';
    this.core.every(this.rebalanceIntervalMs, () => this.rebalanceRunner.run());
    this.core.every(this.persistIntervalMs, () => this.offsets.persistAll());
  }

  /** Stops pulling, waits for running listener calls, commits offsets, unregisters and disconnects. */
  async shutdown(): Promise<void> {
    if (this.state === 'stopping' || this.state === 'closed') return;
    this.state = 'stopping';
    for (const timer of this.retryTimers) clearTimeout(timer);
    this.retryTimers.clear();
    if (this.rebalanceRetry !== null) clearTimeout(this.rebalanceRetry);
    this.rebalanceRetry = null;
    const held = [...this.queues.values()];
    for (const pq of held) pq.drop();
    const consumersDone = this.consumer.stop();
    let drainTimer: NodeJS.Timeout | undefined;
    await Promise.race([consumersDone, new Promise<void>((resolve) => (drainTimer = setTimeout(resolve, this.drainTimeoutMs)))]);
    clearTimeout(drainTimer);
    for (const pq of held) {
      if (this.queues.get(queueKey(pq.queue)) === pq) this.offsets.update(pq.queue, pq.committableOffset());
    }
    await this.offsets.persistAll();
    this.queues.clear();
    await this.core.close();
    await this.pulls.stop();
    this.state = 'closed';
  }

  private consumerData(): ConsumerData {
    return {
      groupName: this.group,
      consumeType: 'CONSUME_PASSIVELY',
      messageModel: this.messageModel,
      consumeFromWhere: this.consumeFromWhere,
      unitMode: false,
      subscriptionDataSet: [...this.subscriptions.values()],
    };
  }

  /** Starts consuming `queue` from its committed offset, or from where consumeFromWhere says. */
  private async take(queue: MessageQueue): Promise<boolean> {
    let offset: number;
    try {
      offset = await this.startOffset(queue);
    } catch (error) {
      this.core.logger.warn(`consumer ${this.group}: cannot start ${queueKey(queue)} yet: ${errorText(error)}`);
      return false;
    }
    if (this.state !== 'running' && this.state !== 'starting') return false;
    const key = queueKey(queue);
    if (this.queues.has(key)) return false;
    const pq = new ProcessQueue(queue, offset, this.pullThreshold, this.pullThresholdBytes);
    this.queues.set(key, pq);
    this.offsets.update(queue, offset);
    this.core.logger.debug?.(`consumer ${this.group}: took ${key} at offset ${offset}`);
    this.pulls.start(pq);
    return true;
  }

  private async startOffset(queue: MessageQueue): Promise<number> {
    const stored = await this.offsets.readStored(queue);
    if (stored >= 0) return stored;
    if (queue.topic === retryTopic(this.group)) return 0;
    switch (this.consumeFromWhere) {
      case 'CONSUME_FROM_FIRST_OFFSET':
        return 0;
      case 'CONSUME_FROM_TIMESTAMP':
        return this.core.broker.searchOffset(this.master(queue), queue, this.consumeTimestamp);
      default:
        return this.core.broker.maxOffset(this.master(queue), queue);
    }
  }

  private master(queue: MessageQueue): string {
    const address = this.core.routes.masterOf(queue.brokerName);
    if (address === undefined) throw illegalArgument(`broker group ${queue.brokerName} has no master right now`);
    return address;
  }

  /** Stops pulling `pq`, waits (bounded) for its running listener calls, commits its offset, forgets it. */
  private async release(pq: ProcessQueue): Promise<void> {
    const key = queueKey(pq.queue);
    pq.drop();
    const idle = await pq.whenIdle(this.drainTimeoutMs);
    if (!idle) this.core.logger.warn(`consumer ${this.group}: ${key} released while a listener call still runs; its messages may be delivered again`);
    this.offsets.update(pq.queue, pq.committableOffset());
    try {
      await this.offsets.persist(pq.queue);
    } catch (error) {
      this.core.logger.warn(`consumer ${this.group}: committing ${key} on release failed: ${errorText(error)}`);
    }
    this.offsets.remove(pq.queue);
    if (this.queues.get(key) === pq) this.queues.delete(key);
    this.core.logger.debug?.(`consumer ${this.group}: released ${key}`);
  }

  private async consume(task: ConsumeTask): Promise<void> {
    const { pq } = task;
    const msgs = task.msgs.filter((m) => pq.holds(m));
    if (msgs.length === 0) return;
    const retry = retryTopic(this.group);
    for (const m of msgs) {
      // Retried messages reach the listener under their real topic (Java resetRetryAndNamespace).
      const original = m.properties[Prop.RETRY_TOPIC];
      if (m.topic === retry && original !== undefined) m.topic = original;
    }
    let status: ConsumeStatus;
    try {
      status = await this.listener!(msgs, { queue: { ...pq.queue } });
      if (status !== 'CONSUME_SUCCESS' && status !== 'RECONSUME_LATER') {
        this.core.logger.warn(`consumer ${this.group}: listener returned ${String(status)}; treating it as RECONSUME_LATER`);
        status = 'RECONSUME_LATER';
      }
    } catch (error) {
      this.core.logger.warn(`consumer ${this.group}: listener threw on ${msgs.length} message(s) of ${queueKey(pq.queue)}: ${errorText(error)}`);
      status = 'RECONSUME_LATER';
    }
    let done = msgs;
    if (status === 'RECONSUME_LATER') {
      if (this.clustering) {
        const returned = await Promise.all(msgs.map((m) => this.sendBack.returnMessage(m, pq.queue)));
        const failed = msgs.filter((_, i) => !returned[i]);
        done = msgs.filter((_, i) => returned[i]);
        if (failed.length > 0) this.retryLocally(pq, failed);
      } else {
        for (const m of msgs) this.core.logger.warn(`consumer ${this.group}: broadcast message ${m.msgId} of ${queueKey(pq.queue)} failed and is dropped (broadcasting has no retry)`);
      }
    }
    const offset = pq.remove(done);
    if (!pq.dropped) this.offsets.update(pq.queue, offset);
  }

  /** An unfinished round (no route or members yet, a failed offset query) is retried soon, with backoff. */
  private scheduleRebalanceRetry(incomplete: boolean): void {
    if (!incomplete) {
      this.rebalanceFailures = 0;
      return;
    }
    this.rebalanceFailures += 1;
    if (this.rebalanceRetry !== null || (this.state !== 'running' && this.state !== 'starting')) return;
    const delayMs = Math.min(this.rebalanceIntervalMs, REBALANCE_RETRY_DELAY_MS * 2 ** Math.min(this.rebalanceFailures - 1, 20));
    this.rebalanceRetry = setTimeout(() => {
      this.rebalanceRetry = null;
      if (this.state === 'running') void this.rebalanceRunner.run();
    }, delayMs);
    this.rebalanceRetry.unref();
  }

  /** Consumes messages again after a delay when they could not be returned to the broker. */
  private retryLocally(pq: ProcessQueue, msgs: MessageExt[]): void {
    for (const m of msgs) m.reconsumeTimes += 1;
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer);
      if (this.state === 'running' && !pq.dropped) this.consumer.resubmit({ pq, msgs });
    }, this.localRetryDelayMs);
    timer.unref();
    this.retryTimers.add(timer);
  }
}
