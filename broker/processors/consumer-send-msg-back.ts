// CONSUMER_SEND_MSG_BACK (36): a consumer failed a message. It is copied to the group's retry topic with a growing
// delay (level 3 + reconsume times, unless the consumer asks for one), or to the group's DLQ once it has been
// reconsumed maxReconsumeTimes times (or the consumer asks with a negative delay level).
import { ResponseCode, createResponse, type Processor } from '../../remoting/index.js';
import { PropertiesTooLongError, decodeMessage, draftLength, parseHost, type MessageDraft } from '../../common/message.js';
import { encodeProperties, Prop } from '../../common/properties.js';
import { dlqTopic, retryTopic } from '../../common/topic.js';
import { Header, guarded } from '../headers.js';
import type { BrokerContext } from '../context.js';
import { refuseUnlessLeader } from '../not-leader.js';
import { delayTarget, type SendService } from '../send-service.js';
import { subscriptionGroupConfig } from '../subscription-groups.js';

export const consumerSendMsgBack = (ctx: BrokerContext, sends: SendService): Processor =>
  guarded(async (request) => {
    const h = new Header(request);
    const offset = h.long('offset');
    const group = h.str('group');
    let delayLevel = h.int('delayLevel');
    const refusal = refuseUnlessLeader(ctx, request);
    if (refusal) return refusal;
    const groupCfg = ctx.state.groups.get(group) ?? (ctx.config.autoCreateSubscriptionGroup ? subscriptionGroupConfig(group) : undefined);
    if (!groupCfg) return createResponse(request, ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST, `subscription group not exist, ${group}`);
    const stored = ctx.store.viewMessage(offset);
    if (!stored) return createResponse(request, ResponseCode.SYSTEM_ERROR, `look message by offset failed, ${offset}`);
    const msg = decodeMessage(stored, 0, { inflate: false, verifyCrc: false });
    const maxReconsume = h.optInt('maxReconsumeTimes', groupCfg.retryMaxTimes);
    const props = { ...msg.properties };
    props[Prop.RETRY_TOPIC] ??= msg.topic;
    props[Prop.ORIGIN_MESSAGE_ID] ??= h.optStr('originMsgId') ?? msg.msgId;
    let topic: string;
    let queueId = 0;
    let properties: string;
    if (msg.reconsumeTimes >= maxReconsume || delayLevel < 0) {
      topic = dlqTopic(group);
      delete props[Prop.DELAY_TIME_LEVEL];
      properties = encodeProperties(props);
      await ctx.topics.ensure(topic, 1);
    } else {
      if (delayLevel === 0) delayLevel = 3 + msg.reconsumeTimes;
      const retry = retryTopic(group);
      await ctx.topics.ensure(retry, 1);
      const target = await delayTarget(ctx, retry, 0, encodeProperties(props), delayLevel);
      topic = target.topic;
      queueId = target.queueId;
      properties = target.properties;
    }
    const draft: MessageDraft = {
      topic,
      topicBytes: Buffer.from(topic),
      queueId,
      flag: msg.flag,
      sysFlag: msg.sysFlag,
      bornTimestamp: msg.bornTimestamp,
      bornHost: parseHost(msg.bornHost),
      storeHost: ctx.storeHost,
      reconsumeTimes: msg.reconsumeTimes + 1,
      preparedTransactionOffset: 0,
      body: msg.body,
      bodyCrc: msg.bodyCrc,
      properties,
    };
    try {
      // RETRY_TOPIC, ORIGIN_MESSAGE_ID and the delay fields were added to what the producer sent: check again.
      draftLength(draft);
    } catch (err) {
      if (err instanceof PropertiesTooLongError) return createResponse(request, ResponseCode.MESSAGE_ILLEGAL, `cannot send message ${msg.msgId} back: ${err.message}`);
      throw err;
    }
    try {
      await ctx.raft.proposeMessages([draft]);
    } catch (err) {
      return sends.failure(request, err as Error);
    }
    return createResponse(request, ResponseCode.SUCCESS);
  });
