// Response bodies in standard JSON (quoted "0" keys), which Java, Go and ali-ons all parse (protocol 5.2,
// 5.4). Keys follow fastjson's alphabetical order. Dictionaries keyed by names from the network are
// null-prototype objects, so a topic or broker called `__proto__` stays an ordinary key.
import type { BrokerData, ClusterInfo, QueueData, TopicRoute } from './route-info.js';

type Dictionary<T> = Record<string, T>;

function dictionary<T>(entries: Iterable<readonly [string, T]>): Dictionary<T> {
  const object = Object.create(null) as Dictionary<T>;
  for (const [key, value] of entries) object[key] = value;
  return object;
}

function brokerDataJson(broker: BrokerData): object {
  return {
    brokerAddrs: dictionary(broker.brokerAddrs.map(([id, address]) => [String(id), address] as const)),
    brokerName: broker.brokerName,
    cluster: broker.cluster,
    enableActingMaster: false,
  };
}

function queueDataJson(queue: QueueData): object {
  return {
    brokerName: queue.brokerName,
    perm: queue.perm,
    readQueueNums: queue.readQueueNums,
    topicSysFlag: queue.topicSysFlag,
    writeQueueNums: queue.writeQueueNums,
  };
}

/** TopicRouteData (GET_ROUTEINFO_BY_TOPIC). */
export function topicRouteBody(route: TopicRoute): Buffer {
  return jsonBody({
    brokerDatas: route.brokerDatas.map(brokerDataJson),
    filterServerTable: {},
    queueDatas: route.queueDatas.map(queueDataJson),
    orderTopicConf: null,
  });
}

/** ClusterInfo (GET_BROKER_CLUSTER_INFO). */
export function clusterInfoBody(info: ClusterInfo): Buffer {
  return jsonBody({
    brokerAddrTable: dictionary(info.brokers.map((broker) => [broker.brokerName, brokerDataJson(broker)] as const)),
    clusterAddrTable: dictionary(info.clusters),
  });
}

/** TopicList (GET_ALL_TOPIC_LIST_FROM_NAMESERVER). */
export function topicListBody(topics: readonly string[]): Buffer {
  return jsonBody({ topicList: topics });
}

/** KVTable (GET_KVLIST_BY_NAMESPACE, and the REGISTER_BROKER response's order-topic config). */
export function kvTableBody(table: ReadonlyMap<string, string>): Buffer {
  return jsonBody({ table: dictionary(Array.from(table).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) });
}

function jsonBody(value: object): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}
