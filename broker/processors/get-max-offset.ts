// GET_MAX_OFFSET (30): the next queue offset to be written (only committed messages count).
import { ResponseCode, createResponse, type Processor } from '../../remoting/index.js';
import { Header, guarded } from '../headers.js';
import type { BrokerContext } from '../context.js';

export const getMaxOffset = (ctx: BrokerContext): Processor =>
  guarded((request) => {
    const h = new Header(request);
    return createResponse(request, ResponseCode.SUCCESS, null, { offset: String(ctx.store.getMaxOffset(h.str('topic'), h.int('queueId'))) });
  });
