// DELETE_KV_CONFIG (102): removes namespace/key; SUCCESS whether or not it existed, as in Java.
import { createResponse, ResponseCode, type Processor } from '../../remoting/index.js';
import { requiredName, requiredString } from '../header.js';
import { guarded, type NamesrvState } from './context.js';

export function deleteKvConfigProcessor(state: NamesrvState): Processor {
  return guarded((request) => {
    const namespace = requiredName(request.extFields, 'namespace');
    const key = requiredString(request.extFields, 'key');
    state.kv.delete(namespace, key);
    return createResponse(request, ResponseCode.SUCCESS);
  });
}
