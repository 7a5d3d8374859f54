// PushConsumer against a fake broker that serves stored messages with long polling.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { Prop } from '../../common/properties.js';
import type { MessageExt } from '../../common/message.js';
import { PushConsumer, type ConsumeStatus, type PushConsumerOptions } from '../../client/index.js';
import { createResponse, RequestCode, ResponseCode } from '../../remoting/index.js';
import { cleanupStack, eventually, FakeBroker, FakeNameServer, recordingLogger, routeJson, simpleRoute, sleep, TEST_TIMEOUT } from './fakes.js';

const TOPIC = 'TopicA';
const GROUP = 'CG';
const RETRY = `%RETRY%${GROUP}`;
const SUSPEND_MS = 300;

async function setup(t: TestContext, queues = 2) {
  const cleanup = cleanupStack(t);
  const ns = await FakeNameServer.start(cleanup);
  const broker = await FakeBroker.start('broker-a', cleanup);
  ns.routes.set(TOPIC, simpleRoute([broker], queues));
  ns.routes.set(RETRY, simpleRoute([broker], 1));
  const logger = recordingLogger();
  const consumer = (options: Partial<PushConsumerOptions> = {}): PushConsumer => {
    const c = new PushConsumer({
      namesrv: ns.address,
      group: GROUP,
      logger,
      consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
      suspendTimeoutMs: SUSPEND_MS,
      pullErrorBackoffMs: 50,
      persistOffsetIntervalMs: 100,
      rebalanceIntervalMs: 60_000,
      ...options,
    });
    cleanup(() => c.shutdown());
    return c;
  };
  return { cleanup, ns, broker, consumer, logger };
}

function pullsOf(broker: FakeBroker, topic: string, queueId: number) {
  return broker.pulls.filter((p) => p['topic'] === topic && Number(p['queueId']) === queueId);
}

test('receives every message in queue order, re-checks tags, commits offsets, long-polls for new ones', TEST_TIMEOUT, async (t) => {
  const { broker, consumer } = await setup(t);
  for (let i = 0; i < 10; i++) {
    broker.append(TOPIC, 0, `q0-${i}`, { TAGS: i % 2 === 0 ? 'Aa' : 'BB' });
    broker.append(TOPIC, 1, `q1-${i}`, { TAGS: 'Aa' });
  }
  const c = consumer({ consumeBatchSize: 2 });
  c.subscribe(TOPIC, 'Aa');
  const seen = new Map<number, number[]>();
  c.onMessage((msgs, ctx) => {
    for (const m of msgs) {
      assert.equal(m.queueId, ctx.queue.queueId);
      assert.equal(m.tags, 'Aa', '"BB" has the same hash as "Aa"; the client must drop it');
      seen.set(m.queueId, [...(seen.get(m.queueId) ?? []), m.queueOffset]);
    }
    return 'CONSUME_SUCCESS';
  });
  await c.start();
  await eventually(() => (seen.get(0)?.length ?? 0) === 5 && (seen.get(1)?.length ?? 0) === 10, 3000, 'initial messages');
  assert.deepEqual(seen.get(0), [0, 2, 4, 6, 8]);
  assert.deepEqual(seen.get(1), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  await eventually(() => broker.committed(GROUP, TOPIC, 0) === 10 && broker.committed(GROUP, TOPIC, 1) === 10, 3000, 'offsets committed');

  // A message appended while the pull is parked wakes it well before the suspend timeout.
  await sleep(50);
  const before = Date.now();
  broker.append(TOPIC, 1, 'late', { TAGS: 'Aa' });
  await eventually(() => seen.get(1)!.length === 11, 2000, 'late message');
  assert.ok(Date.now() - before < SUSPEND_MS, 'delivered by the parked pull, not the next one');

  const pull = pullsOf(broker, TOPIC, 1).at(-1)!;
  assert.equal(pull['consumerGroup'], GROUP);
  assert.equal(Number(pull['sysFlag']) & (2 | 4), 2 | 4, 'SUSPEND | SUBSCRIPTION');
  assert.equal(pull['suspendTimeoutMillis'], String(SUSPEND_MS));
  assert.equal(pull['subscription'], 'Aa');
  assert.equal(pull['expressionType'], 'TAG');
  assert.equal(pull['maxMsgNums'], '32');
  assert.ok(broker.pulls.some((p) => (Number(p['sysFlag']) & 1) === 1 && Number(p['commitOffset']) > 0), 'pulls carry COMMIT_OFFSET once there is one');

  const hb = broker.heartbeats.at(-1)!;
  const data = hb.consumerDataSet.find((c) => c['groupName'] === GROUP)!;
  assert.equal(data['consumeType'], 'CONSUME_PASSIVELY');
  assert.equal(data['messageModel'], 'CLUSTERING');
  const subs = data['subscriptionDataSet'] as Array<{ topic: string; codeSet: number[]; subString: string }>;
  assert.deepEqual(subs.find((s) => s.topic === TOPIC)!.codeSet, [2112]);
  assert.equal(subs.find((s) => s.topic === RETRY)!.subString, '*');
  assert.equal(pull['subVersion'], String((subs.find((s) => s.topic === TOPIC) as unknown as { subVersion: number }).subVersion));

  await c.shutdown();
  assert.ok(broker.unregisters.some((u) => u['consumerGroup'] === GROUP && u['clientID'] === c.clientId));
});

test('long polling: an empty queue is held by the broker, answered 19, and pulled again from the same offset', TEST_TIMEOUT, async (t) => {
  const { broker, consumer } = await setup(t, 1);
  const c = consumer();
  c.subscribe(TOPIC);
  c.onMessage(() => 'CONSUME_SUCCESS');
  await c.start();
  await sleep(SUSPEND_MS * 3 + 100);
  const pulls = pullsOf(broker, TOPIC, 0);
  assert.ok(pulls.length >= 3 && pulls.length <= 5, `${pulls.length} pulls in ~${SUSPEND_MS * 3} ms: one per suspend period`);
  assert.ok(pulls.every((p) => p['queueOffset'] === '0'));
});

test('OFFSET_ILLEGAL (21): the consumer adopts nextBeginOffset and commits it', TEST_TIMEOUT, async (t) => {
  const { broker, consumer } = await setup(t, 1);
  for (let i = 0; i < 8; i++) broker.append(TOPIC, 0, `m${i}`);
  broker.offsets.set(`${GROUP}:${TOPIC}:0`, 2);
  broker.setMinOffset(TOPIC, 0, 5);
  const c = consumer();
  c.subscribe(TOPIC);
  const seen: number[] = [];
  c.onMessage((msgs) => {
    for (const m of msgs) seen.push(m.queueOffset);
    return 'CONSUME_SUCCESS';
  });
  await c.start();
  await eventually(() => seen.length === 3, 3000, 'messages after the reset');
  assert.deepEqual(seen, [5, 6, 7]);
  const pulls = pullsOf(broker, TOPIC, 0);
  assert.equal(pulls[0]!['queueOffset'], '2');
  assert.equal(pulls[1]!['queueOffset'], '5');
  await eventually(() => broker.committed(GROUP, TOPIC, 0) === 8, 3000, 'commit after the reset');
});

test('RECONSUME_LATER and throws send the message back with CONSUMER_SEND_MSG_BACK and move on', TEST_TIMEOUT, async (t) => {
  const { broker, consumer } = await setup(t, 1);
  const records = [0, 1, 2].map((i) => broker.append(TOPIC, 0, `m${i}`, { UNIQ_KEY: `UNIQ${i}`, TAGS: 't' }));
  const c = consumer();
  c.subscribe(TOPIC);
  c.onMessage((msgs): ConsumeStatus => {
    const m = msgs[0]!;
    if (m.queueOffset === 1) return 'RECONSUME_LATER';
    if (m.queueOffset === 2) throw new Error('listener bug');
    return 'CONSUME_SUCCESS';
  });
  await c.start();
  await eventually(() => broker.sendBacks.length === 2, 3000, 'two send-backs');
  const byOffset = new Map(broker.sendBacks.map((s) => [Number(s['offset']), s]));
  const back = byOffset.get(records[1]!.physicalOffset)!;
  assert.ok(back, 'offset = the failed message commit-log offset');
  assert.equal(back['group'], GROUP);
  assert.equal(back['delayLevel'], '0');
  assert.equal(back['originMsgId'], 'UNIQ1');
  assert.equal(back['originTopic'], TOPIC);
  assert.equal(back['maxReconsumeTimes'], '16');
  assert.equal(back['unitMode'], 'false');
  assert.ok(byOffset.has(records[2]!.physicalOffset));
  await eventually(() => broker.committed(GROUP, TOPIC, 0) === 3, 3000, 'offset moves past returned messages');
});

test('when send-back fails the message is re-sent to %RETRY%group with the retry properties', TEST_TIMEOUT, async (t) => {
  const { broker, consumer } = await setup(t, 1);
  broker.append(TOPIC, 0, 'fails', { UNIQ_KEY: 'UNIQ-X', KEYS: 'order-1' });
  broker.hooks.set(RequestCode.CONSUMER_SEND_MSG_BACK, (r) => createResponse(r, ResponseCode.SYSTEM_ERROR, 'look up failed'));
  const c = consumer();
  c.subscribe(TOPIC);
  c.onMessage((msgs) => (msgs[0]!.topic === TOPIC && msgs[0]!.reconsumeTimes === 0 ? 'RECONSUME_LATER' : 'CONSUME_SUCCESS'));
  await c.start();
  await eventually(() => broker.sends.some((s) => s.topic === RETRY), 3000, 'retry-topic send');
  const sent = broker.sends.find((s) => s.topic === RETRY)!;
  assert.equal(sent.group, 'CLIENT_INNER_PRODUCER');
  assert.equal(sent.properties[Prop.RETRY_TOPIC], TOPIC);
  assert.equal(sent.properties[Prop.ORIGIN_MESSAGE_ID], 'UNIQ-X');
  assert.equal(sent.properties[Prop.UNIQ_KEY], 'UNIQ-X');
  assert.equal(sent.properties[Prop.RECONSUME_TIME], '1');
  assert.equal(sent.properties[Prop.MAX_RECONSUME_TIMES], '16');
  assert.equal(sent.properties[Prop.DELAY_TIME_LEVEL], '3');
  assert.equal(sent.properties[Prop.KEYS], 'order-1');
  assert.equal(sent.reconsumeTimes, 1);
  assert.equal(sent.maxReconsumeTimes, 16);
  await eventually(() => broker.committed(GROUP, TOPIC, 0) === 1, 3000, 'offset committed once re-sent');
});

test('messages from the retry topic reach the listener under their original topic', TEST_TIMEOUT, async (t) => {
  const { broker, consumer } = await setup(t, 1);
  broker.append(RETRY, 0, 'again', { [Prop.RETRY_TOPIC]: TOPIC, UNIQ_KEY: 'U1' }, { reconsumeTimes: 1 });
  const c = consumer();
  c.subscribe(TOPIC);
  const got: Array<{ topic: string; queueTopic: string; reconsumeTimes: number }> = [];
  c.onMessage((msgs, ctx) => {
    for (const m of msgs) got.push({ topic: m.topic, queueTopic: ctx.queue.topic, reconsumeTimes: m.reconsumeTimes });
    return 'CONSUME_SUCCESS';
  });
  await c.start();
  await eventually(() => got.length === 1, 3000, 'retried message');
  assert.deepEqual(got[0], { topic: TOPIC, queueTopic: RETRY, reconsumeTimes: 1 });
  assert.ok(c.assignment().some((q) => q.topic === RETRY));
});

test('NOTIFY_CONSUMER_IDS_CHANGED re-balances at once; released queues are committed', TEST_TIMEOUT, async (t) => {
  const { broker, consumer } = await setup(t, 4);
  broker.notifyOnMembershipChange = true;
  for (let q = 0; q < 4; q++) for (let i = 0; i < 3; i++) broker.append(TOPIC, q, `q${q}-${i}`);
  const a = consumer({ clientId: '10.0.0.1@1' });
  const b = consumer({ clientId: '10.0.0.2@2' });
  const counts = new Map<string, number>();
  const listener = (name: string) => (msgs: MessageExt[]): ConsumeStatus => {
    counts.set(name, (counts.get(name) ?? 0) + msgs.length);
    return 'CONSUME_SUCCESS';
  };
  a.subscribe(TOPIC);
  a.onMessage(listener('a'));
  b.subscribe(TOPIC);
  b.onMessage(listener('b'));
  await a.start();
  const topicQueues = (c: PushConsumer) => c.assignment().filter((q) => q.topic === TOPIC).map((q) => q.queueId).sort();
  assert.deepEqual(topicQueues(a), [0, 1, 2, 3]);
  await eventually(() => counts.get('a') === 12, 3000, 'a consumed everything');
  await eventually(() => [0, 1, 2, 3].every((q) => broker.committed(GROUP, TOPIC, q) === 3), 3000, 'a committed');
  await b.start();
  // a re-balances because the broker notified it, long before its 60 s re-balance interval.
  await eventually(() => topicQueues(a).length === 2, 3000, 'a gave up two queues');
  assert.deepEqual(topicQueues(a), [0, 1]);
  assert.deepEqual(topicQueues(b), [2, 3]);
  for (let q = 0; q < 4; q++) broker.append(TOPIC, q, `later-${q}`);
  await eventually(() => counts.get('a') === 14 && counts.get('b') === 2, 3000, 'new messages split between members');
  assert.equal(counts.get('b'), 2, 'b resumed from the committed offsets, not from the start');
});

test('flow control: a queue stops being pulled while too many messages wait, and resumes', TEST_TIMEOUT, async (t) => {
  const { broker, consumer } = await setup(t, 1);
  for (let i = 0; i < 60; i++) broker.append(TOPIC, 0, `m${i}`);
  const c = consumer({ pullThresholdForQueue: 5, pullBatchSize: 4, consumeConcurrency: 1 });
  c.subscribe(TOPIC);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let consumed = 0;
  c.onMessage(async (): Promise<ConsumeStatus> => {
    await gate;
    consumed += 1;
    return 'CONSUME_SUCCESS';
  });
  await c.start();
  await sleep(300);
  const pulled = pullsOf(broker, TOPIC, 0).length;
  assert.ok(pulled <= 3, `only ${pulled} pulls while the listener is stuck (threshold 5, batch 4)`);
  release();
  await eventually(() => consumed === 60, 5000, 'all consumed after release');
});

test('shutdown commits the smallest unconsumed offset, so an unfinished message is redelivered', TEST_TIMEOUT, async (t) => {
  const { broker, consumer } = await setup(t, 1);
  for (let i = 0; i < 6; i++) broker.append(TOPIC, 0, `m${i}`);
  const c = consumer({ consumeConcurrency: 4, queueDrainTimeoutMs: 100 });
  c.subscribe(TOPIC);
  const done: number[] = [];
  c.onMessage(async (msgs): Promise<ConsumeStatus> => {
    if (msgs[0]!.queueOffset === 2) await new Promise(() => undefined); // never finishes
    done.push(msgs[0]!.queueOffset);
    return 'CONSUME_SUCCESS';
  });
  await c.start();
  await eventually(() => done.length === 5, 3000, 'the other messages');
  await c.shutdown();
  assert.equal(broker.committed(GROUP, TOPIC, 0), 2);
});

test('broadcasting: every queue, offsets in a local file, failures are not sent back', TEST_TIMEOUT, async (t) => {
  const { broker, consumer, ns } = await setup(t, 2);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ledgermq-client-'));
  // After setup's cleanup (hooks run in order): the consumers write their offset file once more on shutdown.
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  ns.routes.delete(RETRY);
  for (let q = 0; q < 2; q++) for (let i = 0; i < 3; i++) broker.append(TOPIC, q, `m${q}${i}`);
  const c = consumer({ messageModel: 'BROADCASTING', offsetStoreDir: dir });
  c.subscribe(TOPIC);
  let n = 0;
  c.onMessage(() => (++n % 2 === 0 ? 'RECONSUME_LATER' : 'CONSUME_SUCCESS'));
  await c.start();
  assert.equal(c.assignment().length, 2);
  await eventually(() => n === 6, 3000, 'all messages');
  await c.shutdown();
  assert.equal(broker.sendBacks.length, 0);
  assert.equal(broker.offsetUpdates.length, 0, 'nothing committed to the broker');
  const file = JSON.parse(readFileSync(path.join(dir, `${GROUP}.offsets.json`), 'utf8')) as { offsets: Array<{ queueId: number; offset: number }> };
  assert.deepEqual(file.offsets.map((o) => [o.queueId, o.offset]).sort(), [[0, 3], [1, 3]]);

  // A restarted broadcasting consumer resumes from the file.
  broker.append(TOPIC, 0, 'new');
  const again = consumer({ messageModel: 'BROADCASTING', offsetStoreDir: dir });
  again.subscribe(TOPIC);
  const offsets: number[] = [];
  again.onMessage((msgs) => {
    offsets.push(...msgs.map((m) => m.queueOffset));
    return 'CONSUME_SUCCESS';
  });
  await again.start();
  await eventually(() => offsets.length === 1, 3000, 'the new message only');
  assert.deepEqual(offsets, [3]);
  const hb = broker.heartbeats.at(-1)!.consumerDataSet[0]!;
  assert.equal(hb['messageModel'], 'BROADCASTING');
});

test('CONSUME_FROM_LAST_OFFSET starts new queues at the max offset (retry topics at 0)', TEST_TIMEOUT, async (t) => {
  const { broker, consumer } = await setup(t, 1);
  for (let i = 0; i < 4; i++) broker.append(TOPIC, 0, `old${i}`);
  broker.append(RETRY, 0, 'retry', { [Prop.RETRY_TOPIC]: TOPIC });
  const c = consumer({ consumeFromWhere: 'CONSUME_FROM_LAST_OFFSET' });
  c.subscribe(TOPIC);
  const got: string[] = [];
  c.onMessage((msgs) => {
    got.push(...msgs.map((m) => m.body.toString()));
    return 'CONSUME_SUCCESS';
  });
  await c.start();
  broker.append(TOPIC, 0, 'new');
  await eventually(() => got.length === 2, 3000, 'new + retry');
  assert.deepEqual(got.sort(), ['new', 'retry']);
});

test('start refuses a consumer without listener or subscription; options are validated', TEST_TIMEOUT, async (t) => {
  const { consumer } = await setup(t, 1);
  const c = consumer();
  await assert.rejects(c.start(), /onMessage/);
  c.onMessage(() => 'CONSUME_SUCCESS');
  await assert.rejects(c.start(), /subscribe/);
  assert.throws(() => c.subscribe('bad topic'), /topic/);
  assert.throws(() => consumer({ pullBatchSize: 0 }), /pullBatchSize/);
  assert.throws(() => new PushConsumer({ namesrv: 'x', group: 'G' }), /name server/);
  assert.throws(() => new PushConsumer({ namesrv: '127.0.0.1:1', group: '' }), /group/);
  // routeJson is exported for other tests; keep the import used.
  assert.ok(routeJson({ brokers: [], queues: [] }).length > 0);
});

test('an unfinished re-balance (member list unavailable) is retried soon, not after the full interval', TEST_TIMEOUT, async (t) => {
  const { broker, consumer } = await setup(t, 2);
  let refusals = 2;
  broker.hooks.set(RequestCode.GET_CONSUMER_LIST_BY_GROUP, (r) => (refusals-- > 0 ? createResponse(r, ResponseCode.SYSTEM_ERROR, 'no consumer for this group') : 'default'));
  const c = consumer();
  c.subscribe(TOPIC);
  c.onMessage(() => 'CONSUME_SUCCESS');
  await c.start();
  assert.equal(c.assignment().filter((q) => q.topic === TOPIC).length, 0);
  await eventually(() => c.assignment().filter((q) => q.topic === TOPIC).length === 2, 4000, 'queues after retries');
});

test('progress over messages the filter skipped is committed too', TEST_TIMEOUT, async (t) => {
  const { broker, consumer } = await setup(t, 1);
  for (let i = 0; i < 5; i++) broker.append(TOPIC, 0, `m${i}`, { TAGS: 'TagB' });
  const c = consumer();
  c.subscribe(TOPIC, 'TagA');
  let calls = 0;
  c.onMessage(() => {
    calls += 1;
    return 'CONSUME_SUCCESS';
  });
  await c.start();
  await eventually(() => broker.committed(GROUP, TOPIC, 0) === 5, 3000, 'offset past filtered messages');
  assert.equal(calls, 0);
});

test('a retry topic without a route yet (a new group) is re-balanced quietly once it appears; a missing topic is warned about', TEST_TIMEOUT, async (t) => {
  const { ns, broker, consumer, logger } = await setup(t);
  ns.routes.delete(RETRY); // the broker creates it on the first heartbeat; the name server learns it a little later
  broker.append(TOPIC, 0, 'hello');
  const c = consumer();
  const bodies: string[] = [];
  c.subscribe(TOPIC);
  c.onMessage((msgs) => {
    bodies.push(...msgs.map((m) => m.body.toString()));
    return 'CONSUME_SUCCESS';
  });
  await c.start();
  await eventually(() => bodies.includes('hello'), 3000, 'the message');
  await eventually(() => logger.debugs.some((m) => m.includes(`re-balance of ${RETRY} skipped: no route`)), 3000, 'a quiet note of the missing retry route');
  ns.routes.set(RETRY, simpleRoute([broker], 1));
  await eventually(() => c.assignment().some((q) => q.topic === RETRY), 5000, 'the retry topic re-balanced once routed');
  assert.deepEqual(logger.warnings.filter((m) => m.includes('re-balance')), [], 'no warning for a retry route that appeared');

  const other = consumer({ group: 'CG2' });
  other.subscribe('NoSuchTopic');
  other.onMessage(() => 'CONSUME_SUCCESS');
  await other.start();
  await eventually(() => logger.warnings.some((m) => m.includes('re-balance of NoSuchTopic skipped: no route')), 3000, 'a warning for a missing topic');
});
