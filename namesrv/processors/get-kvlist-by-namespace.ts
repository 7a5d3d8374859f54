// GET_KVLIST_BY_NAMESPACE (219): body `{"table":{key: value}}`, or QUERY_NOT_FOUND for an empty namespace.
import { createResponse, ResponseCode, type Processor } from '../../remoting/index.js';
import { requiredName } from '../header.js';
import { kvTableBody } from '../wire-json.js';
import { guarded, type NamesrvState } from './context.js';

export function getKvListByNamespaceProcessor(state: NamesrvState): Processor {
  return guarded((request) => {
    const namespace = requiredName(request.extFields, 'namespace');
    const table = state.kv.list(namespace);
    if (table === null) return createResponse(request, ResponseCode.QUERY_NOT_FOUND, `No config item, Namespace: ${namespace}`);
    return createResponse(request, ResponseCode.SUCCESS, null, null, kvTableBody(table));
  });
}
