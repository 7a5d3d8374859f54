// VIEW_MESSAGE_BY_ID (33): the stored message at a commit-log offset (decoded by clients from an offset msgId).
import { ResponseCode, createResponse, type Processor } from '../../remoting/index.js';
import { Header, guarded } from '../headers.js';
import type { BrokerContext } from '../context.js';

export const viewMessageById = (ctx: BrokerContext): Processor =>
  guarded((request) => {
    const offset = new Header(request).long('offset');
    const msg = ctx.store.viewMessage(offset);
    if (!msg) return createResponse(request, ResponseCode.SYSTEM_ERROR, `no message at commit-log offset ${offset} (wrong id, not committed yet, or deleted by retention)`);
    return createResponse(request, ResponseCode.SUCCESS, null, null, Buffer.from(msg));
  });
