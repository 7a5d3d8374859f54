// GET_CONSUMER_LIST_BY_GROUP (38): the client ids of a consumer group (what clients sort for queue allocation).
import { ResponseCode, createResponse, type Processor } from '../../remoting/index.js';
import { Header, guarded } from '../headers.js';
import type { BrokerContext } from '../context.js';

export const getConsumerListByGroup = (ctx: BrokerContext): Processor =>
  guarded((request) => {
    const group = new Header(request).str('consumerGroup');
    const ids = ctx.consumers.clientIds(group);
    if (ids.length === 0) return createResponse(request, ResponseCode.SYSTEM_ERROR, `no consumer for this group, ${group}`);
    return createResponse(request, ResponseCode.SUCCESS, null, null, Buffer.from(JSON.stringify({ consumerIdList: ids })));
  });
