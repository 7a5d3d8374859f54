// Pure units of the client: allocation, offset tracking, header/body encodings, route parsing, tag
// expressions, queue selection and small helpers. No sockets.
import fc from 'fast-check';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MessageExt } from '../../common/message.js';
import { decodeProperties, Prop } from '../../common/properties.js';
import { allocateAveragely } from '../../client/allocate.js';
import { encodePullHeader, PullSysFlag } from '../../client/broker-api.js';
import { leaderHintFromRemark } from '../../client/errors.js';
import { encodeHeartbeat } from '../../client/heartbeat.js';
import { parseLenientJson, quoteBareIntegerKeys } from '../../client/lenient-json.js';
import { parseNameServerList } from '../../client/name-server.js';
import { ProcessQueue } from '../../client/process-queue.js';
import { FaultTracker, RoundRobinSelector } from '../../client/queue-selection.js';
import { parseClusterInfo, parseTopicRouteData, readableQueues, routeFromTemplate, writableQueues, type MessageQueue } from '../../client/route.js';
import { retryResend } from '../../client/send-back.js';
import { decodeSendHeaderV2, encodeBatchBody, encodeSendHeaderV2 } from '../../client/send-header.js';
import { Semaphore } from '../../client/semaphore.js';
import { parseTagExpression, subscriptionData, tagMatches } from '../../client/subscription.js';
import { decodeBatchBody } from './fakes.js';

function queues(topic: string, spec: Record<string, number>): MessageQueue[] {
  return Object.entries(spec).flatMap(([brokerName, n]) => Array.from({ length: n }, (_, queueId) => ({ topic, brokerName, queueId })));
}

const ids = (list: MessageQueue[]): string[] => list.map((q) => `${q.brokerName}/${q.queueId}`);

// ---- allocation ----------------------------------------------------------------------------------

test('average allocation gives contiguous blocks, the first `mod` consumers one extra', () => {
  const mqs = queues('T', { 'broker-a': 4, 'broker-b': 4 });
  const cids = ['c3', 'c1', 'c2'];
  assert.deepEqual(ids(allocateAveragely('c1', cids, mqs)), ['broker-a/0', 'broker-a/1', 'broker-a/2']);
  assert.deepEqual(ids(allocateAveragely('c2', cids, mqs)), ['broker-a/3', 'broker-b/0', 'broker-b/1']);
  assert.deepEqual(ids(allocateAveragely('c3', cids, mqs)), ['broker-b/2', 'broker-b/3']);
  // 10 queues over 4 consumers: 3, 3, 2, 2
  const ten = queues('T', { b: 10 });
  const four = ['a', 'b', 'c', 'd'];
  assert.deepEqual(four.map((c) => allocateAveragely(c, four, ten).length), [3, 3, 2, 2]);
});

test('average allocation with more consumers than queues leaves the last consumers idle', () => {
  const mqs = queues('T', { b: 3 });
  const cids = ['e', 'a', 'c', 'b', 'd'];
  assert.deepEqual(['a', 'b', 'c', 'd', 'e'].map((c) => ids(allocateAveragely(c, cids, mqs))), [['b/0'], ['b/1'], ['b/2'], [], []]);
  assert.deepEqual(allocateAveragely('stranger', cids, mqs), []);
  assert.deepEqual(allocateAveragely('a', cids, []), []);
});

test('average allocation is a partition whatever the input order (property)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1, max: 12 }), fc.integer(), (nq, nc, seed) => {
      const mqs = queues('T', { x: Math.ceil(nq / 2), y: Math.floor(nq / 2) });
      const cids = Array.from({ length: nc }, (_, i) => `10.0.0.1@${i * 7919 + seed}`);
      const shuffled = [...mqs].reverse();
      const parts = cids.map((c) => allocateAveragely(c, [...cids].reverse(), shuffled));
      const all = parts.flat().map((q) => `${q.brokerName}/${q.queueId}`);
      assert.equal(all.length, mqs.length);
      assert.equal(new Set(all).size, mqs.length);
      const sizes = parts.map((p) => p.length);
      assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1);
    }),
  );
});

// ---- process queue -----------------------------------------------------------------------------

function msg(queueOffset: number, bodyBytes = 10): MessageExt {
  return { queueOffset, body: Buffer.alloc(bodyBytes), properties: {}, tags: undefined } as unknown as MessageExt;
}

test('the committed offset of a process queue is the smallest unconsumed offset', () => {
  const pq = new ProcessQueue({ topic: 'T', brokerName: 'b', queueId: 0 }, 10, 1000, 1 << 20);
  assert.equal(pq.committableOffset(), 10);
  const batch = [10, 11, 12, 13, 14].map((o) => msg(o));
  assert.equal(pq.put(batch, 16).length, 5); // offset 15 was filtered out by tag
  assert.equal(pq.nextPullOffset, 16);
  assert.equal(pq.committableOffset(), 10);
  assert.equal(pq.remove([batch[2]!, batch[3]!]), 10, 'later messages finishing first do not move the offset');
  assert.equal(pq.remove([batch[0]!]), 11);
  assert.equal(pq.remove([batch[1]!]), 14);
  assert.equal(pq.remove([batch[1]!]), 14, 'removing twice is harmless');
  assert.equal(pq.remove([batch[4]!]), 16, 'with nothing buffered, the pull boundary (past filtered messages)');
  pq.advanceTo(20);
  assert.equal(pq.committableOffset(), 20);
});

test('a process queue re-sorts messages that arrive below buffered ones (after an offset reset)', () => {
  const pq = new ProcessQueue({ topic: 'T', brokerName: 'b', queueId: 0 }, 5, 1000, 1 << 20);
  pq.put([msg(5), msg(6)], 7);
  pq.advanceTo(2);
  pq.put([msg(2), msg(3)], 4);
  assert.equal(pq.committableOffset(), 2);
  assert.equal(pq.count, 4);
});

test('a process queue reports flow control by count and bytes and wakes waiters when drained', async () => {
  const pq = new ProcessQueue({ topic: 'T', brokerName: 'b', queueId: 0 }, 0, 2, 1000);
  const batch = [0, 1, 2].map((o) => msg(o));
  pq.put(batch, 3);
  assert.equal(pq.full, true);
  let woke = false;
  const waiting = pq.whenRoom().then(() => (woke = true));
  await Promise.resolve();
  assert.equal(woke, false);
  pq.remove([batch[0]!]);
  await waiting;
  assert.equal(woke, true);
  const big = new ProcessQueue({ topic: 'T', brokerName: 'b', queueId: 0 }, 0, 100, 15);
  big.put([msg(0, 10), msg(1, 10)], 2);
  assert.equal(big.full, true, 'byte threshold');
  big.drop();
  await big.whenRoom();
});

test('whenIdle waits for running listener calls, bounded by its timeout', async () => {
  const pq = new ProcessQueue({ topic: 'T', brokerName: 'b', queueId: 0 }, 0, 10, 1000);
  assert.equal(await pq.whenIdle(10), true);
  pq.beginConsume();
  assert.equal(await pq.whenIdle(20), false);
  setTimeout(() => pq.endConsume(), 10);
  assert.equal(await pq.whenIdle(1000), true);
});

// ---- header and body encodings -----------------------------------------------------------------

test('the SEND_MESSAGE_V2 header uses one-letter names and string values', () => {
  const ext = encodeSendHeaderV2({
    producerGroup: 'PG',
    topic: 'TopicA',
    defaultTopic: 'TBW102',
    defaultTopicQueueNums: 4,
    queueId: 1,
    sysFlag: 0,
    bornTimestamp: 1700000000000,
    flag: 0,
    properties: 'WAIT\u0001true\u0002TAGS\u0001t\u0002',
    reconsumeTimes: 0,
    unitMode: false,
    batch: false,
  });
  assert.deepEqual(ext, { a: 'PG', b: 'TopicA', c: 'TBW102', d: '4', e: '1', f: '0', g: '1700000000000', h: '0', i: 'WAIT\u0001true\u0002TAGS\u0001t\u0002', j: '0', k: 'false', m: 'false' });
  const retry = encodeSendHeaderV2({ ...decodeSendHeaderV2(ext), topic: '%RETRY%G', reconsumeTimes: 2, maxReconsumeTimes: 16, batch: true, brokerName: 'broker-a' });
  assert.equal(retry['j'], '2');
  assert.equal(retry['l'], '16');
  assert.equal(retry['m'], 'true');
  assert.equal(retry['n'], 'broker-a');
  assert.deepEqual(decodeSendHeaderV2(retry).maxReconsumeTimes, 16);
});

test('the pull header carries every required field as a string', () => {
  const fields = encodePullHeader({
    consumerGroup: 'CG',
    topic: 'T',
    queueId: 3,
    queueOffset: 42,
    maxMsgNums: 32,
    sysFlag: PullSysFlag.SUSPEND | PullSysFlag.SUBSCRIPTION | PullSysFlag.COMMIT_OFFSET,
    commitOffset: 40,
    suspendTimeoutMillis: 15000,
    subscription: 'TagA || TagB',
    subVersion: 1700000000000,
    expressionType: 'TAG',
  });
  assert.deepEqual(Object.keys(fields).sort(), ['commitOffset', 'consumerGroup', 'expressionType', 'maxMsgNums', 'queueId', 'queueOffset', 'subVersion', 'subscription', 'suspendTimeoutMillis', 'sysFlag', 'topic']);
  assert.equal(fields['sysFlag'], 7);
});

test('the batch body is per-message TOTALSIZE/MAGIC 0/CRC 0/FLAG/BODY/PROPERTIES', () => {
  const body = encodeBatchBody([
    { flag: 7, body: Buffer.from('one'), properties: 'UNIQ_KEY\u0001A\u0002WAIT\u0001true\u0002' },
    { flag: 0, body: Buffer.from('second'), properties: 'UNIQ_KEY\u0001B\u0002' },
  ]);
  const items = decodeBatchBody(body);
  assert.equal(items.length, 2);
  assert.equal(items[0]!.flag, 7);
  assert.equal(items[0]!.body.toString(), 'one');
  assert.equal(items[0]!.properties['UNIQ_KEY'], 'A');
  assert.equal(items[1]!.body.toString(), 'second');
  assert.equal(body.readInt32BE(0), 4 + 4 + 4 + 4 + 4 + 3 + 2 + Buffer.byteLength('UNIQ_KEY\u0001A\u0002WAIT\u0001true\u0002'));
});

test('the heartbeat body follows section 6, with tag hashes as the code set', () => {
  const sub = subscriptionData('TopicA', 'TagA || TagB', 1700000000000);
  const json = JSON.parse(
    encodeHeartbeat({
      clientID: '10.0.0.5@123#1',
      producerDataSet: [{ groupName: 'PG' }],
      consumerDataSet: [{ groupName: 'CG', consumeType: 'CONSUME_PASSIVELY', messageModel: 'CLUSTERING', consumeFromWhere: 'CONSUME_FROM_LAST_OFFSET', unitMode: false, subscriptionDataSet: [sub] }],
    }).toString(),
  );
  assert.equal(json.clientID, '10.0.0.5@123#1');
  assert.deepEqual(json.producerDataSet, [{ groupName: 'PG' }]);
  const s = json.consumerDataSet[0].subscriptionDataSet[0];
  assert.deepEqual(s, { classFilterMode: false, codeSet: [2598919, 2598920], expressionType: 'TAG', subString: 'TagA || TagB', subVersion: 1700000000000, tagsSet: ['TagA', 'TagB'], topic: 'TopicA' });
  assert.equal(json.consumerDataSet[0].consumeType, 'CONSUME_PASSIVELY');
});

// ---- routes --------------------------------------------------------------------------------------

const standardRoute = JSON.stringify({
  brokerDatas: [
    { brokerAddrs: { '0': '10.0.0.2:10911', '1': '10.0.0.3:10911' }, brokerName: 'broker-b', cluster: 'C' },
    { brokerAddrs: { '1': '10.0.0.4:10911' }, brokerName: 'broker-c', cluster: 'C' },
    { brokerAddrs: { '0': '10.0.0.1:10911' }, brokerName: 'broker-a', cluster: 'C' },
  ],
  queueDatas: [
    { brokerName: 'broker-b', perm: 6, readQueueNums: 2, writeQueueNums: 2, topicSysFlag: 0 },
    { brokerName: 'broker-a', perm: 6, readQueueNums: 3, writeQueueNums: 1, topicSysFlag: 0 },
    { brokerName: 'broker-c', perm: 6, readQueueNums: 1, writeQueueNums: 1, topicSysFlag: 0 },
  ],
});

test('route parsing: writable queues need a master and WRITE; readable queues need READ; groups in name order', () => {
  const route = parseTopicRouteData(Buffer.from(standardRoute));
  assert.equal(route.brokerDatas.length, 3);
  assert.deepEqual(ids(writableQueues('T', route)), ['broker-a/0', 'broker-b/0', 'broker-b/1']);
  assert.deepEqual(ids(readableQueues('T', route)), ['broker-a/0', 'broker-a/1', 'broker-a/2', 'broker-b/0', 'broker-b/1', 'broker-c/0']);
  const readOnly = parseTopicRouteData(standardRoute.replace(/"perm":6/g, '"perm":4'));
  assert.deepEqual(writableQueues('T', readOnly), []);
  assert.equal(readableQueues('T', readOnly).length, 6);
  const writeOnly = parseTopicRouteData(standardRoute.replace(/"perm":6/g, '"perm":2'));
  assert.deepEqual(readableQueues('T', writeOnly), []);
});

test('route parsing accepts fastjson bare integer keys, numbers as strings and the old topicSynFlag', () => {
  const fastjson = '{"brokerDatas":[{"brokerAddrs":{0:"10.0.0.1:10911",1:"10.0.0.9:10911"},"brokerName":"broker-a","cluster":"C"}],' +
    '"queueDatas":[{"brokerName":"broker-a","perm":"6","readQueueNums":"4","writeQueueNums":4,"topicSynFlag":0}],"filterServerTable":{}}';
  const route = parseTopicRouteData(fastjson);
  assert.deepEqual(route.brokerDatas[0]!.brokerAddrs, { '0': '10.0.0.1:10911', '1': '10.0.0.9:10911' });
  assert.equal(route.queueDatas[0]!.readQueueNums, 4);
  assert.equal(writableQueues('T', route).length, 4);
  assert.throws(() => parseTopicRouteData('{"brokerDatas":[{"brokerName":"x"}],"queueDatas":[{"brokerName":"x","perm":"rw"}]}'), /perm/);
  assert.throws(() => parseTopicRouteData('not json'), /not JSON/);
});

test('lenient JSON quotes only bare integer keys outside strings', () => {
  assert.equal(quoteBareIntegerKeys('{0:"a",-1:"b", 12 :"c"}'), '{"0":"a","-1":"b", "12" :"c"}');
  assert.equal(quoteBareIntegerKeys('{"s":"{0:x}","n":[1,2]}'), '{"s":"{0:x}","n":[1,2]}');
  assert.deepEqual(parseLenientJson('{"a":{1:"x\\"{2:"}}'), { a: { '1': 'x"{2:' } });
});

test('cluster info and template routes', () => {
  const info = parseClusterInfo('{"brokerAddrTable":{"broker-a":{"brokerName":"broker-a","cluster":"C","brokerAddrs":{0:"10.0.0.1:10911"}}},"clusterAddrTable":{"C":["broker-a"]}}');
  assert.equal(info.brokerAddrTable['broker-a']!.brokerAddrs['0'], '10.0.0.1:10911');
  assert.deepEqual(info.clusterAddrTable['C'], ['broker-a']);
  const template = routeFromTemplate(parseTopicRouteData(standardRoute), 2);
  assert.deepEqual(ids(writableQueues('New', template)), ['broker-a/0', 'broker-a/1', 'broker-b/0', 'broker-b/1']);
});

test('name server lists accept ; and , separators and reject bad addresses', () => {
  assert.deepEqual(parseNameServerList('127.0.0.1:9876; 127.0.0.2:9876'), ['127.0.0.1:9876', '127.0.0.2:9876']);
  assert.deepEqual(parseNameServerList(['a:1', 'b:2;a:1']), ['a:1', 'b:2']);
  assert.throws(() => parseNameServerList('nohost'), /invalid name server address/);
  assert.throws(() => parseNameServerList(''), /no name server/);
});

// ---- tags ----------------------------------------------------------------------------------------

test('tag expressions: * and empty match all; || lists are trimmed and de-duplicated', () => {
  assert.deepEqual(parseTagExpression('*'), { subString: '*', tags: [] });
  assert.deepEqual(parseTagExpression(''), { subString: '*', tags: [] });
  assert.deepEqual(parseTagExpression(undefined), { subString: '*', tags: [] });
  assert.deepEqual(parseTagExpression(' TagA||TagB || TagA ||'), { subString: 'TagA||TagB || TagA ||', tags: ['TagA', 'TagB'] });
  assert.deepEqual(parseTagExpression('TagA || *').tags, []);
  const sub = subscriptionData('T', 'TagA || TagB', 1);
  assert.deepEqual(sub.codeSet, [2598919, 2598920]);
  assert.equal(tagMatches(sub, 'TagA'), true);
  assert.equal(tagMatches(sub, 'TagC'), false);
  assert.equal(tagMatches(sub, undefined), false);
  assert.equal(tagMatches(subscriptionData('T', '*', 1), undefined), true);
});

// ---- queue selection, errors, helpers ------------------------------------------------------------

test('round-robin selection skips avoided groups and the group that just failed', () => {
  let now = 1000;
  const faults = new FaultTracker(500, () => now);
  const selector = new RoundRobinSelector(0);
  const mqs = queues('T', { a: 2, b: 2 });
  assert.deepEqual(ids([0, 1, 2, 3, 4].map(() => selector.select(mqs, faults)!)), ['a/0', 'a/1', 'b/0', 'b/1', 'a/0']);
  faults.markFailed('a');
  const picked = ids([0, 1, 2, 3].map(() => selector.select(mqs, faults)!));
  assert.ok(picked.every((q) => q.startsWith('b/')), picked.join());
  assert.equal(selector.select(mqs, faults, 'b')!.brokerName, 'b', 'only b is healthy, so b even though it is excluded');
  faults.markFailed('b');
  assert.ok(selector.select(mqs, faults, 'b')!.brokerName === 'a', 'everything avoided: at least not the one that just failed');
  now += 501;
  assert.equal(faults.isAvoided('a'), false);
  faults.markFailed('a');
  faults.markHealthy('a');
  assert.equal(faults.isAvoided('a'), false);
  assert.equal(selector.select([], faults), undefined);
});

test('leader hints are read only after the word leader', () => {
  assert.equal(leaderHintFromRemark('not leader, leader is 10.0.0.2:10911'), '10.0.0.2:10911');
  assert.equal(leaderHintFromRemark('[NOT_LEADER] leader=127.0.0.1:30911 term=3'), '127.0.0.1:30911');
  assert.equal(leaderHintFromRemark('broker 10.0.0.2:10911 is busy'), null);
  assert.equal(leaderHintFromRemark(null), null);
});

test('a message re-sent to the retry topic carries the retry properties and the next delay level', () => {
  const original = {
    topic: 'TopicA',
    msgId: 'UNIQ1',
    reconsumeTimes: 2,
    properties: { [Prop.UNIQ_KEY]: 'UNIQ1', [Prop.TAGS]: 'TagA', [Prop.MIN_OFFSET]: '0', [Prop.TRANSACTION_PREPARED]: 'true' },
  } as unknown as MessageExt;
  const resend = retryResend(original, 'CG', 16);
  assert.equal(resend.topic, '%RETRY%CG');
  assert.equal(resend.reconsumeTimes, 3);
  assert.equal(resend.delayLevel, 5);
  const p = decodeProperties(Object.entries(resend.properties).map(([k, v]) => `${k}\u0001${v}\u0002`).join(''));
  assert.equal(p[Prop.RETRY_TOPIC], 'TopicA');
  assert.equal(p[Prop.ORIGIN_MESSAGE_ID], 'UNIQ1');
  assert.equal(p[Prop.RECONSUME_TIME], '3');
  assert.equal(p[Prop.MAX_RECONSUME_TIMES], '16');
  assert.equal(p[Prop.DELAY_TIME_LEVEL], '5');
  assert.equal(p[Prop.UNIQ_KEY], 'UNIQ1');
  assert.equal(p[Prop.TRANSACTION_PREPARED], undefined);
  assert.equal(p[Prop.MIN_OFFSET], undefined);
});

test('the semaphore bounds permits and waiters', async () => {
  const s = new Semaphore(2, 1);
  await s.acquire();
  await s.acquire();
  let third = false;
  const waiting = s.acquire().then(() => (third = true));
  await assert.rejects(s.acquire(), /already waiting/);
  s.release();
  await waiting;
  assert.equal(third, true);
  assert.equal(s.inUse, 2);
  const blocked = s.acquire();
  s.close(new Error('closed'));
  await assert.rejects(blocked, /closed/);
  await assert.rejects(s.acquire(), /closed/);
});
