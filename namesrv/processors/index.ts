// One processor per request code the name server answers.
import { RequestCode, type RemotingServer } from '../../remoting/index.js';
import { NamesrvRequestCode } from '../codes.js';
import { brokerHeartbeatProcessor } from './broker-heartbeat.js';
import type { NamesrvState } from './context.js';
import { deleteKvConfigProcessor } from './delete-kv-config.js';
import { getAllTopicListProcessor } from './get-all-topic-list.js';
import { getBrokerClusterInfoProcessor } from './get-broker-cluster-info.js';
import { getKvConfigProcessor } from './get-kv-config.js';
import { getKvListByNamespaceProcessor } from './get-kvlist-by-namespace.js';
import { getRouteInfoProcessor } from './get-route-info.js';
import { putKvConfigProcessor } from './put-kv-config.js';
import { registerBrokerProcessor } from './register-broker.js';
import { unregisterBrokerProcessor } from './unregister-broker.js';

export type { NamesrvState } from './context.js';

export function registerNamesrvProcessors(server: RemotingServer, state: NamesrvState): void {
  server.registerProcessor(RequestCode.REGISTER_BROKER, registerBrokerProcessor(state));
  server.registerProcessor(RequestCode.UNREGISTER_BROKER, unregisterBrokerProcessor(state));
  server.registerProcessor(RequestCode.BROKER_HEARTBEAT, brokerHeartbeatProcessor(state));
  server.registerProcessor(RequestCode.GET_ROUTEINFO_BY_TOPIC, getRouteInfoProcessor(state));
  server.registerProcessor(RequestCode.GET_BROKER_CLUSTER_INFO, getBrokerClusterInfoProcessor(state));
  server.registerProcessor(RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER, getAllTopicListProcessor(state));
  server.registerProcessor(RequestCode.PUT_KV_CONFIG, putKvConfigProcessor(state));
  server.registerProcessor(RequestCode.GET_KV_CONFIG, getKvConfigProcessor(state));
  server.registerProcessor(RequestCode.DELETE_KV_CONFIG, deleteKvConfigProcessor(state));
  server.registerProcessor(NamesrvRequestCode.GET_KVLIST_BY_NAMESPACE, getKvListByNamespaceProcessor(state));
}
