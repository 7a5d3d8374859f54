// QUERY_CONSUMER_OFFSET (14): the committed offset of a group on a queue. With none committed, RocketMQ answers
// 0 while the queue still starts at 0 and its first message is recent (so a new group on a young topic reads it
// from the start), and QUERY_NOT_FOUND (22) otherwise; `setZeroIfNotFound` forces 0.
import os from 'node:os';
import { ResponseCode, createResponse, type Processor } from '../../remoting/index.js';
import { Header, guarded } from '../headers.js';
import type { BrokerContext } from '../context.js';

/** RocketMQ's accessMessageInMemoryMaxRatio: how recent (as a share of RAM behind the log end) counts as "in memory". */
const IN_MEMORY_RATIO = 0.4;

export const queryConsumerOffset = (ctx: BrokerContext): Processor =>
  guarded((request) => {
    const h = new Header(request);
    const group = h.str('consumerGroup');
    const topic = h.str('topic');
    const queueId = h.int('queueId');
    const committed = ctx.state.offsets.get(group, topic, queueId);
    if (committed !== undefined) return createResponse(request, ResponseCode.SUCCESS, null, { offset: String(committed) });
    if (h.bool('setZeroIfNotFound', false)) return createResponse(request, ResponseCode.SUCCESS, null, { offset: '0' });
    const cq = ctx.store.consumeQueues.find(topic, queueId);
    const first = cq && cq.minOffset === 0 ? cq.get(0) : null;
    const logEnd = ctx.store.commitLog.writeOffset;
    if (first && logEnd - first.physicalOffset < os.totalmem() * IN_MEMORY_RATIO) {
      return createResponse(request, ResponseCode.SUCCESS, null, { offset: '0' });
    }
    if (!cq || cq.maxOffset === 0) return createResponse(request, ResponseCode.SUCCESS, null, { offset: '0' });
    return createResponse(request, ResponseCode.QUERY_NOT_FOUND, 'Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first');
  });
