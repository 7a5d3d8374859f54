// PULL_MESSAGE: reads committed messages of a queue straight from the mapped commit log, with long polling (a
// pull that finds nothing new is held until a message arrives or its suspend time ends) and the status mapping
// of RocketMQ's PullMessageProcessor (rocketmq-protocol.md 3.2).
import { ResponseCode, createResponse, type RemotingCommand } from '../remoting/index.js';
import { GetMessageStatus, type GetMessageResult } from '../store/message-store.js';
import { tagHashCode } from '../common/tag-hash.js';
import { Header } from './headers.js';
import { PullSysFlag } from '../common/protocol.js';
import type { BrokerContext } from './context.js';
import { PULL_SUSPEND_MS_MAX } from './limits.js';
import { notWritableResponse } from './not-leader.js';

export { PullSysFlag };

interface PullHeader {
  consumerGroup: string;
  topic: string;
  queueId: number;
  queueOffset: number;
  maxMsgNums: number;
  sysFlag: number;
  commitOffset: number;
  suspendTimeoutMillis: number;
  subscription: string | undefined;
  expressionType: string;
}

function readPullHeader(request: RemotingCommand): PullHeader {
  const h = new Header(request);
  return {
    consumerGroup: h.str('consumerGroup'),
    topic: h.str('topic'),
    queueId: h.int('queueId'),
    queueOffset: h.long('queueOffset'),
    maxMsgNums: h.int('maxMsgNums'),
    sysFlag: h.int('sysFlag'),
    commitOffset: h.optLong('commitOffset', -1),
    suspendTimeoutMillis: h.optLong('suspendTimeoutMillis', 0),
    subscription: h.optStr('subscription'),
    expressionType: h.optStr('expressionType') ?? 'TAG',
  };
}

/** A tag expression ("*", "TagA || TagB") as a set of tag hashes; null matches everything. */
export function tagFilter(expression: string | undefined): Set<number> | null {
  if (!expression) return null;
  const tags = expression
    .split('||')
    .map((t) => t.trim())
    .filter((t) => t.length > 0);
  if (tags.length === 0 || tags.includes('*')) return null;
  return new Set(tags.map(tagHashCode));
}

/** Pull outcomes a replica may answer itself: the requested offset is inside what it stores. */
const SERVABLE_ON_A_REPLICA: ReadonlySet<GetMessageStatus> = new Set([GetMessageStatus.FOUND, GetMessageStatus.NO_MATCHED_MESSAGE, GetMessageStatus.OFFSET_FOUND_NULL]);

export class PullService {
  constructor(private readonly ctx: BrokerContext) {}

  async handle(request: RemotingCommand): Promise<RemotingCommand> {
    const started = performance.now();
    const ctx = this.ctx;
    const h = readPullHeader(request);
    const topicCfg = ctx.topics.get(h.topic);
    if (!topicCfg) return createResponse(request, ResponseCode.TOPIC_NOT_EXIST, `topic[${h.topic}] not exist on broker ${ctx.config.brokerName}`);
    if (h.queueId < 0 || h.queueId >= Math.max(topicCfg.readQueueNums, topicCfg.writeQueueNums)) {
      return createResponse(request, ResponseCode.SYSTEM_ERROR, `queueId[${h.queueId}] is illegal, topic ${h.topic} has ${topicCfg.readQueueNums} read queues`);
    }
    if (h.expressionType.toUpperCase() !== 'TAG') return createResponse(request, ResponseCode.SUBSCRIPTION_PARSE_FAILED, `${h.expressionType} filtering is not supported; use tag expressions`);
    const filter = this.filterFor(h);
    const matches = filter ? (code: number) => filter.has(code) : null;
    if (h.sysFlag & PullSysFlag.COMMIT_OFFSET && h.commitOffset >= 0 && ctx.raft.writeRefusal() === null) {
      // Piggy-backed offset commit: best effort, the consumer also commits explicitly.
      ctx.offsets.commit(h.consumerGroup, h.topic, h.queueId, h.commitOffset).catch(() => undefined);
    }
    const maxMessages = Math.max(1, h.maxMsgNums);
    let result = ctx.store.getMessages(h.topic, h.queueId, h.queueOffset, maxMessages, matches);
    if (!ctx.raft.isReadyLeader && !SERVABLE_ON_A_REPLICA.has(result.status)) {
      // A replica serves what it has, but its view of a queue's ends may lag the leader's (or, after retention,
      // differ): answering "offset moved" from it would send the consumer backwards or forwards. Only the leader
      // speaks for a queue's ends; the consumer is sent there.
      result.release();
      return notWritableResponse(ctx, request);
    }
    const nothingYet = result.status === GetMessageStatus.OFFSET_OVERFLOW_ONE || (result.status === GetMessageStatus.NO_MESSAGE_IN_QUEUE && h.queueOffset === 0);
    if (nothingYet && h.sysFlag & PullSysFlag.SUSPEND && h.suspendTimeoutMillis > 0) {
      const suspendMs = Math.min(h.suspendTimeoutMillis, PULL_SUSPEND_MS_MAX);
      const woken = await new Promise<boolean>((resolve) => {
        if (!ctx.pullHold.hold(h.topic, h.queueId, h.queueOffset, suspendMs, () => resolve(true))) resolve(false);
      });
      if (woken) result = ctx.store.getMessages(h.topic, h.queueId, h.queueOffset, maxMessages, matches);
    }
    const response = this.respond(request, result, h.queueOffset);
    if (result.messages.length > 0) ctx.metrics.countDelivered(h.topic, result.messages.length, result.totalBytes);
    ctx.metrics.pullLatency.observe((performance.now() - started) / 1000);
    // The slices stay valid while referenced; the lease only keeps the segment file from being deleted meanwhile.
    setImmediate(result.release);
    return response;
  }

  /** The subscription expression: from the request, else what the group registered in its heartbeat. */
  private filterFor(h: PullHeader): Set<number> | null {
    if (h.sysFlag & PullSysFlag.SUBSCRIPTION) return tagFilter(h.subscription);
    const sub = this.ctx.consumers.get(h.consumerGroup)?.subscriptions.get(h.topic);
    if (!sub || sub.codeSet.length === 0 || sub.subString === '*') return null;
    return new Set(sub.codeSet);
  }

  private respond(request: RemotingCommand, r: GetMessageResult, requestedOffset: number): RemotingCommand {
    let code: number;
    switch (r.status) {
      case GetMessageStatus.FOUND:
        code = ResponseCode.SUCCESS;
        break;
      case GetMessageStatus.NO_MATCHED_MESSAGE:
      case GetMessageStatus.OFFSET_FOUND_NULL:
        code = ResponseCode.PULL_RETRY_IMMEDIATELY;
        break;
      case GetMessageStatus.NO_MESSAGE_IN_QUEUE:
        code = requestedOffset !== 0 ? ResponseCode.PULL_OFFSET_MOVED : ResponseCode.PULL_NOT_FOUND;
        break;
      case GetMessageStatus.OFFSET_OVERFLOW_ONE:
        code = ResponseCode.PULL_NOT_FOUND;
        break;
      case GetMessageStatus.OFFSET_TOO_SMALL:
      case GetMessageStatus.OFFSET_OVERFLOW_BADLY:
        code = ResponseCode.PULL_OFFSET_MOVED;
        break;
    }
    const ext = {
      suggestWhichBrokerId: '0',
      nextBeginOffset: String(r.nextBeginOffset),
      minOffset: String(r.minOffset),
      maxOffset: String(r.maxOffset),
    };
    return createResponse(request, code, null, ext, code === ResponseCode.SUCCESS ? r.messages : null);
  }
}
