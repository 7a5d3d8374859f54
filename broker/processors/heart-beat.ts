// HEART_BEAT (34): a client's producer and consumer groups. Registers the connection with each group; a change of
// a consumer group's members makes the broker tell the group to rebalance at once. The leader also creates the
// group's retry topic and subscription group config (replicated) the first time it sees a consumer group.
import { ResponseCode, createResponse, type Processor } from '../../remoting/index.js';
import { retryTopic } from '../../common/topic.js';
import { EntryType } from '../../store/record.js';
import { guarded, parseJsonBody, BadRequestError } from '../headers.js';
import type { BrokerContext } from '../context.js';
import type { SubscriptionData } from '../client-channels.js';
import { encodeStateEntry } from '../replicated-state.js';
import { subscriptionGroupConfig } from '../subscription-groups.js';

interface HeartbeatData {
  clientID?: string;
  producerDataSet?: Array<{ groupName?: string }>;
  consumerDataSet?: Array<{
    groupName?: string;
    consumeType?: string;
    messageModel?: string;
    consumeFromWhere?: string;
    subscriptionDataSet?: Array<Partial<SubscriptionData>>;
  }>;
}

const INNER_PRODUCER_GROUP = 'CLIENT_INNER_PRODUCER';

export const heartBeat = (ctx: BrokerContext): Processor =>
  guarded((request, rc) => {
    const data = parseJsonBody<HeartbeatData>(request, 'heartbeat');
    const clientId = typeof data.clientID === 'string' && data.clientID ? data.clientID : rc.remoteAddress;
    const now = ctx.clock();
    for (const p of data.producerDataSet ?? []) {
      if (typeof p?.groupName !== 'string' || !p.groupName || p.groupName === INNER_PRODUCER_GROUP) continue;
      ctx.producers.register(p.groupName, { connection: rc.connection, clientId, lastHeartbeat: now });
    }
    for (const c of data.consumerDataSet ?? []) {
      if (typeof c?.groupName !== 'string' || !c.groupName) throw new BadRequestError('a consumer in the heartbeat has no groupName');
      const subs: SubscriptionData[] = (c.subscriptionDataSet ?? []).map((s) => ({
        topic: String(s.topic ?? ''),
        subString: String(s.subString ?? '*'),
        tagsSet: Array.isArray(s.tagsSet) ? s.tagsSet.map(String) : [],
        codeSet: Array.isArray(s.codeSet) ? s.codeSet.map(Number) : [],
        subVersion: Number(s.subVersion ?? 0),
        expressionType: String(s.expressionType ?? 'TAG'),
      }));
      const changed = ctx.consumers.register(
        c.groupName,
        { connection: rc.connection, clientId, lastHeartbeat: now },
        { consumeType: String(c.consumeType ?? 'CONSUME_PASSIVELY'), messageModel: String(c.messageModel ?? 'CLUSTERING'), consumeFromWhere: String(c.consumeFromWhere ?? 'CONSUME_FROM_LAST_OFFSET') },
        subs,
      );
      if (changed) ctx.consumers.notifyIdsChanged(c.groupName);
      ensureGroup(ctx, c.groupName);
    }
    return createResponse(request, ResponseCode.SUCCESS);
  });

const ensuring = new Set<string>();

/** On the leader: the group's subscription config and retry topic, created once (replicated). */
function ensureGroup(ctx: BrokerContext, group: string): void {
  if (ctx.raft.writeRefusal() !== null || ensuring.has(group)) return;
  const needGroup = ctx.config.autoCreateSubscriptionGroup && !ctx.state.groups.get(group);
  const retry = retryTopic(group);
  const needRetry = !ctx.topics.get(retry);
  if (!needGroup && !needRetry) return;
  ensuring.add(group);
  const ops = [];
  if (needGroup) ops.push({ t: 'group' as const, config: subscriptionGroupConfig(group) });
  if (needRetry) ops.push({ t: 'topic' as const, config: { topicName: retry, readQueueNums: 1, writeQueueNums: 1, perm: 6, topicFilterType: 'SINGLE_TAG' as const, topicSysFlag: 0, order: false, attributes: {} } });
  ctx.raft
    .proposeEntry(EntryType.STATE, encodeStateEntry(ops))
    .then((r) => ctx.raft.waitApplied(r.index))
    .catch((err: Error) => ctx.log(`creating group ${group}'s config and retry topic failed (next heartbeat retries): ${err.message}`))
    .finally(() => ensuring.delete(group));
}
