// GET_MIN_OFFSET (31): oldest queue offset still stored.
import { ResponseCode, createResponse, type Processor } from '../../remoting/index.js';
import { Header, guarded } from '../headers.js';
import type { BrokerContext } from '../context.js';

export const getMinOffset = (ctx: BrokerContext): Processor =>
  guarded((request) => {
    const h = new Header(request);
    return createResponse(request, ResponseCode.SUCCESS, null, { offset: String(ctx.store.getMinOffset(h.str('topic'), h.int('queueId'))) });
  });
