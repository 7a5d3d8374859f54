// TopicRouteData (GET_ROUTEINFO_BY_TOPIC body, protocol section 5.2), ClusterInfo (5.4), and the queues
// a producer may write to and a consumer may read from. Parsing is lenient: broker ids arrive as quoted
// or bare keys, numbers sometimes as strings, and pre-4.9 brokers spell topicSysFlag "topicSynFlag".
import { Perm } from '../common/protocol.js';
import { parseLenientJson } from './lenient-json.js';

/** `PermName` bits. */
export { Perm };

/** Broker id of a group's master (in DLedger mode: of its Raft leader). */
export const MASTER_ID = 0;

export interface MessageQueue {
  topic: string;
  brokerName: string;
  queueId: number;
}

export interface BrokerData {
  cluster: string;
  brokerName: string;
  /** Broker id (decimal string, "0" = master) → `host:port`. */
  brokerAddrs: Record<string, string>;
}

export interface QueueData {
  brokerName: string;
  readQueueNums: number;
  writeQueueNums: number;
  perm: number;
  topicSysFlag: number;
}

export interface TopicRouteData {
  brokerDatas: BrokerData[];
  queueDatas: QueueData[];
  orderTopicConf: string | null;
}

export interface ClusterInfo {
  /** brokerName → its BrokerData. */
  brokerAddrTable: Record<string, BrokerData>;
  /** cluster name → broker names. */
  clusterAddrTable: Record<string, string[]>;
}

export class RouteParseError extends Error {
  constructor(detail: string) {
    super(`malformed route data: ${detail}`);
    this.name = 'RouteParseError';
  }
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(value: unknown, what: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  throw new RouteParseError(`${what} is not a string`);
}

function integer(value: unknown, what: string, fallback?: number): number {
  if ((value === undefined || value === null) && fallback !== undefined) return fallback;
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw new RouteParseError(`${what} is not an integer`);
  return n;
}

function bodyJson(body: Buffer | string): unknown {
  const source = typeof body === 'string' ? body : body.toString('utf8');
  try {
    return parseLenientJson(source);
  } catch (error) {
    throw new RouteParseError(`not JSON (${(error as Error).message})`);
  }
}

function parseBrokerAddrs(value: unknown, brokerName: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isObject(value)) throw new RouteParseError(`brokerAddrs of ${brokerName} is not an object`);
  const out: Record<string, string> = {};
  for (const [key, addr] of Object.entries(value)) {
    const id = Number(key);
    if (!Number.isSafeInteger(id) || typeof addr !== 'string' || addr === '') continue;
    out[String(id)] = addr;
  }
  return out;
}

export function parseBrokerData(value: unknown): BrokerData {
  if (!isObject(value)) throw new RouteParseError('a brokerData entry is not an object');
  const brokerName = text(value['brokerName'], 'brokerName');
  return {
    cluster: value['cluster'] === undefined || value['cluster'] === null ? '' : text(value['cluster'], 'cluster'),
    brokerName,
    brokerAddrs: parseBrokerAddrs(value['brokerAddrs'], brokerName),
  };
}

function parseQueueData(value: unknown): QueueData {
  if (!isObject(value)) throw new RouteParseError('a queueData entry is not an object');
  const brokerName = text(value['brokerName'], 'queueData.brokerName');
  return {
    brokerName,
    readQueueNums: integer(value['readQueueNums'], `readQueueNums of ${brokerName}`, 0),
    writeQueueNums: integer(value['writeQueueNums'], `writeQueueNums of ${brokerName}`, 0),
    perm: integer(value['perm'], `perm of ${brokerName}`, 0),
    topicSysFlag: integer(value['topicSysFlag'] ?? value['topicSynFlag'], `topicSysFlag of ${brokerName}`, 0),
  };
}

function list(value: unknown, what: string): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new RouteParseError(`${what} is not an array`);
  return value;
}

/** Parses a GET_ROUTEINFO_BY_TOPIC body. Throws RouteParseError. */
export function parseTopicRouteData(body: Buffer | string): TopicRouteData {
  const json = bodyJson(body);
  if (!isObject(json)) throw new RouteParseError('the body is not a JSON object');
  const conf = json['orderTopicConf'];
  return {
    brokerDatas: list(json['brokerDatas'], 'brokerDatas').map(parseBrokerData),
    queueDatas: list(json['queueDatas'], 'queueDatas').map(parseQueueData),
    orderTopicConf: typeof conf === 'string' ? conf : null,
  };
}

/** Parses a GET_BROKER_CLUSTER_INFO body. Throws RouteParseError. */
export function parseClusterInfo(body: Buffer | string): ClusterInfo {
  const json = bodyJson(body);
  if (!isObject(json)) throw new RouteParseError('the body is not a JSON object');
  const brokerAddrTable: Record<string, BrokerData> = {};
  const brokers = json['brokerAddrTable'];
  if (isObject(brokers)) {
    for (const [name, data] of Object.entries(brokers)) brokerAddrTable[name] = parseBrokerData(data);
  }
  const clusterAddrTable: Record<string, string[]> = {};
  const clusters = json['clusterAddrTable'];
  if (isObject(clusters)) {
    for (const [name, members] of Object.entries(clusters)) {
      clusterAddrTable[name] = list(members, `clusterAddrTable.${name}`).map((m) => text(m, 'broker name'));
    }
  }
  return { brokerAddrTable, clusterAddrTable };
}

/** Parses a `{"topicList":[...]}` body. */
export function parseTopicList(body: Buffer | string): string[] {
  const json = bodyJson(body);
  if (!isObject(json)) throw new RouteParseError('the body is not a JSON object');
  return list(json['topicList'], 'topicList').map((t) => text(t, 'topic'));
}

export function masterAddress(broker: BrokerData): string | undefined {
  return broker.brokerAddrs[String(MASTER_ID)];
}

/** Java's MessageQueue order: topic, then broker name, then queue id (string order as Java compareTo). */
export function compareQueues(a: MessageQueue, b: MessageQueue): number {
  if (a.topic !== b.topic) return a.topic < b.topic ? -1 : 1;
  if (a.brokerName !== b.brokerName) return a.brokerName < b.brokerName ? -1 : 1;
  return a.queueId - b.queueId;
}

export function queueKey(queue: MessageQueue): string {
  return `${queue.topic}@${queue.brokerName}@${queue.queueId}`;
}

export function sameQueue(a: MessageQueue, b: MessageQueue): boolean {
  return a.queueId === b.queueId && a.brokerName === b.brokerName && a.topic === b.topic;
}

function sortedQueueDatas(route: TopicRouteData): QueueData[] {
  return [...route.queueDatas].sort((a, b) => (a.brokerName < b.brokerName ? -1 : a.brokerName > b.brokerName ? 1 : 0));
}

function brokersWithMaster(route: TopicRouteData): Set<string> {
  const names = new Set<string>();
  for (const broker of route.brokerDatas) if (masterAddress(broker) !== undefined) names.add(broker.brokerName);
  return names;
}

/**
 * Queues a producer may send to: 0..writeQueueNums-1 of every writable queueData whose broker group
 * currently has a master, groups in name order (as Java's topicRouteData2TopicPublishInfo).
 */
export function writableQueues(topic: string, route: TopicRouteData): MessageQueue[] {
  const masters = brokersWithMaster(route);
  const out: MessageQueue[] = [];
  for (const qd of sortedQueueDatas(route)) {
    if ((qd.perm & Perm.WRITE) === 0 || !masters.has(qd.brokerName)) continue;
    for (let queueId = 0; queueId < qd.writeQueueNums; queueId++) out.push({ topic, brokerName: qd.brokerName, queueId });
  }
  return out;
}

/**
 * Queues a consumer may read: 0..readQueueNums-1 of every readable queueData whose broker group is in
 * brokerDatas. A group that is between leaders keeps its queues (as in Java's topicRouteData2TopicSubscribeInfo):
 * dropping them would make every consumer release and re-acquire them across a failover.
 */
export function readableQueues(topic: string, route: TopicRouteData): MessageQueue[] {
  const known = new Set(route.brokerDatas.map((b) => b.brokerName));
  const out: MessageQueue[] = [];
  for (const qd of sortedQueueDatas(route)) {
    if ((qd.perm & Perm.READ) === 0 || !known.has(qd.brokerName)) continue;
    for (let queueId = 0; queueId < qd.readQueueNums; queueId++) out.push({ topic, brokerName: qd.brokerName, queueId });
  }
  return out;
}

/**
 * The route a producer borrows from the auto-create template topic (Java: when the name server has no
 * route for a topic, use TBW102's brokers with min(defaultTopicQueueNums, readQueueNums) queues).
 */
export function routeFromTemplate(template: TopicRouteData, queueNums: number): TopicRouteData {
  return {
    brokerDatas: template.brokerDatas,
    queueDatas: template.queueDatas.map((qd) => {
      const n = Math.min(queueNums, qd.readQueueNums);
      return { ...qd, readQueueNums: n, writeQueueNums: n };
    }),
    orderTopicConf: template.orderTopicConf,
  };
}

/** A canonical text of a route, for change detection. */
export function routeFingerprint(route: TopicRouteData): string {
  const brokers = [...route.brokerDatas]
    .sort((a, b) => (a.brokerName < b.brokerName ? -1 : 1))
    .map((b) => `${b.brokerName}=${Object.entries(b.brokerAddrs).sort(([x], [y]) => Number(x) - Number(y)).map(([id, a]) => `${id}:${a}`).join(',')}`);
  const queues = sortedQueueDatas(route).map((q) => `${q.brokerName}/${q.readQueueNums}/${q.writeQueueNums}/${q.perm}`);
  return `${brokers.join(';')}|${queues.join(';')}`;
}
