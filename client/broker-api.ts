// Typed calls to a broker, one function per request code, with the wire field names of protocol
// sections 3.2-3.7. Non-success answers become ClientErrors carrying the code and remark.
import { decodeMessage, decodeMessages, MessageDecodeError, type MessageExt } from '../common/message.js';
import { RequestCode, ResponseCode, type RemotingClient, type RemotingCommand } from '../remoting/index.js';
import { malformedResponse, responseError } from './errors.js';
import { encodeHeartbeat, type HeartbeatData } from './heartbeat.js';
import type { MessageQueue } from './route.js';
import { bodyOf, invoke, request, requiredInteger, type ExtValue } from './rpc.js';

/** PullSysFlag bits (section 3.2). */
export { PullSysFlag } from '../common/protocol.js';

export interface PullRequestHeader {
  consumerGroup: string;
  topic: string;
  queueId: number;
  queueOffset: number;
  maxMsgNums: number;
  sysFlag: number;
  commitOffset: number;
  suspendTimeoutMillis: number;
  subscription: string;
  subVersion: number;
  expressionType: 'TAG';
}

export type PullStatus = 'FOUND' | 'NO_NEW_MSG' | 'NO_MATCHED_MSG' | 'OFFSET_ILLEGAL';

export interface RawPullResult {
  status: PullStatus;
  nextBeginOffset: number;
  minOffset: number;
  maxOffset: number;
  suggestWhichBrokerId: number;
  /** Decoded stored messages (FOUND only), before any tag re-check. */
  messages: MessageExt[];
}

export interface SendBackHeader {
  offset: number;
  group: string;
  delayLevel: number;
  originMsgId: string;
  originTopic: string;
  maxReconsumeTimes: number;
}

export interface CreateTopicHeader {
  topic: string;
  defaultTopic: string;
  readQueueNums: number;
  writeQueueNums: number;
  perm: number;
  topicFilterType: 'SINGLE_TAG';
  topicSysFlag: number;
  order: boolean;
}

export interface QueryMessageHeader {
  topic: string;
  key: string;
  maxNum: number;
  beginTimestamp: number;
  endTimestamp: number;
}

export function encodePullHeader(h: PullRequestHeader): Record<string, ExtValue> {
  return {
    consumerGroup: h.consumerGroup,
    topic: h.topic,
    queueId: h.queueId,
    queueOffset: h.queueOffset,
    maxMsgNums: h.maxMsgNums,
    sysFlag: h.sysFlag,
    commitOffset: h.commitOffset,
    suspendTimeoutMillis: h.suspendTimeoutMillis,
    subscription: h.subscription,
    subVersion: h.subVersion,
    expressionType: h.expressionType,
  };
}

const PULL_STATUS: ReadonlyMap<number, PullStatus> = new Map([
  [ResponseCode.SUCCESS, 'FOUND'],
  [ResponseCode.PULL_NOT_FOUND, 'NO_NEW_MSG'],
  [ResponseCode.PULL_RETRY_IMMEDIATELY, 'NO_MATCHED_MSG'],
  [ResponseCode.PULL_OFFSET_MOVED, 'OFFSET_ILLEGAL'],
]);

/** Answers to a pull that are worth retrying soon (anything transient on the broker side). */
const RETRIABLE_PULL_CODES: ReadonlySet<number> = new Set<number>([
  ResponseCode.SYSTEM_ERROR,
  ResponseCode.SYSTEM_BUSY,
  ResponseCode.SERVICE_NOT_AVAILABLE,
  ResponseCode.NO_PERMISSION,
  ResponseCode.TOPIC_NOT_EXIST,
  ResponseCode.SUBSCRIPTION_NOT_EXIST,
  ResponseCode.SUBSCRIPTION_NOT_LATEST,
  ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST,
  ResponseCode.FLOW_CONTROL,
  ResponseCode.NOT_LEADER_FOR_QUEUE,
  ResponseCode.GO_AWAY,
]);

/** Turns a PULL_MESSAGE answer into a result; codes other than 0/19/20/21 throw. */
export function parsePullResponse(response: RemotingCommand, address: string): RawPullResult {
  const status = PULL_STATUS.get(response.code);
  if (status === undefined) {
    throw responseError(RequestCode.PULL_MESSAGE, address, response.code, response.remark, RETRIABLE_PULL_CODES.has(response.code));
  }
  const field = (name: string): number => requiredInteger(response, name, RequestCode.PULL_MESSAGE, address);
  let messages: MessageExt[] = [];
  if (status === 'FOUND') {
    try {
      messages = decodeMessages(bodyOf(response));
    } catch (error) {
      if (error instanceof MessageDecodeError) throw malformedResponse(RequestCode.PULL_MESSAGE, address, error.message);
      throw error;
    }
  }
  return {
    status,
    nextBeginOffset: field('nextBeginOffset'),
    minOffset: field('minOffset'),
    maxOffset: field('maxOffset'),
    suggestWhichBrokerId: Number(response.extFields?.['suggestWhichBrokerId'] ?? 0) || 0,
    messages,
  };
}

export class BrokerApi {
  constructor(
    private readonly remoting: RemotingClient,
    private readonly timeoutMs: number,
  ) {}

  private async call(address: string, code: number, fields: Record<string, ExtValue> | null, body: Buffer | null = null, timeoutMs = this.timeoutMs): Promise<RemotingCommand> {
    return invoke(this.remoting, address, request(code, fields, body), timeoutMs);
  }

  private static ok(response: RemotingCommand, code: number, address: string, retriable = true): RemotingCommand {
    if (response.code !== ResponseCode.SUCCESS) throw responseError(code, address, response.code, response.remark, retriable);
    return response;
  }

  async heartbeat(address: string, data: HeartbeatData): Promise<void> {
    const response = await this.call(address, RequestCode.HEART_BEAT, null, encodeHeartbeat(data));
    BrokerApi.ok(response, RequestCode.HEART_BEAT, address);
  }

  async unregisterClient(address: string, clientId: string, groups: { producerGroup?: string; consumerGroup?: string }, timeoutMs: number): Promise<void> {
    const response = await this.call(address, RequestCode.UNREGISTER_CLIENT, { clientID: clientId, ...groups }, null, timeoutMs);
    BrokerApi.ok(response, RequestCode.UNREGISTER_CLIENT, address);
  }

  async pull(address: string, header: PullRequestHeader, timeoutMs: number): Promise<RawPullResult> {
    const response = await this.call(address, RequestCode.PULL_MESSAGE, encodePullHeader(header), null, timeoutMs);
    return parsePullResponse(response, address);
  }

  /** The committed offset, or -1 when the broker has none (QUERY_NOT_FOUND). */
  async queryConsumerOffset(address: string, group: string, queue: MessageQueue): Promise<number> {
    const code = RequestCode.QUERY_CONSUMER_OFFSET;
    const response = await this.call(address, code, { consumerGroup: group, topic: queue.topic, queueId: queue.queueId });
    if (response.code === ResponseCode.QUERY_NOT_FOUND) return -1;
    return requiredInteger(BrokerApi.ok(response, code, address), 'offset', code, address);
  }

  async updateConsumerOffset(address: string, group: string, queue: MessageQueue, offset: number): Promise<void> {
    const code = RequestCode.UPDATE_CONSUMER_OFFSET;
    const response = await this.call(address, code, { consumerGroup: group, topic: queue.topic, queueId: queue.queueId, commitOffset: offset });
    BrokerApi.ok(response, code, address);
  }

  async maxOffset(address: string, queue: MessageQueue): Promise<number> {
    return this.offsetCall(address, RequestCode.GET_MAX_OFFSET, { topic: queue.topic, queueId: queue.queueId });
  }

  async minOffset(address: string, queue: MessageQueue): Promise<number> {
    return this.offsetCall(address, RequestCode.GET_MIN_OFFSET, { topic: queue.topic, queueId: queue.queueId });
  }

  async searchOffset(address: string, queue: MessageQueue, timestamp: number): Promise<number> {
    return this.offsetCall(address, RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, { topic: queue.topic, queueId: queue.queueId, timestamp });
  }

  private async offsetCall(address: string, code: number, fields: Record<string, ExtValue>): Promise<number> {
    const response = BrokerApi.ok(await this.call(address, code, fields), code, address);
    return requiredInteger(response, 'offset', code, address);
  }

  async consumerIds(address: string, group: string): Promise<string[]> {
    const code = RequestCode.GET_CONSUMER_LIST_BY_GROUP;
    const response = BrokerApi.ok(await this.call(address, code, { consumerGroup: group }), code, address);
    let parsed: unknown;
    try {
      parsed = JSON.parse(bodyOf(response).toString('utf8'));
    } catch {
      throw malformedResponse(code, address, 'the body is not JSON');
    }
    const list = (parsed as { consumerIdList?: unknown } | null)?.consumerIdList;
    if (!Array.isArray(list) || !list.every((id) => typeof id === 'string')) throw malformedResponse(code, address, 'consumerIdList is not a list of strings');
    return list as string[];
  }

  async sendBack(address: string, header: SendBackHeader): Promise<void> {
    const code = RequestCode.CONSUMER_SEND_MSG_BACK;
    const response = await this.call(address, code, {
      offset: header.offset,
      group: header.group,
      delayLevel: header.delayLevel,
      originMsgId: header.originMsgId,
      originTopic: header.originTopic,
      unitMode: false,
      maxReconsumeTimes: header.maxReconsumeTimes,
    });
    BrokerApi.ok(response, code, address);
  }

  async viewMessage(address: string, commitLogOffset: number): Promise<MessageExt> {
    const code = RequestCode.VIEW_MESSAGE_BY_ID;
    const response = BrokerApi.ok(await this.call(address, code, { offset: commitLogOffset }), code, address, false);
    try {
      return decodeMessage(bodyOf(response));
    } catch (error) {
      if (error instanceof MessageDecodeError) throw malformedResponse(code, address, error.message, false);
      throw error;
    }
  }

  /** Messages indexed under `key` (QUERY_MESSAGE); an empty list when the broker has none (22). */
  async queryMessage(address: string, header: QueryMessageHeader, uniqueKey: boolean): Promise<MessageExt[]> {
    const code = RequestCode.QUERY_MESSAGE;
    const fields: Record<string, ExtValue> = { ...header };
    if (uniqueKey) fields['_UNIQUE_KEY_QUERY'] = true;
    const response = await this.call(address, code, fields);
    if (response.code === ResponseCode.QUERY_NOT_FOUND) return [];
    BrokerApi.ok(response, code, address, false);
    try {
      return decodeMessages(bodyOf(response));
    } catch (error) {
      if (error instanceof MessageDecodeError) throw malformedResponse(code, address, error.message, false);
      throw error;
    }
  }

  async createTopic(address: string, header: CreateTopicHeader): Promise<void> {
    const code = RequestCode.UPDATE_AND_CREATE_TOPIC;
    BrokerApi.ok(await this.call(address, code, { ...header }), code, address, false);
  }
}
