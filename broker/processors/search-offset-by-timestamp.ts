// SEARCH_OFFSET_BY_TIMESTAMP (29): queue offset of the first message stored at or after a time (boundaryType
// "upper": the last one stored at or before it).
import { ResponseCode, createResponse, type Processor } from '../../remoting/index.js';
import { Header, guarded } from '../headers.js';
import type { BrokerContext } from '../context.js';

export const searchOffsetByTimestamp = (ctx: BrokerContext): Processor =>
  guarded((request) => {
    const h = new Header(request);
    const boundary = (h.optStr('boundaryType') ?? 'lower').toLowerCase() === 'upper' ? 'upper' : 'lower';
    const offset = ctx.store.searchOffsetByTimestamp(h.str('topic'), h.int('queueId'), h.long('timestamp'), boundary);
    return createResponse(request, ResponseCode.SUCCESS, null, { offset: String(offset) });
  });
