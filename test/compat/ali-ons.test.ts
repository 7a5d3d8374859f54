// Compatibility with a RocketMQ client nobody on the team wrote: the npm package `ali-ons` (3.12, CommonJS),
// against a real name server + broker (TestCluster), alone and mixed with ledgermq's own client.
//
// What ali-ons does differently from our client, and what the broker must therefore tolerate:
// - request headers (extFields) carry JSON numbers and booleans, not strings;
// - it never sets UNIQ_KEY: the broker generates one; ali-ons' own msgId is the offset id it computes from
//   STOREHOST + PHYSICALOFFSET of each pulled record (so records must carry IPv4 hosts and true offsets);
// - it parses routes and consumer lists with JSON2 (standard JSON), filters tags again on the client, and sends
//   a failed message back with CONSUMER_SEND_MSG_BACK (delay level 0) and consumes `%RETRY%<group>`;
// - it cannot auto-create topics (a TOPIC_NOT_EXIST route answer makes send() throw), so topics are created first.
// ali-ons keeps one MQClient per `ip@instanceName` and a process-wide default producer
// (`Producer.defaultProducer`, group CLIENT_INNER_PRODUCER) that nothing closes: every client here gets its own
// instanceName, and `after` closes the default producer so that its timers do not keep the process alive.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { format } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { Prop } from '../../common/properties.js';
import { Admin, Producer, PushConsumer, type MessageExt, type SendResult } from '../../client/index.js';
import { RemotingClient, RequestCode, ResponseCode, createRequest } from '../../remoting/index.js';
import { TestCluster } from '../harness/cluster.js';

const require = createRequire(import.meta.url);

// ---------------------------------------------------------------------------------------------------------
// The parts of ali-ons' API used here (it ships no types).

interface OnsMessage {
  topic: string;
  tags: string | null;
  keys: string | undefined;
  body: Buffer;
  msgId: string;
  properties: Record<string, string | null>;
  reconsumeTimes: number;
  queueId: number;
  queueOffset: number;
  commitLogOffset: number;
  storeHost: string;
  bornHost: string;
  retryTopic: string | undefined;
  originMessageId: string | undefined;
}
interface OnsMessageCtor {
  new (topic: string, tags: string, body: string | Buffer): OnsMessage;
}
interface OnsSendResult {
  sendStatus: string;
  msgId: string;
  queueOffset: number;
  messageQueue: { topic: string; brokerName: string; queueId: number | string };
}
interface OnsBase {
  ready(): Promise<void>;
  close(): Promise<void>;
  on(event: 'error', listener: (err: Error) => void): void;
}
interface OnsProducer extends OnsBase {
  send(msg: OnsMessage): Promise<OnsSendResult>;
}
interface OnsConsumer extends OnsBase {
  subscribe(topic: string, expression: string, handler: (msg: OnsMessage) => Promise<unknown>): void;
}
interface OnsModule {
  Producer: { new (options: object): OnsProducer; defaultProducer?: OnsProducer | null };
  Consumer: { new (options: object): OnsConsumer };
  Message: OnsMessageCtor;
}

const ons = require('ali-ons') as OnsModule;

// ---------------------------------------------------------------------------------------------------------

const DELAY_LEVELS = '100ms 200ms 300ms 400ms 500ms 600ms 700ms 800ms 900ms 1s 1s 1s 1s 1s 1s 1s 1s 1s';
const HEX32 = /^[0-9A-F]{32}$/;
const DEBUG = process.env['LEDGERMQ_COMPAT_DEBUG'] === '1';
/** ali-ons' periodic tasks (route poll, heartbeat, re-balance, offset commit); their loops end at most this long after close(). */
const ONS_TASK_INTERVAL_MS = 1000;
/** ali-ons long-poll hold (ask the broker) and the socket timeout of such a pull. */
const ONS_SUSPEND_MS = 2000;
const ONS_PULL_TIMEOUT_MS = 6000;
const SEND_CONCURRENCY = 16;
const WAIT_STEP_MS = 50;
const quietLogger = { warn: (m: string) => (DEBUG ? console.error(`[ledgermq client] ${m}`) : undefined) };
const TOPICS = ['CompatOns1', 'CompatOns2', 'CompatOns3', 'CompatOns4'];

/** Everything ali-ons logs or emits as an error, kept for failure messages (printed live with LEDGERMQ_COMPAT_DEBUG=1). */
class OnsLog {
  readonly lines: string[] = [];
  readonly errors: Error[] = [];
  readonly logger = {
    debug: () => undefined,
    info: (...args: unknown[]) => this.add('info', args),
    warn: (...args: unknown[]) => this.add('warn', args),
    error: (...args: unknown[]) => this.add('error', args),
  };

  private add(level: string, args: unknown[]): void {
    const text = `${level} ${format(...args.map((a) => (a instanceof Error ? `${a.name}: ${a.message}` : a)))}`;
    if (DEBUG && level !== 'info') console.error(`[ali-ons] ${text}`);
    this.lines.push(text.slice(0, 400));
    if (this.lines.length > 2000) this.lines.shift();
  }

  onError = (err: Error): void => {
    if (DEBUG) console.error(`[ali-ons error event] ${err.name}: ${err.message}`);
    if (this.errors.length < 1000) this.errors.push(err);
  };

  count(pattern: RegExp): number {
    return this.lines.filter((l) => pattern.test(l)).length;
  }

  tail(n = 30): string {
    const errs = this.errors.slice(-10).map((e) => `error event: ${e.name}: ${e.message}`);
    return [...this.lines.filter((l) => !l.startsWith('info')).slice(-n), ...errs].join('\n');
  }
}

let cluster: TestCluster;
const rpc = new RemotingClient({ logger: quietLogger });
const onsLog = new OnsLog();

function onsOptions(instanceName: string): Record<string, unknown> {
  return {
    nameSrv: cluster.namesrvAddr,
    // Only used to fetch the name server list from `onsAddr` over HTTP; with `nameSrv` it is never called.
    httpclient: {
      request: () => Promise.reject(new Error('ali-ons httpclient is not expected to be used with nameSrv')),
    },
    instanceName,
    logger: onsLog.logger,
    pollNameServerInteval: ONS_TASK_INTERVAL_MS,
    heartbeatBrokerInterval: ONS_TASK_INTERVAL_MS,
    persistConsumerOffsetInterval: ONS_TASK_INTERVAL_MS,
    rebalanceInterval: ONS_TASK_INTERVAL_MS,
  };
}

async function onsProducer(instanceName: string, group: string): Promise<OnsProducer> {
  const p = new ons.Producer({ ...onsOptions(instanceName), producerGroup: group });
  p.on('error', onsLog.onError);
  await p.ready();
  return p;
}

function onsConsumer(instanceName: string, group: string, extra: Record<string, unknown> = {}): OnsConsumer {
  const c = new ons.Consumer({
    ...onsOptions(instanceName),
    consumerGroup: group,
    // A new group starts at offset 0 of every queue. (With ali-ons' default, LAST_OFFSET, a new group starts
    // wherever the broker's QUERY_CONSUMER_OFFSET answer for "nothing committed" says: 0 on a young queue, as
    // Java brokers answer, else the queue's end.)
    consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
    brokerSuspendMaxTimeMillis: ONS_SUSPEND_MS,
    consumerTimeoutMillisWhenSuspend: ONS_PULL_TIMEOUT_MS,
    pullTimeDelayMillsWhenException: 200,
    ...extra,
  });
  c.on('error', onsLog.onError);
  return c;
}

async function closeAll(clients: Array<{ close(): Promise<void> } | { shutdown(): Promise<void> } | null>): Promise<void> {
  for (const c of clients.reverse()) {
    if (!c) continue;
    try {
      await ('close' in c ? c.close() : c.shutdown());
    } catch (err) {
      onsLog.onError(err as Error);
    }
  }
}

async function waitFor(what: string, timeoutMs: number, done: () => boolean, detail: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) {
      assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}; ${detail()}\n--- ali-ons log ---\n${onsLog.tail()}\n--- cluster log ---\n${cluster.recentLogs(30)}`);
    }
    await new Promise((r) => setTimeout(r, WAIT_STEP_MS));
  }
}

/** Runs `task(i)` for i in [from, to) with at most `concurrency` in flight. */
async function forEachBounded(from: number, to: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = from;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < to) await task(next++);
    }),
  );
}

function onsMessage(topic: string, tags: string, body: string, keys: string[], props: Record<string, string>): OnsMessage {
  const msg = new ons.Message(topic, tags, body);
  (msg as { keys: unknown }).keys = keys; // the setter joins the list with spaces
  Object.assign(msg.properties, props);
  return msg;
}

/** A plain copy (tags, keys, retryTopic, originMessageId are getters on ali-ons' Message prototype). */
function snapshot(msg: OnsMessage): OnsMessage {
  return {
    topic: msg.topic,
    tags: msg.tags,
    keys: msg.keys,
    body: msg.body,
    msgId: msg.msgId,
    properties: { ...msg.properties },
    reconsumeTimes: msg.reconsumeTimes,
    queueId: msg.queueId,
    queueOffset: msg.queueOffset,
    commitLogOffset: msg.commitLogOffset,
    storeHost: msg.storeHost,
    bornHost: msg.bornHost,
    retryTopic: msg.retryTopic,
    originMessageId: msg.originMessageId,
  };
}

/** Fails unless every error ali-ons emitted since `from` is one the scenario expects. */
function assertOnlyExpectedErrors(from: number, expected: RegExp[]): void {
  const unexpected = onsLog.errors.slice(from).filter((e) => !expected.some((p) => p.test(e.message)));
  assert.deepEqual(unexpected.map((e) => `${e.name}: ${e.message}`), [], 'ali-ons emitted unexpected errors');
}

/**
 * At start an ali-ons consumer looks up `%RETRY%<group>` before its first heartbeat, which is what makes the
 * broker create that topic; the name server does not know it yet and the lookup fails once (as against
 * Apache RocketMQ). The next route poll finds it.
 */
const RETRY_ROUTE_AT_START = /updateAllTopicRouterInfo occurred error, No topic route info in name server for the topic: %RETRY%/;

/** The group's committed offset (undefined when the broker answers QUERY_NOT_FOUND) and the max offset of each of the topic's queues, from the broker. */
async function queueOffsets(topic: string, group: string, queues: number): Promise<Array<{ committed: number | undefined; max: number }>> {
  const broker = cluster.nodes[0]!.addr;
  const out: Array<{ committed: number | undefined; max: number }> = [];
  for (let queueId = 0; queueId < queues; queueId++) {
    const q = await rpc.invoke(broker, createRequest(RequestCode.QUERY_CONSUMER_OFFSET, { consumerGroup: group, topic, queueId: String(queueId) }), 3000);
    const m = await rpc.invoke(broker, createRequest(RequestCode.GET_MAX_OFFSET, { topic, queueId: String(queueId) }), 3000);
    assert.equal(m.code, ResponseCode.SUCCESS, `GET_MAX_OFFSET: ${m.remark}`);
    out.push({ committed: q.code === ResponseCode.SUCCESS ? Number(q.extFields?.['offset']) : undefined, max: Number(m.extFields?.['offset']) });
  }
  return out;
}

describe('ali-ons 3.12 against a ledgermq cluster', { timeout: 120_000 }, () => {
  before(async () => {
    cluster = await TestCluster.start({ nodes: 1, brokerArgs: ['--delay-levels', DELAY_LEVELS] });
    // ali-ons cannot auto-create topics: when the name server answers TOPIC_NOT_EXIST it throws instead of
    // borrowing TBW102's route (Apache RocketMQ's name server answers the same), so the topics exist beforehand.
    const admin = new Admin({ namesrv: cluster.namesrvAddr, logger: quietLogger });
    await admin.start();
    try {
      for (const topic of TOPICS) await admin.createTopic(topic, { queues: 4 });
      const deadline = Date.now() + 10_000;
      for (const topic of TOPICS) {
        for (;;) {
          try {
            await admin.route(topic);
            break;
          } catch (err) {
            if (Date.now() > deadline) throw err;
            await new Promise((r) => setTimeout(r, WAIT_STEP_MS));
          }
        }
      }
    } finally {
      await admin.shutdown();
    }
  });

  after(async () => {
    // Should an ali-ons client have failed to close, its scheduling loops would keep this process alive forever.
    setTimeout(() => process.exit(), 15_000).unref();
    try {
      // The process-wide default producer every ali-ons client creates (and never closes).
      const inner = ons.Producer.defaultProducer;
      ons.Producer.defaultProducer = null;
      if (inner) await closeAll([inner]);
    } finally {
      if (DEBUG && cluster) console.error(`--- cluster log ---\n${cluster.recentLogs(200)}`);
      await rpc.close();
      await cluster?.stop();
    }
  });

  test('ali-ons producer -> ali-ons push consumer: 1,000 messages, tags, keys, user properties, no loss', async () => {
    const topic = 'CompatOns1';
    const group = 'CompatOnsCG1';
    const total = 1000;
    const filteredOut = 20;
    const expected = (i: number) => ({
      body: `ons-body-${i}`,
      tags: i >= total ? 'TagOther' : i % 2 === 0 ? 'TagA' : 'TagB',
      keys: [`key-${i}`, `order-${i % 7}`],
      prop: `v-${i}`,
    });
    const clients: OnsBase[] = [];
    const errorsBefore = onsLog.errors.length;
    try {
      const producer = await onsProducer('compat-p1', 'CompatOnsPG1');
      clients.push(producer);
      // Send results by body; the consumer may see a message before its send() resolves, so checks come at the end.
      const sendResults = new Map<string, OnsSendResult>();
      const send = async (i: number): Promise<void> => {
        const e = expected(i);
        const r = await producer.send(onsMessage(topic, e.tags, e.body, e.keys, { compatProp: e.prop, compatSeq: String(i) }));
        sendResults.set(e.body, r);
      };
      // One message before the consumer starts (a backlog from offset 0), the rest while it runs.
      await send(0);

      const deliveries = new Map<string, OnsMessage[]>();
      const consumer = onsConsumer('compat-c1', group, { parallelConsumeLimit: 8 });
      clients.push(consumer);
      consumer.subscribe(topic, 'TagA || TagB', async (msg) => {
        const body = msg.body.toString();
        deliveries.set(body, [...(deliveries.get(body) ?? []), snapshot(msg)]);
      });
      await consumer.ready();

      const started = Date.now();
      await forEachBounded(1, total + filteredOut, SEND_CONCURRENCY, send);
      const sentMs = Date.now() - started;
      await waitFor(`${total} messages at the ali-ons consumer`, 40_000, () => deliveries.size >= total, () => `received ${deliveries.size}`);
      const receivedMs = Date.now() - started;
      // A little longer, so that late duplicates or filtered-out messages would show up.
      await new Promise((r) => setTimeout(r, 500));
      if (DEBUG) console.error(`ali-ons sent ${total + filteredOut - 1} in ${sentMs} ms; all ${total} received after ${receivedMs} ms`);

      const uniqKeys = new Set<string>();
      for (let i = 0; i < total + filteredOut; i++) {
        const e = expected(i);
        const r = sendResults.get(e.body);
        assert.ok(r, `${e.body} sent`);
        assert.equal(r.sendStatus, 'SEND_OK');
        assert.match(r.msgId, HEX32, 'SEND_MESSAGE_V2 answers the offset msgId in header msgId');
        const d = deliveries.get(e.body);
        if (e.tags === 'TagOther') {
          assert.equal(d, undefined, `${e.body} (TagOther) is not delivered to 'TagA || TagB'`);
          continue;
        }
        assert.equal(d?.length, 1, `${e.body} delivered exactly once (got ${d?.length ?? 0})`);
        const m = d[0]!;
        assert.equal(m.topic, topic);
        assert.equal(m.tags, e.tags, `${e.body} tags`);
        assert.equal(m.keys, e.keys.join(' '), `${e.body} keys`);
        assert.equal(m.properties['compatProp'], e.prop, `${e.body} user property`);
        assert.equal(m.properties['compatSeq'], String(i), `${e.body} user property`);
        assert.equal(m.msgId, r.msgId, `${e.body}: ali-ons' msgId (STOREHOST + PHYSICALOFFSET) equals the send result's`);
        // ali-ons copies the header's queueId as is: a string, as every broker sends ext fields (Java too).
        assert.equal(m.queueId, Number(r.messageQueue.queueId), `${e.body}: queueId of the send result`);
        assert.equal(m.queueOffset, r.queueOffset, `${e.body}: queueOffset of the send result`);
        assert.equal(m.storeHost, cluster.nodes[0]!.addr, 'STOREHOST is the broker\'s IPv4 address');
        assert.match(m.bornHost, /^127\.0\.0\.1:\d+$/, 'BORNHOST is the producer\'s IPv4 address');
        assert.equal(m.reconsumeTimes, 0);
        const uniq = m.properties[Prop.UNIQ_KEY];
        assert.match(uniq ?? '', HEX32, `${e.body}: the broker generated UNIQ_KEY`);
        uniqKeys.add(uniq!);
      }
      assert.equal(deliveries.size, total, 'nothing else delivered');
      assert.equal(uniqKeys.size, total, 'a distinct UNIQ_KEY per message');
      assertOnlyExpectedErrors(errorsBefore, [RETRY_ROUTE_AT_START]);

      // ali-ons commits offsets with one-way UPDATE_CONSUMER_OFFSET (numbers in the header) every second and at
      // close. It moves past filtered-out messages at a queue's end only once a pull finds nothing while its
      // local buffer is empty (a long poll later at most), so wait for that with the consumer running.
      let offsets = await queueOffsets(topic, group, 4);
      const committedDeadline = Date.now() + ONS_SUSPEND_MS + 4 * ONS_TASK_INTERVAL_MS;
      while (offsets.some((o) => o.committed !== o.max) && Date.now() < committedDeadline) {
        await new Promise((r) => setTimeout(r, 100));
        offsets = await queueOffsets(topic, group, 4);
      }
      assert.equal(offsets.reduce((n, o) => n + o.max, 0), total + filteredOut, 'every message is in the topic');
      assert.deepEqual(offsets.map((o) => o.committed), offsets.map((o) => o.max), 'the group committed everything it consumed');
      await consumer.close();
      clients.splice(clients.indexOf(consumer), 1);
      assert.deepEqual(await queueOffsets(topic, group, 4), offsets, 'closing does not move committed offsets');

      // A new consumer of the group (QUERY_CONSUMER_OFFSET) resumes there: only new messages arrive.
      const errorsAfter = onsLog.errors.length;
      const resumed = new Map<string, number>();
      const again = onsConsumer('compat-c1b', group);
      clients.push(again);
      again.subscribe(topic, 'TagA || TagB', async (msg) => {
        const body = msg.body.toString();
        resumed.set(body, (resumed.get(body) ?? 0) + 1);
      });
      await again.ready();
      const more = 10;
      await forEachBounded(0, more, 4, async (j) => {
        await producer.send(onsMessage(topic, 'TagB', `ons-more-${j}`, [`more-${j}`], {}));
      });
      await waitFor(`${more} new messages at the restarted consumer`, 15_000, () => resumed.size >= more, () => `received ${JSON.stringify([...resumed.keys()])}`);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual([...resumed.keys()].sort(), Array.from({ length: more }, (_, j) => `ons-more-${j}`).sort(), 'only the new messages');
      assert.deepEqual([...resumed.values()].filter((n) => n !== 1), [], 'each once');
      assertOnlyExpectedErrors(errorsAfter, [RETRY_ROUTE_AT_START]);
    } finally {
      await closeAll(clients);
    }
  });

  test('ledgermq producer -> ali-ons push consumer: bodies, tags, keys, properties, msgId', async () => {
    const topic = 'CompatOns2';
    const group = 'CompatOnsCG2';
    const total = 200;
    const expected = (i: number) => ({ body: `ledger-body-${i}`, tags: i % 3 === 0 ? 'TagX' : 'TagY', keys: [`lk-${i}`, 'shared'], prop: `p-${i}` });
    const clients: Array<OnsBase | Producer> = [];
    const errorsBefore = onsLog.errors.length;
    try {
      const producer = new Producer({ namesrv: cluster.namesrvAddr, group: 'CompatLedgerPG2', logger: quietLogger });
      clients.push(producer);
      await producer.start();
      const sendResults = new Map<string, SendResult>();
      const send = async (i: number): Promise<void> => {
        const e = expected(i);
        sendResults.set(e.body, await producer.send({ topic, body: e.body, tags: e.tags, keys: e.keys, properties: { compatProp: e.prop } }));
      };
      await send(0);

      const deliveries = new Map<string, OnsMessage[]>();
      const consumer = onsConsumer('compat-c2', group);
      clients.push(consumer);
      consumer.subscribe(topic, 'TagX || TagY', async (msg) => {
        const body = msg.body.toString();
        deliveries.set(body, [...(deliveries.get(body) ?? []), snapshot(msg)]);
      });
      await consumer.ready();
      await forEachBounded(1, total, SEND_CONCURRENCY, send);
      await waitFor(`${total} messages at the ali-ons consumer`, 30_000, () => deliveries.size >= total, () => `received ${deliveries.size}`);
      await new Promise((r) => setTimeout(r, 300));

      for (let i = 0; i < total; i++) {
        const e = expected(i);
        const r = sendResults.get(e.body);
        assert.equal(r?.status, 'SEND_OK');
        const d = deliveries.get(e.body);
        assert.equal(d?.length, 1, `${e.body} delivered exactly once (got ${d?.length ?? 0})`);
        const m = d[0]!;
        assert.equal(m.topic, topic);
        assert.equal(m.tags, e.tags);
        assert.equal(m.keys, e.keys.join(' '));
        assert.equal(m.properties['compatProp'], e.prop);
        // ali-ons derives its msgId from STOREHOST + PHYSICALOFFSET; the broker announced the same id at send time.
        assert.match(m.msgId, HEX32);
        assert.equal(m.msgId, r.offsetMsgId);
        assert.equal(m.properties[Prop.UNIQ_KEY], r.msgId, 'our client\'s UNIQ_KEY arrives unchanged');
      }
      assert.equal(deliveries.size, total);
      assertOnlyExpectedErrors(errorsBefore, [RETRY_ROUTE_AT_START]);
    } finally {
      await closeAll(clients);
    }
  });

  test('ali-ons producer -> ledgermq push consumer: the broker generated a distinct UNIQ_KEY per message', async () => {
    const topic = 'CompatOns3';
    const group = 'CompatLedgerCG3';
    const total = 200;
    const clients: Array<OnsBase | PushConsumer> = [];
    const errorsBefore = onsLog.errors.length;
    try {
      const producer = await onsProducer('compat-p3', 'CompatOnsPG3');
      clients.push(producer);
      const sent = new Map<string, { tags: string; keys: string; offsetMsgId: string }>();
      const send = async (i: number): Promise<void> => {
        const body = `ons3-body-${i}`;
        const tags = i % 2 === 0 ? 'TagA' : 'TagB';
        const r = await producer.send(onsMessage(topic, tags, body, [`k3-${i}`], { compatProp: `q-${i}` }));
        assert.equal(r.sendStatus, 'SEND_OK');
        sent.set(body, { tags, keys: `k3-${i}`, offsetMsgId: r.msgId });
      };
      await send(0);

      const received = new Map<string, MessageExt[]>();
      const consumer = new PushConsumer({
        namesrv: cluster.namesrvAddr,
        group,
        consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
        suspendTimeoutMs: 2000,
        logger: quietLogger,
      });
      clients.push(consumer);
      consumer.subscribe(topic, 'TagA || TagB');
      consumer.onMessage((msgs) => {
        for (const m of msgs) {
          const body = m.body.toString();
          received.set(body, [...(received.get(body) ?? []), m]);
        }
        return 'CONSUME_SUCCESS';
      });
      await consumer.start();
      await forEachBounded(1, total, SEND_CONCURRENCY, send);

      await waitFor(`${total} messages at the ledgermq consumer`, 30_000, () => received.size >= total, () => `received ${received.size}`);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(received.size, total);
      const msgIds = new Set<string>();
      for (const [body, deliveries] of received) {
        assert.equal(deliveries.length, 1, `${body} delivered once`);
        const m = deliveries[0]!;
        const want = sent.get(body);
        assert.ok(want, `unexpected message ${body}`);
        assert.equal(m.topic, topic);
        assert.equal(m.tags, want.tags);
        assert.equal(m.keys, want.keys);
        assert.equal(m.properties['compatProp'], `q-${body.slice('ons3-body-'.length)}`);
        assert.match(m.msgId, HEX32, `${body}: msgId`);
        assert.equal(m.properties[Prop.UNIQ_KEY], m.msgId, 'msgId is the broker-generated UNIQ_KEY');
        assert.notEqual(m.msgId, m.offsetMsgId, 'a UNIQ_KEY, not the offset id');
        assert.equal(m.offsetMsgId, want.offsetMsgId, 'the offset id matches the send result ali-ons got');
        msgIds.add(m.msgId);
      }
      assert.equal(msgIds.size, total, 'distinct UNIQ_KEY per message');
      assertOnlyExpectedErrors(errorsBefore, []);
    } finally {
      await closeAll(clients);
    }
  });

  test('ali-ons consumer whose listener throws: CONSUMER_SEND_MSG_BACK, then redelivery through %RETRY%group', async () => {
    const topic = 'CompatOns4';
    const group = 'CompatOnsCG4';
    const total = 5;
    const clients: OnsBase[] = [];
    const errorsBefore = onsLog.errors.length;
    try {
      const producer = await onsProducer('compat-p4', 'CompatOnsPG4');
      clients.push(producer);
      const sent = new Map<string, string>();
      const send = async (i: number): Promise<void> => {
        const body = `ons4-body-${i}`;
        const r = await producer.send(onsMessage(topic, 'TagR', body, [`k4-${i}`], { compatProp: `r-${i}` }));
        assert.equal(r.sendStatus, 'SEND_OK');
        sent.set(body, r.msgId);
      };
      await send(0);

      const deliveries = new Map<string, OnsMessage[]>();
      const consumer = onsConsumer('compat-c4', group);
      clients.push(consumer);
      consumer.subscribe(topic, 'TagR', async (msg) => {
        const body = msg.body.toString();
        const seen = [...(deliveries.get(body) ?? []), snapshot(msg)];
        deliveries.set(body, seen);
        if (seen.length === 1) throw new Error(`compat: fail first delivery of ${body}`);
      });
      await consumer.ready();
      await forEachBounded(1, total, 2, send);

      const redelivered = (): number => [...deliveries.values()].filter((d) => d.length >= 2).length;
      await waitFor(`${total} redeliveries`, 30_000, () => redelivered() >= total, () => `deliveries ${JSON.stringify([...deliveries].map(([b, d]) => [b, d.length]))}`);
      await new Promise((r) => setTimeout(r, 800));

      assert.equal(deliveries.size, total);
      for (const [body, d] of deliveries) {
        assert.equal(d.length, 2, `${body}: one failed delivery and one redelivery`);
        const [first, second] = d as [OnsMessage, OnsMessage];
        assert.equal(first.reconsumeTimes, 0);
        assert.equal(first.msgId, sent.get(body));
        // The redelivery comes from %RETRY%group; ali-ons puts the original topic back before calling the listener.
        assert.equal(second.topic, topic);
        assert.equal(second.reconsumeTimes, 1);
        assert.equal(second.retryTopic, topic, 'RETRY_TOPIC property');
        assert.equal(second.originMessageId, first.msgId, 'ORIGIN_MESSAGE_ID is the id ali-ons sent back');
        assert.equal(second.tags, 'TagR');
        assert.equal(second.keys, first.keys);
        assert.equal(second.properties['compatProp'], first.properties['compatProp']);
        assert.equal(second.properties[Prop.UNIQ_KEY], first.properties[Prop.UNIQ_KEY], 'UNIQ_KEY survives the retry');
        assert.notEqual(second.msgId, first.msgId, 'a new record in the retry topic');
      }
      // Every failure went back through the broker, none through ali-ons' fallback (a re-send by its default producer).
      assert.equal(onsLog.count(/consumerSendMessageBack success.*CompatOns4/), total, onsLog.tail());
      // The only errors: the listener's own (ali-ons re-emits them) and the retry topic's first lookup.
      assertOnlyExpectedErrors(errorsBefore, [RETRY_ROUTE_AT_START, /process mq message failed, topic: CompatOns4, .*compat: fail first delivery of ons4-body-/]);
      assert.equal(onsLog.errors.slice(errorsBefore).filter((e) => /compat: fail first delivery/.test(e.message)).length, total);
    } finally {
      await closeAll(clients);
    }
  });
});
