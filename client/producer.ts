// Producer: validated, compressed sends with retries and fault avoidance, bounded in-flight sends,
// oneway sends, batches (SEND_BATCH_MESSAGE) and selector sends for ordered messages.
import { uniqueIds } from '../common/message-id.js';
import { encodeProperties, Prop } from '../common/properties.js';
import { RETRY_GROUP_TOPIC_PREFIX } from '../common/topic.js';
import { checkGroupName, ClientCore, positiveInteger, type ClientOptions } from './client-core.js';
import { clientClosed, illegalArgument } from './errors.js';
import {
  BATCH_MESSAGES_MAX,
  COMPRESS_BODY_OVER_BYTES_DEFAULT,
  FAULT_AVOIDANCE_MS_DEFAULT,
  MAX_MESSAGE_BYTES_DEFAULT,
  MAX_OUTSTANDING_SENDS_DEFAULT,
  RETRY_TIMES_WHEN_SEND_FAILED_DEFAULT,
  RETRY_TIMES_WHEN_SEND_FAILED_MAX,
  SEND_RETRY_BACKOFF_MS_DEFAULT,
  SEND_TIMEOUT_MS_DEFAULT,
  SEND_WAITERS_MAX,
  AUTO_BATCH_BYTES_MAX_DEFAULT,
  AUTO_BATCH_INFLIGHT_PER_TOPIC_DEFAULT,
  AUTO_BATCH_MESSAGES_MAX_DEFAULT,
  REQUEST_TIMEOUT_MS_MAX,
} from './limits.js';
import { checkSendTopic, encodedProperties, messageFlag, messageProperties, prepareMessage, type Message, type PreparedMessage } from './message-build.js';
import { MessageSender, type OutboundSend, type QueueChoice, type SendResult } from './message-sender.js';
import type { MessageQueue } from './route.js';
import { Semaphore } from './semaphore.js';
import { batchRecordBytes, encodeBatchBody, type BatchItem } from './send-header.js';
import { AutoBatcher } from './auto-batcher.js';

const ROUND_ROBIN: QueueChoice = { kind: 'round-robin' };

/** One prepared message as a send of its own. */
function singleSend(prepared: PreparedMessage): OutboundSend {
  return {
    topic: prepared.topic,
    body: prepared.body,
    sysFlag: prepared.sysFlag,
    flag: prepared.flag,
    propertiesText: prepared.propertiesText,
    reconsumeTimes: 0,
    batch: false,
    msgId: prepared.uniqKey,
  };
}
const BATCH_HEADER_PROPERTIES = encodeProperties({ [Prop.WAIT_STORE_MSG_OK]: 'true' });

export interface ProducerOptions extends ClientOptions {
  group: string;
  /** Timeout of one send attempt. */
  sendTimeoutMs?: number;
  /** Extra attempts after a retriable failure. */
  retryTimesWhenSendFailed?: number;
  /** Sends (send, sendBatch, sendOneway) in flight at once; more wait for a slot. */
  maxOutstandingSends?: number;
  /** Bodies of at least this many bytes are zlib-compressed (not applied to batches). */
  compressBodyOverBytes?: number;
  /** Largest body, or batch body, accepted. */
  maxMessageBytes?: number;
  /** How long a broker group that failed a send is avoided by queue selection. */
  faultAvoidanceMs?: number;
  /** Pause before retrying on the same broker group (doubles per attempt); other groups are tried at once. */
  retryBackoffMs?: number;
  /**
   * Gather concurrent plain sends of a topic into batch requests (default true; see auto-batcher.ts). Sends with a
   * target queue or selector, a delay level or a compressed body always go alone.
   */
  autoBatch?: boolean;
  /** Messages / encoded bytes per automatic batch, and batch requests in flight per topic. */
  autoBatchMaxMessages?: number;
  autoBatchMaxBytes?: number;
  autoBatchInflightPerTopic?: number;
}

export type QueueSelectorFn = (queues: MessageQueue[], msg: Message, arg: unknown) => MessageQueue;

export interface SendTarget {
  /** Send to exactly this queue (no retry on another queue). */
  queue?: MessageQueue;
  /** Pick the queue (ordered messages): called with the writable queues; no retry on another queue. */
  selector?: QueueSelectorFn;
  arg?: unknown;
}

export class Producer {
  readonly group: string;
  // protected: TransactionProducer sends half messages and answers checks through the same machinery.
  protected readonly core: ClientCore;
  protected readonly sender: MessageSender;
  private readonly slots: Semaphore;
  private readonly sendTimeoutMs: number;
  private readonly retryTimes: number;
  protected readonly compressOverBytes: number;
  protected readonly maxMessageBytes: number;
  private readonly batcher: AutoBatcher | null;
  private outstanding = 0;
  private drained: (() => void) | null = null;
  private closing = false;

  constructor(options: ProducerOptions) {
    this.group = checkGroupName(options?.group, 'producer');
    this.core = new ClientCore(options, {
      label: `producer ${this.group}`,
      producers: () => [{ groupName: this.group }],
      consumers: () => [],
      unregister: { producerGroup: this.group },
      useTemplateRoutes: true,
    });
    this.sendTimeoutMs = positiveInteger(options.sendTimeoutMs, SEND_TIMEOUT_MS_DEFAULT, 'sendTimeoutMs', 1, REQUEST_TIMEOUT_MS_MAX);
    this.retryTimes = positiveInteger(options.retryTimesWhenSendFailed, RETRY_TIMES_WHEN_SEND_FAILED_DEFAULT, 'retryTimesWhenSendFailed', 0, RETRY_TIMES_WHEN_SEND_FAILED_MAX);
    this.compressOverBytes = positiveInteger(options.compressBodyOverBytes, COMPRESS_BODY_OVER_BYTES_DEFAULT, 'compressBodyOverBytes');
    this.maxMessageBytes = positiveInteger(options.maxMessageBytes, MAX_MESSAGE_BYTES_DEFAULT, 'maxMessageBytes');
    const maxOutstanding = positiveInteger(options.maxOutstandingSends, MAX_OUTSTANDING_SENDS_DEFAULT, 'maxOutstandingSends');
    this.slots = new Semaphore(maxOutstanding, SEND_WAITERS_MAX);
    this.sender = new MessageSender(
      this.core,
      {
        group: this.group,
        sendTimeoutMs: this.sendTimeoutMs,
        retryTimes: this.retryTimes,
        faultAvoidanceMs: positiveInteger(options.faultAvoidanceMs, FAULT_AVOIDANCE_MS_DEFAULT, 'faultAvoidanceMs', 0),
        retryBackoffMs: positiveInteger(options.retryBackoffMs, SEND_RETRY_BACKOFF_MS_DEFAULT, 'retryBackoffMs', 0),
      },
      process.pid,
    );
    this.batcher =
      options.autoBatch === false
        ? null
        : new AutoBatcher((topic, items, uniqKeys) => this.sendGathered(topic, items, uniqKeys), {
            maxMessages: positiveInteger(options.autoBatchMaxMessages, AUTO_BATCH_MESSAGES_MAX_DEFAULT, 'autoBatchMaxMessages', 1, BATCH_MESSAGES_MAX),
            maxBytes: Math.min(positiveInteger(options.autoBatchMaxBytes, AUTO_BATCH_BYTES_MAX_DEFAULT, 'autoBatchMaxBytes', 1), this.maxMessageBytes),
            maxInflightPerTopic: positiveInteger(options.autoBatchInflightPerTopic, AUTO_BATCH_INFLIGHT_PER_TOPIC_DEFAULT, 'autoBatchInflightPerTopic', 1),
          });
  }

  /** Messages and batch requests sent through automatic batching so far. */
  get autoBatchStats(): { messages: number; batches: number } {
    return { messages: this.batcher?.messagesSent ?? 0, batches: this.batcher?.batchesSent ?? 0 };
  }

  /** Sends what the batcher gathered: one message as an ordinary send, several as one SEND_BATCH_MESSAGE. */
  private sendGathered(topic: string, items: BatchItem[], uniqKeys: string[]): Promise<SendResult> {
    const single = items.length === 1;
    const out: OutboundSend = {
      topic,
      body: single ? items[0]!.body : encodeBatchBody(items),
      sysFlag: 0,
      flag: single ? items[0]!.flag : 0,
      propertiesText: single ? items[0]!.properties : BATCH_HEADER_PROPERTIES,
      reconsumeTimes: 0,
      batch: !single,
      msgId: uniqKeys.join(','),
    };
    return this.sender.send(out, ROUND_ROBIN);
  }

  get clientId(): string {
    return this.core.clientId;
  }

  /** Sends currently holding a slot. */
  get inFlight(): number {
    return this.slots.inUse;
  }

  async start(): Promise<void> {
    this.core.start();
    await this.core.heartbeatAll();
  }

  /** Refuses new sends, lets sends in flight finish (for up to one full retry budget), then disconnects. */
  async shutdown(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.slots.close(clientClosed(`producer ${this.group}`));
    if (this.outstanding > 0) {
      const budgetMs = this.sendTimeoutMs * (this.retryTimes + 1);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => (this.drained = resolve)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, budgetMs))),
      ]);
      clearTimeout(timer);
    }
    await this.core.close();
  }

  /** Sends one message; waits for a slot while maxOutstandingSends are in flight. */
  async send(msg: Message, target?: SendTarget): Promise<SendResult> {
    this.assertOpen();
    const prepared = await prepareMessage(msg, { maxMessageBytes: this.maxMessageBytes, compressOverBytes: this.compressOverBytes, uniqKey: () => uniqueIds.next() });
    const batcher = this.batcher;
    if (batcher && target === undefined && prepared.sysFlag === 0 && prepared.properties[Prop.DELAY_TIME_LEVEL] === undefined) {
      const item: BatchItem = { flag: prepared.flag, body: prepared.body, properties: prepared.propertiesText };
      return this.withSlot(() => batcher.add(prepared.topic, item, prepared.uniqKey));
    }
    const out = singleSend(prepared);
    return this.withSlot(() => this.sender.send(out, queueChoice(target, msg)));
  }

  /** Sends without waiting for the broker; resolves once the request is written to the socket. */
  async sendOneway(msg: Message): Promise<void> {
    this.assertOpen();
    const prepared = await prepareMessage(msg, { maxMessageBytes: this.maxMessageBytes, compressOverBytes: this.compressOverBytes, uniqKey: () => uniqueIds.next() });
    const out = singleSend(prepared);
    await this.withSlot(() => this.sender.sendOneway(out));
  }

  /** Sends messages of one topic as one SEND_BATCH_MESSAGE to one queue (no delay levels, no compression). */
  async sendBatch(msgs: Message[], target?: SendTarget): Promise<SendResult> {
    this.assertOpen();
    if (!Array.isArray(msgs) || msgs.length === 0) throw illegalArgument('invalid batch: no messages');
    if (msgs.length > BATCH_MESSAGES_MAX) throw illegalArgument(`invalid batch: ${msgs.length} messages, more than ${BATCH_MESSAGES_MAX}`);
    const topic = msgs[0]?.topic;
    checkSendTopic(topic);
    if (topic.startsWith(RETRY_GROUP_TOPIC_PREFIX)) throw illegalArgument('invalid batch: retry topics cannot take batches');
    const items: BatchItem[] = [];
    const ids: string[] = [];
    let total = 0;
    for (const [i, msg] of msgs.entries()) {
      if (typeof msg !== 'object' || msg === null) throw illegalArgument(`invalid batch: message ${i} is not an object`);
      if (msg.topic !== topic) throw illegalArgument(`invalid batch: message ${i} is for topic ${String(msg.topic)}, not ${topic}; a batch goes to one topic`);
      if ((msg.delayLevel ?? 0) > 0) throw illegalArgument(`invalid batch: message ${i} has a delay level; batches cannot be delayed`);
      const body = typeof msg.body === 'string' ? Buffer.from(msg.body, 'utf8') : msg.body;
      if (!Buffer.isBuffer(body) || body.length === 0) throw illegalArgument(`invalid batch: message ${i} has an empty or non-Buffer body`);
      const props = messageProperties(msg);
      const id = uniqueIds.next();
      props[Prop.UNIQ_KEY] = id;
      const item: BatchItem = { flag: messageFlag(msg), body, properties: encodedProperties(props) };
      total += batchRecordBytes(item);
      if (total > this.maxMessageBytes) throw illegalArgument(`invalid batch: the encoded batch exceeds ${this.maxMessageBytes} bytes`);
      items.push(item);
      ids.push(id);
    }
    const out: OutboundSend = {
      topic,
      body: encodeBatchBody(items),
      sysFlag: 0,
      flag: 0,
      propertiesText: encodeProperties({ [Prop.WAIT_STORE_MSG_OK]: 'true' }),
      reconsumeTimes: 0,
      batch: true,
      msgId: ids.join(','),
    };
    return this.withSlot(() => this.sender.send(out, queueChoice(target, msgs[0]!)));
  }

  protected assertOpen(): void {
    if (this.closing) throw clientClosed(`producer ${this.group}`);
    this.core.assertRunning();
  }

  protected async withSlot<T>(task: () => Promise<T>): Promise<T> {
    await this.slots.acquire();
    this.outstanding += 1;
    try {
      return await task();
    } finally {
      this.outstanding -= 1;
      this.slots.release();
      if (this.outstanding === 0 && this.drained !== null) this.drained();
    }
  }
}

function queueChoice(target: SendTarget | undefined, msg: Message): QueueChoice {
  if (target === undefined || target === null) return { kind: 'round-robin' };
  if (target.queue !== undefined) {
    const queue = target.queue;
    if (queue.topic !== msg.topic) throw illegalArgument(`the target queue belongs to topic ${queue.topic}, not ${msg.topic}`);
    return { kind: 'fixed', choose: () => queue };
  }
  if (target.selector !== undefined) {
    const selector = target.selector;
    if (typeof selector !== 'function') throw illegalArgument('selector must be a function');
    return { kind: 'fixed', choose: (writable) => selector([...writable], msg, target.arg) };
  }
  return { kind: 'round-robin' };
}
