// GET_BROKER_CLUSTER_INFO (106): every broker group and which cluster it belongs to.
import { createResponse, ResponseCode, type Processor } from '../../remoting/index.js';
import { clusterInfoBody } from '../wire-json.js';
import { guarded, type NamesrvState } from './context.js';

export function getBrokerClusterInfoProcessor(state: NamesrvState): Processor {
  return guarded((request) => createResponse(request, ResponseCode.SUCCESS, null, null, clusterInfoBody(state.routes.clusterInfo())));
}
