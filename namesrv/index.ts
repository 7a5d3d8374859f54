// Public surface of the name server.
export { NamesrvRequestCode, ORDER_TOPIC_CONFIG_NAMESPACE } from './codes.js';
export { NamesrvRequestError } from './errors.js';
export { KvConfig } from './kv-config.js';
export * as limits from './limits.js';
export { consoleNamesrvLogger, type NamesrvLogger } from './logger.js';
export { NamesrvMetricName, NamesrvMetrics, type NamesrvMetricsOptions } from './metrics.js';
export { describeEvent, startNameServer, type NameServerHandle, type NameServerOptions } from './name-server.js';
export { registerNamesrvProcessors, type NamesrvState } from './processors/index.js';
export { parseRegisterBrokerBody, sameDataVersion, type DataVersion, type TopicQueueConfig, type TopicTable } from './register-body.js';
export {
  MASTER_ID,
  RouteInfo,
  type BrokerData,
  type BrokerRegistration,
  type ClusterInfo,
  type DropReason,
  type LiveBroker,
  type QueueData,
  type RegistrationResult,
  type RouteEvent,
  type RouteInfoOptions,
  type RouteStats,
  type TopicRoute,
} from './route-info.js';
export { clusterInfoBody, kvTableBody, topicListBody, topicRouteBody } from './wire-json.js';
