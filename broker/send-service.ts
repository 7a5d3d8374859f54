// The send path shared by SEND_MESSAGE (10), SEND_MESSAGE_V2 (310) and SEND_BATCH_MESSAGE (320): validate, pick
// the target topic and queue (delayed messages go to the schedule topic, exhausted retries to the group's DLQ),
// build the stored-message draft without copying the body, propose it to the Raft group, and answer once the
// entry is committed.
import { ResponseCode, createResponse, type RemotingCommand, type RequestContext } from '../remoting/index.js';
import { parseIPv4 } from '../common/bytes.js';
import { SEND_HEADER_V2_NAMES } from '../common/protocol.js';
import { MESSAGE_BODY_BYTES_MAX, PROPERTIES_BYTES_MAX } from '../common/limits.js';
import { createOffsetMessageId, uniqueIds } from '../common/message-id.js';
import { PropertiesTooLongError, SysFlag, draftLength, resetTransactionType, type HostV4, type MessageDraft } from '../common/message.js';
import { decodeProperties, encodeProperties, findProperty, Prop } from '../common/properties.js';
import { SystemTopic, dlqTopic, isSystemTopic, topicNameProblem, RETRY_GROUP_TOPIC_PREFIX } from '../common/topic.js';
import { NotWritableError, ProposalLostError } from '../dledger/node.js';
import { StoreError, StoreErrorCode } from '../store/errors.js';
import type { AppendMessagesResult } from '../store/message-store.js';
import { BadRequestError, Header } from './headers.js';
import { isWritable } from './topic-config.js';
import type { BrokerContext } from './context.js';
import { notWritableResponse } from './not-leader.js';
import { BATCH_MESSAGES_MAX, MAX_RECONSUME_TIMES_DEFAULT } from './limits.js';
import { isHalfSend, toHalf } from './transaction-service.js';

/** SendMessageRequestHeader with V1 names (V2's one-letter names are mapped on the way in). */
export interface SendHeader {
  producerGroup: string;
  topic: string;
  defaultTopicQueueNums: number;
  queueId: number;
  sysFlag: number;
  bornTimestamp: number;
  flag: number;
  properties: string;
  reconsumeTimes: number;
  maxReconsumeTimes: number;
  batch: boolean;
}

const V2_NAMES = SEND_HEADER_V2_NAMES;

/** Reads a send header; `v2` reads the one-letter names of SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE (no copy). */
export function readSendHeader(request: RemotingCommand, v2: boolean): SendHeader {
  const h = new Header(request);
  const n = (name: keyof typeof V2_NAMES): string => (v2 ? V2_NAMES[name] : name);
  try {
    return {
      producerGroup: h.str(n('producerGroup')),
      topic: h.str(n('topic')),
      defaultTopicQueueNums: h.optInt(n('defaultTopicQueueNums'), 0),
      queueId: h.int(n('queueId')),
      sysFlag: h.optInt(n('sysFlag'), 0),
      bornTimestamp: h.optLong(n('bornTimestamp'), 0),
      flag: h.optInt(n('flag'), 0),
      properties: h.optStr(n('properties')) ?? '',
      reconsumeTimes: h.optInt(n('reconsumeTimes'), 0),
      maxReconsumeTimes: h.optInt(n('maxReconsumeTimes'), MAX_RECONSUME_TIMES_DEFAULT),
      batch: h.bool(n('batch'), false),
    };
  } catch (err) {
    // name the field as the V1 header would, whichever encoding the client used
    if (v2 && err instanceof BadRequestError) {
      const letter = /'([a-n])'/.exec(err.message)?.[1];
      const v1 = Object.entries(V2_NAMES).find(([, l]) => l === letter)?.[0];
      if (v1) throw new BadRequestError(err.message.replace(`'${letter}'`, `'${letter}' (${v1})`), err.code);
    }
    throw err;
  }
}

const topicBytesCache = new Map<string, Buffer>();
function topicBytes(topic: string): Buffer {
  let b = topicBytesCache.get(topic);
  if (!b) {
    b = Buffer.from(topic);
    if (topicBytesCache.size < 100_000) topicBytesCache.set(topic, b);
  }
  return b;
}

const bornHosts = new WeakMap<object, HostV4>();
/** The producer's address as stored in BORNHOST (IPv4; other addresses are stored as 0.0.0.0 with the port). */
export function bornHostOf(rc: RequestContext): HostV4 {
  let h = bornHosts.get(rc.connection);
  if (!h) {
    const at = rc.remoteAddress.lastIndexOf(':');
    const ip = parseIPv4(rc.remoteAddress.slice(0, at));
    h = { ip: ip < 0 ? 0 : ip, port: Number(rc.remoteAddress.slice(at + 1)) || 0 };
    bornHosts.set(rc.connection, h);
  }
  return h;
}

/** Where a message goes after the delay/retry/DLQ rules. */
export interface Target {
  topic: string;
  queueId: number;
  properties: string;
}

export class SendService {
  constructor(private readonly ctx: BrokerContext) {}

  async handle(request: RemotingCommand, rc: RequestContext, header: SendHeader): Promise<RemotingCommand> {
    const started = performance.now();
    const ctx = this.ctx;
    if (ctx.raft.writeRefusal() !== null) return notWritableResponse(ctx, request);
    const problem = topicNameProblem(header.topic);
    if (problem) return createResponse(request, ResponseCode.SYSTEM_ERROR, `The specified topic is not valid: ${problem}`);
    if (isSystemTopic(header.topic)) return createResponse(request, ResponseCode.NO_PERMISSION, `Sending message to topic[${header.topic}] is forbidden.`);
    const body = request.body;
    if (!Buffer.isBuffer(body) || body.length === 0) return createResponse(request, ResponseCode.MESSAGE_ILLEGAL, 'the message body is empty');
    if (!header.batch && body.length > MESSAGE_BODY_BYTES_MAX) {
      return createResponse(request, ResponseCode.MESSAGE_ILLEGAL, `the message body size ${body.length} exceeds the maximum of ${MESSAGE_BODY_BYTES_MAX} bytes`);
    }
    let drafts: MessageDraft[];
    let target: Target;
    try {
      target = await this.resolveTarget(header);
      const topicCfg = ctx.topics.get(target.topic);
      if (!topicCfg) {
        return createResponse(request, ResponseCode.TOPIC_NOT_EXIST, `topic[${header.topic}] not exist, apply first please! (auto-creation is ${ctx.config.autoCreateTopicEnable ? 'on' : 'off'} on broker ${ctx.config.brokerName})`);
      }
      if (!isWritable(topicCfg.perm)) return createResponse(request, ResponseCode.NO_PERMISSION, `the topic[${target.topic}] sending is forbidden`);
      if (target.queueId < 0) target.queueId = Math.floor(Math.random() * topicCfg.writeQueueNums);
      else if (target.queueId >= topicCfg.writeQueueNums && target.topic === header.topic) {
        return createResponse(request, ResponseCode.SYSTEM_ERROR, `request queueId[${target.queueId}] is illegal, topic ${target.topic} has ${topicCfg.writeQueueNums} write queues`);
      }
      // A half message is stored as an ordinary one; the broker decides by the TRAN_MSG property, not the sysFlag.
      const sysFlag = target.topic === SystemTopic.TRANS_HALF ? resetTransactionType(header.sysFlag, SysFlag.TRANSACTION_NOT_TYPE) : header.sysFlag;
      drafts = header.batch ? this.batchDrafts(body, header, target, rc) : [this.draft(body, header, target, rc, header.flag, sysFlag)];
      // The client's properties were checked on the way in; UNIQ_KEY and the delay/transaction fields came since.
      for (const d of drafts) draftLength(d);
    } catch (err) {
      if (err instanceof BadRequestError) return createResponse(request, err.code, err.message);
      if (err instanceof PropertiesTooLongError) return createResponse(request, ResponseCode.MESSAGE_ILLEGAL, err.message);
      if (err instanceof NotWritableError) return notWritableResponse(ctx, request, err);
      throw err;
    }
    let result: AppendMessagesResult;
    try {
      result = await ctx.raft.proposeMessages(drafts);
    } catch (err) {
      return this.failure(request, err as Error);
    }
    let bodyBytes = 0;
    for (const d of drafts) bodyBytes += d.body.length;
    ctx.metrics.countReceived(target.topic, drafts.length, bodyBytes);
    ctx.metrics.sendLatency.observe((performance.now() - started) / 1000);
    const first = result.messages[0]!;
    const ids = result.messages.map((m) => createOffsetMessageId(ctx.storeHost, m.physicalOffset));
    const ext: Record<string, string> = {
      msgId: ids.length === 1 ? ids[0]! : ids.join(','),
      queueId: String(first.queueId),
      queueOffset: String(first.queueOffset),
      MSG_REGION: 'DefaultRegion',
      TRACE_ON: 'true',
    };
    // As RocketMQ 4.x: the transaction id (the UNIQ_KEY) only for half messages, where END_TRANSACTION needs it.
    if (target.topic === SystemTopic.TRANS_HALF) ext.transactionId = findProperty(drafts[0]!.properties, Prop.UNIQ_KEY) ?? '';
    return createResponse(request, ResponseCode.SUCCESS, null, ext);
  }

  failure(request: RemotingCommand, err: Error): RemotingCommand {
    if (err instanceof NotWritableError) return notWritableResponse(this.ctx, request, err);
    if (err instanceof PropertiesTooLongError) return createResponse(request, ResponseCode.MESSAGE_ILLEGAL, err.message);
    if (err instanceof StoreError) {
      if (err.code === StoreErrorCode.MESSAGE_TOO_LARGE) return createResponse(request, ResponseCode.MESSAGE_ILLEGAL, err.message);
      if (err.code === StoreErrorCode.DISK_FULL || err.code === StoreErrorCode.IO_ERROR) {
        return createResponse(request, ResponseCode.SERVICE_NOT_AVAILABLE, `service not available now: ${err.message}`);
      }
    }
    if (err instanceof ProposalLostError) return createResponse(request, ResponseCode.SYSTEM_ERROR, `the write may not have been stored: ${err.message}`);
    throw err;
  }

  /** Applies the retry-to-DLQ and delay rules; creates retry, DLQ and auto-created topics on the way. */
  private async resolveTarget(header: SendHeader): Promise<Target> {
    const ctx = this.ctx;
    let topic = header.topic;
    let queueId = header.queueId;
    let properties = header.properties;
    if (Buffer.byteLength(properties) > PROPERTIES_BYTES_MAX) throw new BadRequestError(`the message properties exceed ${PROPERTIES_BYTES_MAX} bytes`, ResponseCode.MESSAGE_ILLEGAL);
    if (topic.startsWith(RETRY_GROUP_TOPIC_PREFIX) && header.reconsumeTimes >= header.maxReconsumeTimes) {
      topic = dlqTopic(topic.slice(RETRY_GROUP_TOPIC_PREFIX.length));
      queueId = 0;
      await ctx.topics.ensure(topic, 1);
    } else {
      const cfg = await ctx.topics.forSend(topic, header.defaultTopicQueueNums);
      if (!cfg) return { topic, queueId, properties };
    }
    if (isHalfSend(properties)) {
      if (header.batch) throw new BadRequestError('batched messages cannot be transactional', ResponseCode.MESSAGE_ILLEGAL);
      const cfg = ctx.topics.get(topic);
      if (!cfg) return { topic, queueId, properties };
      await ctx.topics.ensure(SystemTopic.TRANS_HALF, 1);
      const realQueue = queueId >= 0 && queueId < cfg.writeQueueNums ? queueId : Math.floor(Math.random() * cfg.writeQueueNums);
      return toHalf(topic, realQueue, properties);
    }
    const delay = Number(findProperty(properties, Prop.DELAY_TIME_LEVEL) ?? 0);
    if (delay > 0 && !topic.startsWith('%DLQ%')) return delayTarget(ctx, topic, queueId, properties, delay);
    return { topic, queueId, properties };
  }

  private draft(body: Buffer, header: SendHeader, target: Target, rc: RequestContext, flag: number, sysFlag: number, properties = target.properties): MessageDraft {
    return {
      topic: target.topic,
      topicBytes: topicBytes(target.topic),
      queueId: target.queueId,
      flag,
      sysFlag,
      bornTimestamp: header.bornTimestamp,
      bornHost: bornHostOf(rc),
      storeHost: this.ctx.storeHost,
      reconsumeTimes: header.reconsumeTimes,
      preparedTransactionOffset: 0,
      body,
      properties: findProperty(properties, Prop.UNIQ_KEY) ? properties : `${properties}${Prop.UNIQ_KEY}\u0001${uniqueIds.next()}\u0002`,
    };
  }

  /**
   * SEND_BATCH_MESSAGE body (rocketmq-protocol.md 4.7): per message TOTALSIZE, MAGICCODE, BODYCRC, FLAG, BODYLEN,
   * body, PROPERTIESLEN, properties. All go to the header's topic and queue, as one entry.
   */
  private batchDrafts(body: Buffer, header: SendHeader, target: Target, rc: RequestContext): MessageDraft[] {
    const drafts: MessageDraft[] = [];
    let pos = 0;
    while (pos < body.length) {
      if (drafts.length >= BATCH_MESSAGES_MAX) throw new BadRequestError(`a batch may hold at most ${BATCH_MESSAGES_MAX} messages`, ResponseCode.MESSAGE_ILLEGAL);
      if (body.length - pos < 22) throw new BadRequestError(`batch body truncated at byte ${pos}`, ResponseCode.MESSAGE_ILLEGAL);
      const total = body.readInt32BE(pos);
      const flag = body.readInt32BE(pos + 12);
      const bodyLength = body.readInt32BE(pos + 16);
      if (total < 22 || pos + total > body.length || bodyLength < 0 || 20 + bodyLength + 2 > total) throw new BadRequestError(`malformed batch message at byte ${pos}`, ResponseCode.MESSAGE_ILLEGAL);
      const msgBody = body.subarray(pos + 20, pos + 20 + bodyLength);
      if (msgBody.length > MESSAGE_BODY_BYTES_MAX) throw new BadRequestError(`a batched message body exceeds ${MESSAGE_BODY_BYTES_MAX} bytes`, ResponseCode.MESSAGE_ILLEGAL);
      const propsLength = body.readInt16BE(pos + 20 + bodyLength);
      if (propsLength < 0 || 22 + bodyLength + propsLength !== total) throw new BadRequestError(`malformed batch message properties at byte ${pos}`, ResponseCode.MESSAGE_ILLEGAL);
      const props = body.toString('utf8', pos + 22 + bodyLength, pos + 22 + bodyLength + propsLength);
      if (findProperty(props, Prop.DELAY_TIME_LEVEL)) throw new BadRequestError('batched messages cannot be delayed', ResponseCode.MESSAGE_ILLEGAL);
      drafts.push(this.draft(msgBody, header, target, rc, flag, header.sysFlag & ~SysFlag.TRANSACTION_ROLLBACK_TYPE, props));
      pos += total;
    }
    if (drafts.length === 0) throw new BadRequestError('the batch holds no message', ResponseCode.MESSAGE_ILLEGAL);
    return drafts;
  }
}

/** Where a message delayed by `delayLevel` is stored: queue level-1 of the schedule topic, real target saved. */
export async function delayTarget(ctx: BrokerContext, topic: string, queueId: number, properties: string, delayLevel: number): Promise<Target> {
  const level = Math.min(delayLevel, ctx.delayLevelsMs.length);
  const cfg = ctx.topics.get(topic);
  const realQueue = queueId >= 0 ? queueId : Math.floor(Math.random() * (cfg?.writeQueueNums ?? 1));
  const props = withProperties(properties, { [Prop.REAL_TOPIC]: topic, [Prop.REAL_QUEUE_ID]: String(realQueue), [Prop.DELAY_TIME_LEVEL]: String(level) });
  await ctx.topics.ensure(SystemTopic.SCHEDULE, ctx.delayLevelsMs.length);
  return { topic: SystemTopic.SCHEDULE, queueId: level - 1, properties: props };
}

/** Sets properties in an encoded properties string (replacing existing values). */
export function withProperties(properties: string, set: Record<string, string>): string {
  const decoded = decodeProperties(properties);
  for (const [k, v] of Object.entries(set)) decoded[k] = v;
  return encodeProperties(decoded);
}

/** Removes properties from an encoded properties string. */
export function withoutProperties(properties: string, names: string[]): string {
  const decoded = decodeProperties(properties);
  for (const n of names) delete decoded[n];
  return encodeProperties(decoded);
}
