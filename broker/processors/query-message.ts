// QUERY_MESSAGE (12): messages of a topic by key (KEYS) within a time range, or by unique id when the ext field
// _UNIQUE_KEY_QUERY is true.
import { ResponseCode, createResponse, type Processor } from '../../remoting/index.js';
import { Header, guarded } from '../headers.js';
import type { BrokerContext } from '../context.js';
import { QUERY_MESSAGES_MAX } from '../limits.js';

export const queryMessage = (ctx: BrokerContext): Processor =>
  guarded((request) => {
    const h = new Header(request);
    const topic = h.str('topic');
    const key = h.str('key');
    const maxNum = Math.min(Math.max(1, h.int('maxNum')), QUERY_MESSAGES_MAX);
    const begin = h.long('beginTimestamp');
    const end = h.long('endTimestamp');
    const byUniq = h.bool('_UNIQUE_KEY_QUERY', false);
    const found = byUniq ? ctx.store.queryMessageByUniqKey(topic, key, begin, end) : ctx.store.queryMessagesByKey(topic, key, maxNum, begin, end);
    const ext = { indexLastUpdateTimestamp: String(ctx.clock()), indexLastUpdatePhyoffset: String(ctx.store.commitLog.writeOffset) };
    if (found.length === 0) return createResponse(request, ResponseCode.QUERY_NOT_FOUND, `no message of topic ${topic} with key ${key} in that time range`, ext);
    return createResponse(request, ResponseCode.SUCCESS, null, ext, Buffer.concat(found));
  });
