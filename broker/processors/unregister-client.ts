// UNREGISTER_CLIENT (35): a client leaves its producer and/or consumer group (consumers then rebalance).
import { ResponseCode, createResponse, type Processor } from '../../remoting/index.js';
import { Header, guarded } from '../headers.js';
import type { BrokerContext } from '../context.js';

export const unregisterClient = (ctx: BrokerContext): Processor =>
  guarded((request, rc) => {
    const h = new Header(request);
    h.str('clientID');
    const producerGroup = h.optStr('producerGroup');
    const consumerGroup = h.optStr('consumerGroup');
    if (producerGroup) ctx.producers.unregister(producerGroup, rc.connectionId);
    if (consumerGroup && ctx.consumers.unregister(consumerGroup, rc.connectionId)) ctx.consumers.notifyIdsChanged(consumerGroup);
    return createResponse(request, ResponseCode.SUCCESS);
  });
