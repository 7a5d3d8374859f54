// End to end, real processes, short delay levels: a message whose listener keeps answering RECONSUME_LATER comes
// back through %RETRY%<group> with growing delays and an incrementing reconsumeTimes, then lands in %DLQ%<group>
// with its body, keys and retry properties; the other messages are consumed once. The broker's default
// maxReconsumeTimes (16) is checked with raw requests.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Admin, limits, Producer, PullConsumer, PushConsumer } from '../../client/index.js';
import { encodeSendHeaderV2 } from '../../client/send-header.js';
import { parseOffsetMessageId } from '../../common/message-id.js';
import { encodeProperties, Prop } from '../../common/properties.js';
import { dlqTopic, retryTopic } from '../../common/topic.js';
import { RemotingClient, RequestCode, ResponseCode, createRequest } from '../../remoting/index.js';
import { cleanupStack, Collector, recordingLogger, startCluster, waitUntil } from './helpers.js';

const DELAY_LEVELS = '100ms 200ms 300ms 400ms 500ms 600ms 700ms 800ms 900ms 1s 1s 1s 1s 1s 1s 1s 1s 1s';
const LEVEL_MS = [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000];
const TOPIC = 'E2E_RETRY';
const GROUP = 'e2e-retry-cg';
const MAX_RECONSUME = 3;
const OTHERS = 40;
const POISON_KEY = 'poison-key';

test('a failing message is redelivered with growing delays, then parked in the DLQ; defaults are 16', { timeout: 90_000 }, async (t) => {
  const started = Date.now();
  const cleanup = cleanupStack(t);
  const cluster = await startCluster(cleanup, { nodes: 1, brokerArgs: ['--delay-levels', DELAY_LEVELS] });
  const logger = recordingLogger();
  const namesrv = cluster.namesrvAddr;
  const brokerAddr = cluster.node('n0').addr;

  const admin = new Admin({ namesrv, logger });
  cleanup(() => admin.shutdown());
  await admin.start();
  await admin.createTopic(TOPIC, { queues: 2 });
  await waitUntil(() => admin.route(TOPIC).then(() => true, () => false), `a route for ${TOPIC}`);

  const collector = new Collector();
  const consumer = new PushConsumer({ namesrv, group: GROUP, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', maxReconsumeTimes: MAX_RECONSUME, logger });
  cleanup(() => consumer.shutdown());
  consumer.subscribe(TOPIC);
  consumer.onMessage(collector.listener('c1', (m) => (m.keys === POISON_KEY ? 'RECONSUME_LATER' : 'CONSUME_SUCCESS')));
  await consumer.start();

  const producer = new Producer({ namesrv, group: 'e2e-retry-pg', logger });
  cleanup(() => producer.shutdown());
  await producer.start();
  const otherIds = new Set<string>();
  for (let i = 0; i < OTHERS / 2; i++) otherIds.add((await producer.send({ topic: TOPIC, body: `ok-${i}`, keys: `ok-key-${i}` })).msgId);
  const poison = await producer.send({ topic: TOPIC, body: 'poison-body', keys: POISON_KEY, tags: 'TagP' });
  for (let i = OTHERS / 2; i < OTHERS; i++) otherIds.add((await producer.send({ topic: TOPIC, body: `ok-${i}`, keys: `ok-key-${i}` })).msgId);

  const poisonDeliveries = () => collector.deliveries.filter((d) => d.msgId === poison.msgId);
  await waitUntil(() => poisonDeliveries().length >= MAX_RECONSUME + 1, `${MAX_RECONSUME + 1} deliveries of the failing message`, 20_000, () => JSON.stringify(poisonDeliveries()));

  // It must then be parked in the DLQ, readable by a pull consumer of another group.
  const dlq = dlqTopic(GROUP);
  const reader = new PullConsumer({ namesrv, group: 'e2e-dlq-reader', logger });
  cleanup(() => reader.shutdown());
  await reader.start();
  let dlqMessages: Awaited<ReturnType<PullConsumer['pull']>>['messages'] = [];
  await waitUntil(async () => {
    try {
      const queues = await reader.fetchQueues(dlq);
      dlqMessages = [];
      for (const q of queues) {
        const r = await reader.pull(q, 0, 32);
        dlqMessages.push(...r.messages);
      }
      return dlqMessages.length > 0;
    } catch {
      return false;
    }
  }, `a message in ${dlq}`, 15_000);
  // A quiet period: no further delivery of the parked message, nothing else in the DLQ.
  await new Promise((r) => setTimeout(r, 1_500));

  const deliveries = poisonDeliveries();
  assert.equal(deliveries.length, MAX_RECONSUME + 1, `delivered once plus ${MAX_RECONSUME} retries, then no more`);
  assert.deepEqual(deliveries.map((d) => d.reconsumeTimes), [0, 1, 2, 3], 'reconsumeTimes counts the retries');
  assert.deepEqual(deliveries.map((d) => d.fromTopic), [TOPIC, retryTopic(GROUP), retryTopic(GROUP), retryTopic(GROUP)], 'retries come from the retry topic');
  for (const d of deliveries) {
    assert.equal(d.topic, TOPIC, 'the listener sees the original topic');
    assert.equal(d.body, 'poison-body');
    assert.equal(d.keys, POISON_KEY);
  }
  // Retry k (reconsumeTimes k) is delayed by level 3 + (k - 1): 300, 400, 500 ms.
  const gaps = deliveries.slice(1).map((d, i) => d.at - deliveries[i]!.at);
  const expected = gaps.map((_, i) => LEVEL_MS[3 + i - 1]!);
  for (const [i, gap] of gaps.entries()) {
    assert(gap >= expected[i]! - 20, `retry ${i + 1} came after ${gap} ms, before its ${expected[i]} ms delay (gaps ${gaps})`);
    assert(gap <= expected[i]! + 2_000, `retry ${i + 1} came ${gap} ms later, far beyond its ${expected[i]} ms delay (gaps ${gaps})`);
  }
  assert(gaps[gaps.length - 1]! > gaps[0]!, `delays grow (gaps ${gaps})`);

  const dlqRecheck = await reader.pull((await reader.fetchQueues(dlq))[0]!, 0, 32);
  assert.equal(dlqRecheck.messages.length, 1, 'exactly one message in the DLQ');
  const parked = dlqRecheck.messages[0]!;
  assert.equal(parked.topic, dlq);
  assert.equal(parked.body.toString(), 'poison-body');
  assert.equal(parked.keys, POISON_KEY);
  assert.equal(parked.tags, 'TagP');
  assert.equal(parked.msgId, poison.msgId, 'the DLQ copy keeps the UNIQ_KEY');
  assert.equal(parked.properties[Prop.RETRY_TOPIC], TOPIC, 'RETRY_TOPIC names the original topic');
  assert.equal(parked.properties[Prop.ORIGIN_MESSAGE_ID], poison.msgId, 'ORIGIN_MESSAGE_ID is the original message id');
  assert.equal(parked.reconsumeTimes, MAX_RECONSUME + 1, 'as in RocketMQ, the DLQ copy counts the last send-back too');
  assert.equal(parked.properties[Prop.DELAY_TIME_LEVEL], undefined, 'no delay left on the parked copy');
  const byKey = await admin.queryMessagesByKey(dlq, POISON_KEY);
  assert.equal(byKey.length, 1, 'the DLQ copy is indexed by its key');
  assert.equal(byKey[0]!.body.toString(), 'poison-body');

  // The other messages: each consumed exactly once, first time.
  for (const id of otherIds) assert.equal(collector.count(id), 1, `message ${id} consumed exactly once`);
  for (const d of collector.deliveries) if (d.msgId !== poison.msgId) assert.equal(d.reconsumeTimes, 0);
  assert.equal(collector.deliveries.length, OTHERS + MAX_RECONSUME + 1, 'nothing else was delivered');

  // Defaults: the client asks for 16, and a broker told nothing uses 16 (group config and send header).
  assert.equal(limits.MAX_RECONSUME_TIMES_DEFAULT, 16);
  const defaults = await checkBrokerDefault(brokerAddr, admin);
  t.diagnostic(`redelivery gaps ${gaps.join(', ')} ms (delays ${expected.join(', ')} ms); ${defaults}; total ${Date.now() - started} ms`);
});

/**
 * With no maxReconsumeTimes in the request, a message already reconsumed 15 times goes back to the retry topic
 * and one reconsumed 16 times goes to the DLQ: through CONSUMER_SEND_MSG_BACK (the group config's retryMaxTimes)
 * and through a send to the retry topic (header `l` absent).
 */
async function checkBrokerDefault(brokerAddr: string, admin: Admin): Promise<string> {
  const group = 'e2e-default-cg';
  const client = new RemotingClient({ logger: { warn: () => undefined } });
  try {
    const send = async (topic: string, key: string, reconsumeTimes: number): Promise<string> => {
      const header = encodeSendHeaderV2({
        producerGroup: 'e2e-raw-pg',
        topic,
        defaultTopic: 'TBW102',
        defaultTopicQueueNums: 4,
        queueId: 0,
        sysFlag: 0,
        bornTimestamp: Date.now(),
        flag: 0,
        properties: encodeProperties({ [Prop.KEYS]: key, [Prop.WAIT_STORE_MSG_OK]: 'true', [Prop.UNIQ_KEY]: `E2E${key}` }),
        reconsumeTimes,
        unitMode: false,
        batch: false,
      });
      const r = await client.invoke(brokerAddr, createRequest(RequestCode.SEND_MESSAGE_V2, header, Buffer.from(`body-${key}`)), 3000);
      assert.equal(r.code, ResponseCode.SUCCESS, `raw send to ${topic}: ${r.remark}`);
      return r.extFields!['msgId']!;
    };
    const sendBack = async (offsetMsgId: string): Promise<void> => {
      const id = parseOffsetMessageId(offsetMsgId)!;
      const r = await client.invoke(brokerAddr, createRequest(RequestCode.CONSUMER_SEND_MSG_BACK, { offset: String(id.commitLogOffset), group, delayLevel: '0', originTopic: TOPIC }), 3000);
      assert.equal(r.code, ResponseCode.SUCCESS, `send-back: ${r.remark}`);
    };
    const found = async (topic: string, key: string): Promise<boolean> => {
      try {
        return (await admin.queryMessagesByKey(topic, key)).length > 0;
      } catch {
        return false; // no route yet for a topic just created
      }
    };
    await sendBack(await send(TOPIC, 'rt15', 15));
    await sendBack(await send(TOPIC, 'rt16', 16));
    await send(retryTopic(group), 'hdr15', 15);
    await send(retryTopic(group), 'hdr16', 16);
    await waitUntil(async () => (await found(dlqTopic(group), 'rt16')) && (await found(dlqTopic(group), 'hdr16')), 'the 16-times messages in the DLQ', 10_000);
    // rt15 goes through the schedule (level 3 + 15, capped at the last level: 1 s) before reaching the retry topic.
    await waitUntil(async () => (await found(retryTopic(group), 'rt15')) && (await found(retryTopic(group), 'hdr15')), 'the 15-times messages in the retry topic', 10_000);
    assert.equal(await found(dlqTopic(group), 'rt15'), false, 'reconsumed 15 times: not yet in the DLQ (send-back)');
    assert.equal(await found(dlqTopic(group), 'hdr15'), false, 'reconsumed 15 times: not yet in the DLQ (send)');
    return 'broker default maxReconsumeTimes 16 confirmed (send-back and send)';
  } finally {
    await client.close();
  }
}
