// PUT_KV_CONFIG (100): sets namespace/key to value (in memory only).
import { createResponse, ResponseCode, type Processor } from '../../remoting/index.js';
import { NamesrvRequestError } from '../errors.js';
import { optionalString, requiredName, requiredString } from '../header.js';
import { guarded, type NamesrvState } from './context.js';

export function putKvConfigProcessor(state: NamesrvState): Processor {
  return guarded((request) => {
    const ext = request.extFields;
    const namespace = requiredName(ext, 'namespace');
    const key = requiredString(ext, 'key');
    // An empty value is legitimate, so only absence is refused.
    const value = optionalString(ext, 'value');
    if (value === null) throw new NamesrvRequestError('header field value is required');
    state.kv.put(namespace, key, value);
    return createResponse(request, ResponseCode.SUCCESS);
  });
}
