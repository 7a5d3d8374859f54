// Fake name server and broker for client tests, written against the protocol document (not against the
// client's own codecs): they decode send headers and batch bodies themselves, store messages in the
// RocketMQ stored layout with common/message.ts writeMessage, long-poll pulls, and record every request.
import type { TestContext } from 'node:test';
import { draftLength, writeMessage, type HostV4, type MessageDraft } from '../../common/message.js';
import { createOffsetMessageId } from '../../common/message-id.js';
import { decodeProperties, encodeProperties, type Properties } from '../../common/properties.js';
import { tagHashCode } from '../../common/tag-hash.js';
import {
  createRequest,
  createResponse,
  RemotingServer,
  RequestCode,
  ResponseCode,
  type Connection,
  type ExtFields,
  type Logger,
  type RemotingCommand,
} from '../../remoting/index.js';

export const LOOPBACK = '127.0.0.1';
export const TEST_TIMEOUT = { timeout: 15_000 } as const;

export interface RecordingLogger extends Logger {
  readonly warnings: string[];
  readonly debugs: string[];
}

export function recordingLogger(): RecordingLogger {
  const warnings: string[] = [];
  const debugs: string[] = [];
  return { warnings, debugs, warn: (m) => void warnings.push(m), debug: (m) => void debugs.push(m) };
}

/** Runs cleanups in reverse order after the test, pass or fail. */
export function cleanupStack(t: TestContext): (fn: () => Promise<unknown> | unknown) => void {
  const stack: Array<() => Promise<unknown> | unknown> = [];
  t.after(async () => {
    while (stack.length > 0) {
      try {
        await stack.pop()!();
      } catch {
        // keep cleaning up
      }
    }
  });
  return (fn) => void stack.push(fn);
}

export async function eventually(condition: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---- wire decoding done independently of the client --------------------------------------------

export interface DecodedSend {
  code: number;
  ext: ExtFields;
  group: string;
  topic: string;
  queueId: number;
  sysFlag: number;
  flag: number;
  properties: Properties;
  reconsumeTimes: number;
  maxReconsumeTimes: number | undefined;
  batch: boolean;
  body: Buffer;
}

export interface DecodedBatchItem {
  flag: number;
  body: Buffer;
  properties: Properties;
}

/** Section 4.7: TOTALSIZE, MAGICCODE, BODYCRC, FLAG, BODYLEN + body, PROPERTIESLEN (short) + properties. */
export function decodeBatchBody(body: Buffer): DecodedBatchItem[] {
  const out: DecodedBatchItem[] = [];
  let at = 0;
  while (at < body.length) {
    const total = body.readInt32BE(at);
    const magic = body.readInt32BE(at + 4);
    const crc = body.readInt32BE(at + 8);
    if (magic !== 0 || crc !== 0) throw new Error(`batch record at ${at}: magic ${magic} crc ${crc}, expected 0 and 0`);
    const flag = body.readInt32BE(at + 12);
    const bodyLength = body.readInt32BE(at + 16);
    const msgBody = body.subarray(at + 20, at + 20 + bodyLength);
    const propsLength = body.readInt16BE(at + 20 + bodyLength);
    const propsStart = at + 22 + bodyLength;
    const properties = decodeProperties(body.toString('utf8', propsStart, propsStart + propsLength));
    if (propsStart + propsLength - at !== total) throw new Error(`batch record at ${at}: TOTALSIZE ${total} does not match its fields`);
    out.push({ flag, body: Buffer.from(msgBody), properties });
    at += total;
  }
  return out;
}

function decodeSend(request: RemotingCommand): DecodedSend {
  const ext = request.extFields ?? {};
  const body = request.body === null ? Buffer.alloc(0) : Buffer.isBuffer(request.body) ? request.body : Buffer.concat(request.body as Buffer[]);
  return {
    code: request.code,
    ext,
    group: ext['a']!,
    topic: ext['b']!,
    queueId: Number(ext['e']),
    sysFlag: Number(ext['f']),
    flag: Number(ext['h']),
    properties: decodeProperties(ext['i'] ?? ''),
    reconsumeTimes: Number(ext['j'] ?? 0),
    maxReconsumeTimes: ext['l'] === undefined ? undefined : Number(ext['l']),
    batch: ext['m'] === 'true',
    body,
  };
}

// ---- routes ------------------------------------------------------------------------------------

export interface RouteSpec {
  brokers: Array<{ name: string; addrs: Record<string, string> }>;
  queues: Array<{ name: string; read: number; write: number; perm?: number }>;
}

/** A TopicRouteData body in standard JSON (quoted broker ids). */
export function routeJson(spec: RouteSpec): string {
  return JSON.stringify({
    brokerDatas: spec.brokers.map((b) => ({ brokerAddrs: b.addrs, brokerName: b.name, cluster: 'DefaultCluster', enableActingMaster: false, zoneName: null })),
    filterServerTable: {},
    queueDatas: spec.queues.map((q) => ({ brokerName: q.name, perm: q.perm ?? 6, readQueueNums: q.read, topicSysFlag: 0, writeQueueNums: q.write })),
    orderTopicConf: null,
  });
}

export function simpleRoute(brokers: FakeBroker[], queues: number): string {
  return routeJson({
    brokers: brokers.map((b) => ({ name: b.brokerName, addrs: { '0': b.address } })),
    queues: brokers.map((b) => ({ name: b.brokerName, read: queues, write: queues })),
  });
}

export class FakeNameServer {
  readonly server: RemotingServer;
  /** topic → route body (text, so tests can serve fastjson-style bare keys). */
  readonly routes = new Map<string, string>();
  readonly routeRequests: string[] = [];
  clusterInfo = '{"brokerAddrTable":{},"clusterAddrTable":{}}';

  constructor() {
    this.server = new RemotingServer({ host: LOOPBACK, port: 0, logger: recordingLogger() });
    this.server.registerProcessor(RequestCode.GET_ROUTEINFO_BY_TOPIC, (request) => {
      const topic = request.extFields?.['topic'] ?? '';
      this.routeRequests.push(topic);
      const body = this.routes.get(topic);
      if (body === undefined) return createResponse(request, ResponseCode.TOPIC_NOT_EXIST, `No topic route info in name server for the topic: ${topic}`);
      return createResponse(request, ResponseCode.SUCCESS, null, null, Buffer.from(body));
    });
    this.server.registerProcessor(RequestCode.GET_BROKER_CLUSTER_INFO, (request) => createResponse(request, ResponseCode.SUCCESS, null, null, Buffer.from(this.clusterInfo)));
    this.server.registerProcessor(RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER, (request) =>
      createResponse(request, ResponseCode.SUCCESS, null, null, Buffer.from(JSON.stringify({ topicList: [...this.routes.keys()], brokerAddr: null }))),
    );
  }

  get address(): string {
    return this.server.address;
  }

  requestsFor(topic: string): number {
    return this.routeRequests.filter((t) => t === topic).length;
  }

  static async start(cleanup: (fn: () => unknown) => void): Promise<FakeNameServer> {
    const ns = new FakeNameServer();
    await ns.server.listen();
    cleanup(() => ns.server.close());
    return ns;
  }
}

// ---- broker ------------------------------------------------------------------------------------

export type Hook = (request: RemotingCommand, connection: Connection) => RemotingCommand | null | 'default' | Promise<RemotingCommand | null | 'default'>;

interface StoredRecord {
  topic: string;
  queueId: number;
  queueOffset: number;
  physicalOffset: number;
  tags: string | undefined;
  keys: string | undefined;
  bytes: Buffer;
  storeTimestamp: number;
}

interface Parked {
  key: string;
  wake: () => void;
}

export class FakeBroker {
  readonly server: RemotingServer;
  readonly brokerName: string;
  readonly sends: DecodedSend[] = [];
  readonly pulls: ExtFields[] = [];
  readonly offsetUpdates: ExtFields[] = [];
  readonly sendBacks: ExtFields[] = [];
  readonly heartbeats: Array<{ clientID: string; producerDataSet: Array<{ groupName: string }>; consumerDataSet: Array<Record<string, unknown>> }> = [];
  readonly unregisters: ExtFields[] = [];
  readonly createTopics: ExtFields[] = [];
  /** group:topic:queueId → committed offset. */
  readonly offsets = new Map<string, number>();
  /** group → clientId → connection. */
  readonly consumers = new Map<string, Map<string, Connection>>();
  /** Like a real broker: tell a group's members when a new member joins (or leaves, via UNREGISTER_CLIENT). */
  notifyOnMembershipChange = false;
  /** When set, GET_CONSUMER_LIST_BY_GROUP answers this list. */
  consumerIdsOverride: string[] | null = null;
  /** Hooks run before the default handling; return 'default' to fall through. */
  readonly hooks = new Map<number, Hook>();
  private readonly queues = new Map<string, StoredRecord[]>();
  private readonly byPhysical = new Map<number, StoredRecord>();
  private readonly minOffsets = new Map<string, number>();
  private nextPhysical = 1000;
  private readonly parked: Parked[] = [];
  private host: HostV4 = { ip: 0x7f000001, port: 0 };

  constructor(brokerName: string) {
    this.brokerName = brokerName;
    this.server = new RemotingServer({ host: LOOPBACK, port: 0, logger: recordingLogger() });
    const on = (code: number, handler: (request: RemotingCommand, connection: Connection) => RemotingCommand | null | Promise<RemotingCommand | null>): void => {
      this.server.registerProcessor(code, async (request, ctx) => {
        const hook = this.hooks.get(code);
        if (hook !== undefined) {
          const answer = await hook(request, ctx.connection);
          if (answer !== 'default') return answer;
        }
        return handler(request, ctx.connection);
      });
    };
    on(RequestCode.SEND_MESSAGE_V2, (r) => this.onSend(r));
    on(RequestCode.SEND_BATCH_MESSAGE, (r) => this.onSend(r));
    on(RequestCode.PULL_MESSAGE, (r) => this.onPull(r));
    on(RequestCode.QUERY_CONSUMER_OFFSET, (r) => {
      const e = r.extFields ?? {};
      const offset = this.offsets.get(`${e['consumerGroup']}:${e['topic']}:${e['queueId']}`);
      if (offset === undefined) return createResponse(r, ResponseCode.QUERY_NOT_FOUND, 'Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first');
      return createResponse(r, ResponseCode.SUCCESS, null, { offset: String(offset) });
    });
    on(RequestCode.UPDATE_CONSUMER_OFFSET, (r) => {
      const e = r.extFields ?? {};
      this.offsetUpdates.push(e);
      this.offsets.set(`${e['consumerGroup']}:${e['topic']}:${e['queueId']}`, Number(e['commitOffset']));
      return createResponse(r, ResponseCode.SUCCESS);
    });
    on(RequestCode.GET_MAX_OFFSET, (r) => createResponse(r, ResponseCode.SUCCESS, null, { offset: String(this.maxOffset(r.extFields?.['topic'] ?? '', Number(r.extFields?.['queueId']))) }));
    on(RequestCode.GET_MIN_OFFSET, (r) => createResponse(r, ResponseCode.SUCCESS, null, { offset: String(this.minOffset(r.extFields?.['topic'] ?? '', Number(r.extFields?.['queueId']))) }));
    on(RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, (r) => {
      const e = r.extFields ?? {};
      const list = this.queues.get(`${e['topic']}:${e['queueId']}`) ?? [];
      const ts = Number(e['timestamp']);
      const hit = list.find((m) => m.storeTimestamp >= ts);
      return createResponse(r, ResponseCode.SUCCESS, null, { offset: String(hit?.queueOffset ?? list.length) });
    });
    on(RequestCode.HEART_BEAT, (r, connection) => {
      const data = JSON.parse((r.body as Buffer).toString('utf8')) as FakeBroker['heartbeats'][number];
      this.heartbeats.push(data);
      for (const c of data.consumerDataSet) {
        const group = String(c['groupName']);
        let members = this.consumers.get(group);
        if (members === undefined) this.consumers.set(group, (members = new Map()));
        const joined = !members.has(data.clientID);
        members.set(data.clientID, connection);
        if (joined && this.notifyOnMembershipChange) setImmediate(() => this.notifyConsumerIdsChanged(group));
      }
      return createResponse(r, ResponseCode.SUCCESS);
    });
    on(RequestCode.UNREGISTER_CLIENT, (r) => {
      const e = r.extFields ?? {};
      this.unregisters.push(e);
      const group = e['consumerGroup'];
      if (group !== undefined && this.consumers.get(group)?.delete(e['clientID'] ?? '') === true && this.notifyOnMembershipChange) {
        setImmediate(() => this.notifyConsumerIdsChanged(group));
      }
      return createResponse(r, ResponseCode.SUCCESS);
    });
    on(RequestCode.GET_CONSUMER_LIST_BY_GROUP, (r) => {
      const group = r.extFields?.['consumerGroup'] ?? '';
      const ids = this.consumerIdsOverride ?? [...(this.consumers.get(group)?.keys() ?? [])];
      if (ids.length === 0) return createResponse(r, ResponseCode.SYSTEM_ERROR, `no consumer for this group, ${group}`);
      return createResponse(r, ResponseCode.SUCCESS, null, null, Buffer.from(JSON.stringify({ consumerIdList: ids })));
    });
    on(RequestCode.CONSUMER_SEND_MSG_BACK, (r) => {
      this.sendBacks.push(r.extFields ?? {});
      return createResponse(r, ResponseCode.SUCCESS);
    });
    on(RequestCode.VIEW_MESSAGE_BY_ID, (r) => {
      const record = this.byPhysical.get(Number(r.extFields?.['offset']));
      if (record === undefined) return createResponse(r, ResponseCode.SYSTEM_ERROR, 'could not find message by offset');
      return createResponse(r, ResponseCode.SUCCESS, null, null, record.bytes);
    });
    on(RequestCode.QUERY_MESSAGE, (r) => {
      const e = r.extFields ?? {};
      const hits = [...this.byPhysical.values()].filter((m) => m.topic === e['topic'] && (m.keys ?? '').split(' ').includes(e['key'] ?? ''));
      if (hits.length === 0) return createResponse(r, ResponseCode.QUERY_NOT_FOUND, 'can not find message');
      return createResponse(r, ResponseCode.SUCCESS, null, { indexLastUpdateTimestamp: '0', indexLastUpdatePhyoffset: '0' }, Buffer.concat(hits.map((h) => h.bytes)));
    });
    on(RequestCode.UPDATE_AND_CREATE_TOPIC, (r) => {
      this.createTopics.push(r.extFields ?? {});
      return createResponse(r, ResponseCode.SUCCESS);
    });
  }

  static async start(name: string, cleanup: (fn: () => unknown) => void): Promise<FakeBroker> {
    const broker = new FakeBroker(name);
    await broker.server.listen();
    broker.host = { ip: 0x7f000001, port: broker.server.port };
    cleanup(() => broker.close());
    return broker;
  }

  get address(): string {
    return this.server.address;
  }

  async close(): Promise<void> {
    for (const p of [...this.parked]) p.wake();
    await this.server.close();
  }

  maxOffset(topic: string, queueId: number): number {
    return this.queues.get(`${topic}:${queueId}`)?.length ?? 0;
  }

  minOffset(topic: string, queueId: number): number {
    return this.minOffsets.get(`${topic}:${queueId}`) ?? 0;
  }

  setMinOffset(topic: string, queueId: number, offset: number): void {
    this.minOffsets.set(`${topic}:${queueId}`, offset);
  }

  committed(group: string, topic: string, queueId: number): number | undefined {
    return this.offsets.get(`${group}:${topic}:${queueId}`);
  }

  /** Stores a message as the broker would (stored layout, next queue offset, unique physical offset). */
  append(topic: string, queueId: number, body: Buffer | string, properties: Properties = {}, extra: Partial<MessageDraft> = {}): StoredRecord {
    const key = `${topic}:${queueId}`;
    let list = this.queues.get(key);
    if (list === undefined) this.queues.set(key, (list = []));
    const draft: MessageDraft = {
      topic,
      topicBytes: Buffer.from(topic),
      queueId,
      flag: 0,
      sysFlag: 0,
      bornTimestamp: Date.now(),
      bornHost: { ip: 0x7f000001, port: 40000 },
      storeHost: this.host,
      reconsumeTimes: 0,
      preparedTransactionOffset: 0,
      body: typeof body === 'string' ? Buffer.from(body) : body,
      properties: encodeProperties(properties),
      ...extra,
    };
    const bytes = Buffer.alloc(draftLength(draft));
    const physicalOffset = this.nextPhysical;
    const storeTimestamp = Date.now();
    writeMessage(bytes, new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), 0, draft, list.length, physicalOffset, storeTimestamp);
    this.nextPhysical += bytes.length;
    const record: StoredRecord = { topic, queueId, queueOffset: list.length, physicalOffset, tags: properties['TAGS'], keys: properties['KEYS'], bytes, storeTimestamp };
    list.push(record);
    this.byPhysical.set(physicalOffset, record);
    for (const p of this.parked.filter((x) => x.key === key)) p.wake();
    return record;
  }

  /** Sends NOTIFY_CONSUMER_IDS_CHANGED (oneway) to every member connection of `group`. */
  notifyConsumerIdsChanged(group: string): void {
    for (const connection of this.consumers.get(group)?.values() ?? []) {
      const request = createRequest(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, { consumerGroup: group });
      try {
        connection.invokeOneway(request);
      } catch {
        // closed member
      }
    }
  }

  private onSend(request: RemotingCommand): RemotingCommand {
    const send = decodeSend(request);
    this.sends.push(send);
    const records: StoredRecord[] = [];
    const items = send.batch ? decodeBatchBody(send.body) : [{ flag: send.flag, body: send.body, properties: send.properties }];
    for (const item of items) {
      records.push(this.append(send.topic, send.queueId, item.body, item.properties, { flag: item.flag, sysFlag: send.batch ? 0 : send.sysFlag, reconsumeTimes: send.reconsumeTimes }));
    }
    return createResponse(request, ResponseCode.SUCCESS, null, {
      msgId: records.map((r) => createOffsetMessageId(this.host, r.physicalOffset)).join(','),
      queueId: String(send.queueId),
      queueOffset: String(records[0]!.queueOffset),
    });
  }

  private async onPull(request: RemotingCommand): Promise<RemotingCommand> {
    const e = request.extFields ?? {};
    this.pulls.push(e);
    const sysFlag = Number(e['sysFlag']);
    if (sysFlag & 1) this.offsets.set(`${e['consumerGroup']}:${e['topic']}:${e['queueId']}`, Number(e['commitOffset']));
    const topic = e['topic'] ?? '';
    const queueId = Number(e['queueId']);
    const offset = Number(e['queueOffset']);
    const key = `${topic}:${queueId}`;
    const answer = (): RemotingCommand => this.pullAnswer(request, topic, queueId, offset);
    const first = answer();
    if (first.code !== ResponseCode.PULL_NOT_FOUND || (sysFlag & 2) === 0) return first;
    const holdMs = Number(e['suspendTimeoutMillis']);
    await new Promise<void>((resolve) => {
      const parked: Parked = { key, wake: () => undefined };
      const timer = setTimeout(() => parked.wake(), holdMs);
      parked.wake = () => {
        clearTimeout(timer);
        const i = this.parked.indexOf(parked);
        if (i >= 0) this.parked.splice(i, 1);
        resolve();
      };
      this.parked.push(parked);
    });
    return answer();
  }

  private pullAnswer(request: RemotingCommand, topic: string, queueId: number, offset: number): RemotingCommand {
    const e = request.extFields ?? {};
    const list = this.queues.get(`${topic}:${queueId}`) ?? [];
    const min = this.minOffset(topic, queueId);
    const max = list.length;
    const header = (next: number): ExtFields => ({ suggestWhichBrokerId: '0', nextBeginOffset: String(next), minOffset: String(min), maxOffset: String(max) });
    if (max === 0) return createResponse(request, offset === 0 ? ResponseCode.PULL_NOT_FOUND : ResponseCode.PULL_OFFSET_MOVED, null, header(0));
    if (offset < min) return createResponse(request, ResponseCode.PULL_OFFSET_MOVED, null, header(min));
    if (offset > max) return createResponse(request, ResponseCode.PULL_OFFSET_MOVED, null, header(max));
    if (offset === max) return createResponse(request, ResponseCode.PULL_NOT_FOUND, null, header(offset));
    const subscription = e['subscription'] ?? '*';
    const codes = subscription.trim() === '*' || subscription.trim() === '' ? null : new Set(subscription.split('||').map((s) => tagHashCode(s.trim())));
    const maxNums = Number(e['maxMsgNums']);
    const found: Buffer[] = [];
    let next = offset;
    for (; next < max && found.length < maxNums; next++) {
      const record = list[next]!;
      if (codes === null || codes.has(tagHashCode(record.tags))) found.push(record.bytes);
    }
    if (found.length === 0) return createResponse(request, ResponseCode.PULL_RETRY_IMMEDIATELY, null, header(next));
    return createResponse(request, ResponseCode.SUCCESS, null, header(next), Buffer.concat(found));
  }
}

export function ext(command: RemotingCommand): ExtFields {
  return command.extFields ?? {};
}
