// The send path shared by Producer and the consumer's retry fallback: pick a queue, send to its group's
// master, and on a retriable failure refresh the route at once, avoid the failed group for a while and
// try again (on another group when the caller did not pin a queue).
import { setTimeout as sleep } from 'node:timers/promises';
import { createRequest, RequestCode, ResponseCode, type RemotingCommand } from '../remoting/index.js';
import type { ClientCore } from './client-core.js';
import { ClientError, ClientErrorCode, errorText, illegalArgument, leaderHintFromRemark, malformedResponse, responseError, RETRIABLE_SEND_CODES } from './errors.js';
import { DEFAULT_TOPIC, DEFAULT_TOPIC_QUEUE_NUMS, ROUTE_POLL_DURING_RECONNECT_WAIT_MS } from './limits.js';
import { FaultTracker, RoundRobinSelector } from './queue-selection.js';
import type { TopicRoute } from './route-cache.js';
import type { MessageQueue } from './route.js';
import { invoke, invokeOneway, optionalString, requiredInteger } from './rpc.js';
import { encodeSendHeaderV2 } from './send-header.js';

export type SendStatus = 'SEND_OK' | 'FLUSH_DISK_TIMEOUT' | 'FLUSH_SLAVE_TIMEOUT' | 'SLAVE_NOT_AVAILABLE';

export interface SendResult {
  status: SendStatus;
  /** The client's UNIQ_KEY (for a batch: every message's, joined by ','). */
  msgId: string;
  /** The broker's offset message id (header `msgId`; for a batch the ids joined by ','). */
  offsetMsgId: string;
  queue: MessageQueue;
  /** Consume-queue offset of the (first) message. */
  queueOffset: number;
  transactionId?: string;
}

const STORED_STATUS: ReadonlyMap<number, SendStatus> = new Map([
  [ResponseCode.SUCCESS, 'SEND_OK'],
  [ResponseCode.FLUSH_DISK_TIMEOUT, 'FLUSH_DISK_TIMEOUT'],
  [ResponseCode.SLAVE_NOT_AVAILABLE, 'SLAVE_NOT_AVAILABLE'],
  [ResponseCode.FLUSH_SLAVE_TIMEOUT, 'FLUSH_SLAVE_TIMEOUT'],
]);

/** Everything about one send that does not depend on the queue chosen. */
export interface OutboundSend {
  topic: string;
  body: Buffer;
  sysFlag: number;
  flag: number;
  propertiesText: string;
  reconsumeTimes: number;
  maxReconsumeTimes?: number;
  batch: boolean;
  /** UNIQ_KEY(s), reported as SendResult.msgId. */
  msgId: string;
}

/** How the queue is chosen: round-robin with fault avoidance, or fixed by the caller (ordered sends). */
export type QueueChoice = { readonly kind: 'round-robin' } | { readonly kind: 'fixed'; readonly choose: (writable: readonly MessageQueue[]) => MessageQueue };

export interface SenderOptions {
  group: string;
  sendTimeoutMs: number;
  retryTimes: number;
  faultAvoidanceMs: number;
  retryBackoffMs: number;
}

export class MessageSender {
  readonly faults: FaultTracker;
  private readonly selector: RoundRobinSelector;

  constructor(
    private readonly core: ClientCore,
    private readonly options: SenderOptions,
    startIndex = 0,
  ) {
    this.faults = new FaultTracker(options.faultAvoidanceMs, core.now);
    this.selector = new RoundRobinSelector(startIndex);
  }

  /** Sends with retries; throws the last failure (a ClientError) once attempts are exhausted. */
  async send(out: OutboundSend, choice: QueueChoice): Promise<SendResult> {
    const attempts = 1 + this.options.retryTimes;
    let lastError: ClientError | null = null;
    let failedBroker: string | undefined;
    // Where the failed attempt went: a retry to the same group pauses only if it would go there again. When the
    // group has a new master (the refusal named it, or the refreshed route has it), the retry goes there at once.
    let failedAddress: string | undefined;
    let fixedQueue: MessageQueue | undefined;
    for (let attempt = 0; attempt < attempts; attempt++) {
      this.core.assertRunning();
      const route = await this.routeFor(out.topic, attempt > 0);
      let queue: MessageQueue | undefined;
      if (choice.kind === 'fixed') {
        fixedQueue ??= pickFixed(choice, route.writable);
        queue = fixedQueue;
      } else {
        queue = this.selector.select(route.writable, this.faults, failedBroker);
      }
      if (queue === undefined) {
        lastError = new ClientError(`topic ${out.topic} has no writable queue with a master right now`, ClientErrorCode.NO_ROUTE, true);
        await this.backoff(attempt);
        continue;
      }
      let address = this.core.routes.masterOf(queue.brokerName);
      if (queue.brokerName === failedBroker && (address === undefined || address === failedAddress)) await this.backoff(attempt);
      if (address !== undefined && this.core.remoting.reconnectWaitMs(address) > 0) {
        address = await this.masterAfterReconnectWait(out.topic, queue.brokerName, address);
      }
      if (address === undefined) {
        lastError = new ClientError(`broker group ${queue.brokerName} of topic ${out.topic} has no master right now`, ClientErrorCode.NO_ROUTE, true);
        this.faults.markFailed(queue.brokerName);
        failedBroker = queue.brokerName;
        continue;
      }
      try {
        const result = await this.sendTo(address, queue, out);
        this.faults.markHealthy(queue.brokerName);
        return result;
      } catch (error) {
        if (!(error instanceof ClientError) || !error.retriable) throw error;
        lastError = error;
        failedBroker = queue.brokerName;
        failedAddress = address;
        const hint = leaderHintFromRemark(error.remark);
        const hinted = hint !== null && hint !== address && this.core.routes.noteLeaderHint(queue.brokerName, hint);
        if (!hinted) this.faults.markFailed(queue.brokerName);
        this.core.logger.debug?.(`producer ${this.options.group}: attempt ${attempt + 1} to ${queue.brokerName} failed: ${error.message}`);
      }
    }
    const last = lastError!;
    throw new ClientError(`send to topic ${out.topic} failed after ${attempts} attempt(s): ${last.message}`, last.code, last.retriable, last.remark, last.address, { cause: last });
  }

  /** One attempt, no retry; resolves once the request is written. */
  async sendOneway(out: OutboundSend): Promise<void> {
    const route = await this.routeFor(out.topic, false);
    const queue = this.selector.select(route.writable, this.faults);
    if (queue === undefined) throw new ClientError(`topic ${out.topic} has no writable queue with a master right now`, ClientErrorCode.NO_ROUTE, true);
    const address = this.core.routes.masterOf(queue.brokerName);
    if (address === undefined) throw new ClientError(`broker group ${queue.brokerName} has no master right now`, ClientErrorCode.NO_ROUTE, true);
    try {
      await invokeOneway(this.core.remoting, address, this.request(queue, out), this.options.sendTimeoutMs);
    } catch (error) {
      if (error instanceof ClientError && error.retriable) {
        this.faults.markFailed(queue.brokerName);
        this.core.routes.refreshSoon(out.topic, true);
      }
      throw error;
    }
  }

  /** The cached route, or a fresh one after a failure (shared with any concurrent refresh of the topic). */
  private async routeFor(topic: string, fresh: boolean): Promise<TopicRoute> {
    const routes = this.core.routes;
    let route: TopicRoute | null;
    if (fresh) {
      try {
        route = await routes.refresh(topic, true);
      } catch (error) {
        this.core.logger.debug?.(`producer ${this.options.group}: route refresh of ${topic} failed: ${errorText(error)}`);
        route = routes.cached(topic) ?? null;
      }
    } else {
      route = await routes.get(topic, true);
    }
    if (route === null) {
      throw new ClientError(`no route for topic ${topic}: no name server knows it and auto-creation is not available`, ClientErrorCode.NO_ROUTE, false);
    }
    return route;
  }

  /**
   * The group's master once `address` (which failed to connect lately) may be tried again, or at once a new master
   * the name server names meanwhile: during a failover the old leader's address is in reconnect backoff, and
   * waiting it out would keep a send from the new leader for as long as the backoff has grown.
   */
  private async masterAfterReconnectWait(topic: string, brokerName: string, address: string): Promise<string> {
    for (let wait = this.core.remoting.reconnectWaitMs(address); wait > 0; wait = this.core.remoting.reconnectWaitMs(address)) {
      await sleep(Math.min(wait, ROUTE_POLL_DURING_RECONNECT_WAIT_MS));
      try {
        await this.core.routes.refresh(topic, true);
      } catch (error) {
        this.core.logger.debug?.(`producer ${this.options.group}: route refresh of ${topic} failed: ${errorText(error)}`);
      }
      const master = this.core.routes.masterOf(brokerName);
      if (master !== undefined && master !== address) return master;
    }
    return address;
  }

  /** The pause before attempt `attempt` (1 = the first retry): retryBackoffMs, doubling. */
  private async backoff(attempt: number): Promise<void> {
    const ms = this.options.retryBackoffMs * 2 ** Math.min(Math.max(attempt - 1, 0), 6);
    if (ms > 0) await sleep(ms, undefined, { ref: false });
  }

  private request(queue: MessageQueue, out: OutboundSend): RemotingCommand {
    const ext = encodeSendHeaderV2({
      producerGroup: this.options.group,
      topic: out.topic,
      defaultTopic: DEFAULT_TOPIC,
      defaultTopicQueueNums: DEFAULT_TOPIC_QUEUE_NUMS,
      queueId: queue.queueId,
      sysFlag: out.sysFlag,
      bornTimestamp: this.core.now(),
      flag: out.flag,
      properties: out.propertiesText,
      reconsumeTimes: out.reconsumeTimes,
      unitMode: false,
      maxReconsumeTimes: out.maxReconsumeTimes,
      batch: out.batch,
      brokerName: queue.brokerName,
    });
    const code = out.batch ? RequestCode.SEND_BATCH_MESSAGE : RequestCode.SEND_MESSAGE_V2;
    return createRequest(code, ext, out.body);
  }

  private async sendTo(address: string, queue: MessageQueue, out: OutboundSend): Promise<SendResult> {
    const command = this.request(queue, out);
    let response: RemotingCommand;
    try {
      response = await invoke(this.core.remoting, address, command, this.options.sendTimeoutMs);
    } catch (error) {
      if (error instanceof ClientError && error.retriable) this.core.routes.refreshSoon(out.topic, true);
      throw error;
    }
    const status = STORED_STATUS.get(response.code);
    if (status === undefined) {
      const retriable = RETRIABLE_SEND_CODES.has(response.code);
      throw responseError(command.code, address, response.code, response.remark, retriable);
    }
    const offsetMsgId = optionalString(response, 'msgId');
    if (offsetMsgId === undefined) throw malformedResponse(command.code, address, 'ext field msgId is missing', false);
    let queueOffset: number;
    try {
      queueOffset = requiredInteger(response, 'queueOffset', command.code, address);
    } catch {
      throw malformedResponse(command.code, address, 'ext field queueOffset is missing', false);
    }
    const queueId = Number(response.extFields?.['queueId'] ?? queue.queueId);
    const result: SendResult = {
      status,
      msgId: out.msgId,
      offsetMsgId,
      queue: { topic: out.topic, brokerName: queue.brokerName, queueId: Number.isSafeInteger(queueId) ? queueId : queue.queueId },
      queueOffset,
    };
    const transactionId = optionalString(response, 'transactionId');
    if (transactionId !== undefined) result.transactionId = transactionId;
    return result;
  }
}

function pickFixed(choice: Extract<QueueChoice, { kind: 'fixed' }>, writable: readonly MessageQueue[]): MessageQueue {
  let queue: MessageQueue;
  try {
    queue = choice.choose(writable);
  } catch (error) {
    throw illegalArgument(`the queue selector threw: ${errorText(error)}`);
  }
  if (typeof queue !== 'object' || queue === null || typeof queue.brokerName !== 'string' || !Number.isSafeInteger(queue.queueId)) {
    throw illegalArgument('the queue selector must return a MessageQueue of the given list');
  }
  return queue;
}
