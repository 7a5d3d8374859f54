// GET_EARLIEST_MSG_STORETIME (32): store time of a queue's oldest message.
import { ResponseCode, createResponse, type Processor } from '../../remoting/index.js';
import { Header, guarded } from '../headers.js';
import type { BrokerContext } from '../context.js';

export const getEarliestMsgStoretime = (ctx: BrokerContext): Processor =>
  guarded((request) => {
    const h = new Header(request);
    const ts = ctx.store.getEarliestMessageTime(h.str('topic'), h.int('queueId'));
    if (ts < 0) return createResponse(request, ResponseCode.SYSTEM_ERROR, 'the queue holds no message');
    return createResponse(request, ResponseCode.SUCCESS, null, { timestamp: String(ts) });
  });
