// GET_KV_CONFIG (101): ext `value`, or QUERY_NOT_FOUND with Java's remark. Clients ask for ORDER_TOPIC_CONFIG at start.
import { createResponse, ResponseCode, type Processor } from '../../remoting/index.js';
import { requiredName, requiredString } from '../header.js';
import { guarded, type NamesrvState } from './context.js';

export function getKvConfigProcessor(state: NamesrvState): Processor {
  return guarded((request) => {
    const namespace = requiredName(request.extFields, 'namespace');
    const key = requiredString(request.extFields, 'key');
    const value = state.kv.get(namespace, key);
    if (value === null) {
      return createResponse(request, ResponseCode.QUERY_NOT_FOUND, `No config item, Namespace: ${namespace} Key: ${key}`);
    }
    return createResponse(request, ResponseCode.SUCCESS, null, { value });
  });
}
