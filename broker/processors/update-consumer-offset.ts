// UPDATE_CONSUMER_OFFSET (15): commits a group's offset through the log (batched), answering once applied.
import { ResponseCode, createResponse, type Processor } from '../../remoting/index.js';
import { NotWritableError } from '../../dledger/node.js';
import { Header, guarded } from '../headers.js';
import type { BrokerContext } from '../context.js';
import { notWritableResponse, refuseUnlessLeader } from '../not-leader.js';

export const updateConsumerOffset = (ctx: BrokerContext): Processor =>
  guarded(async (request) => {
    const h = new Header(request);
    const group = h.str('consumerGroup');
    const topic = h.str('topic');
    const queueId = h.int('queueId');
    const offset = h.long('commitOffset');
    if (offset < 0) return createResponse(request, ResponseCode.INVALID_PARAMETER, `commitOffset must not be negative, got ${offset}`);
    const refusal = refuseUnlessLeader(ctx, request);
    if (refusal) return refusal;
    if (!ctx.topics.get(topic)) return createResponse(request, ResponseCode.TOPIC_NOT_EXIST, `topic[${topic}] not exist`);
    try {
      await ctx.offsets.commit(group, topic, queueId, offset);
    } catch (err) {
      if (err instanceof NotWritableError) return notWritableResponse(ctx, request, err);
      return createResponse(request, ResponseCode.SYSTEM_ERROR, `offset not committed: ${(err as Error).message}`);
    }
    return createResponse(request, ResponseCode.SUCCESS);
  });
