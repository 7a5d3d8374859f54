// Leader changes and periodic services: the route poll, heartbeats, and clients following a new master.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Producer, PushConsumer } from '../../client/index.js';
import { createResponse, RequestCode, ResponseCode } from '../../remoting/index.js';
import { cleanupStack, eventually, FakeBroker, FakeNameServer, recordingLogger, routeJson, TEST_TIMEOUT } from './fakes.js';

const TOPIC = 'TopicA';

function groupRoute(master: FakeBroker, follower: FakeBroker): string {
  return routeJson({ brokers: [{ name: 'broker-a', addrs: { '0': master.address, '1': follower.address } }], queues: [{ name: 'broker-a', read: 1, write: 1 }] });
}

test('producer and consumer follow the group to its new master after the old one dies', TEST_TIMEOUT, async (t) => {
  const cleanup = cleanupStack(t);
  const ns = await FakeNameServer.start(cleanup);
  const n1 = await FakeBroker.start('broker-a', cleanup);
  const n2 = await FakeBroker.start('broker-a', cleanup);
  ns.routes.set(TOPIC, groupRoute(n1, n2));
  ns.routes.set('%RETRY%CG', groupRoute(n1, n2));
  const logger = recordingLogger();
  const producer = new Producer({ namesrv: ns.address, group: 'PG', logger, retryTimesWhenSendFailed: 4, retryBackoffMs: 50 });
  const consumer = new PushConsumer({
    namesrv: ns.address,
    group: 'CG',
    logger,
    consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
    suspendTimeoutMs: 300,
    pullErrorBackoffMs: 50,
    persistOffsetIntervalMs: 100,
  });
  cleanup(() => producer.shutdown());
  cleanup(() => consumer.shutdown());
  const bodies: string[] = [];
  consumer.subscribe(TOPIC);
  consumer.onMessage((msgs) => {
    bodies.push(...msgs.map((m) => m.body.toString()));
    return 'CONSUME_SUCCESS';
  });
  await producer.start();
  await consumer.start();
  await producer.send({ topic: TOPIC, body: 'before' });
  await eventually(() => bodies.includes('before'), 3000, 'first message');

  // The new leader has the old one's data (byte-identical replicas) and committed offsets.
  n2.append(TOPIC, 0, 'before');
  for (const [k, v] of n1.offsets) n2.offsets.set(k, v);
  ns.routes.set(TOPIC, groupRoute(n2, n1));
  ns.routes.set('%RETRY%CG', groupRoute(n2, n1));
  await n1.close();

  const sent = await producer.send({ topic: TOPIC, body: 'after' });
  assert.equal(sent.status, 'SEND_OK');
  assert.equal(n2.sends.length, 1, 'the send landed on the new master');
  await eventually(() => bodies.includes('after'), 5000, 'message from the new master');
  assert.equal(bodies.filter((b) => b === 'before').length, 1, 'no redelivery: the consumer continued from the same offset');
});

test('a send refused by a deposed leader that names the new one goes there at once, without the retry pause', TEST_TIMEOUT, async (t) => {
  const cleanup = cleanupStack(t);
  const ns = await FakeNameServer.start(cleanup);
  const n1 = await FakeBroker.start('broker-a', cleanup);
  const n2 = await FakeBroker.start('broker-a', cleanup);
  // The name server still routes to n1 (it re-registers only later); n1 names n2 as the leader.
  ns.routes.set(TOPIC, groupRoute(n1, n2));
  let refused = 0;
  n1.hooks.set(RequestCode.SEND_MESSAGE_V2, (request) => {
    refused++;
    return createResponse(request, ResponseCode.SERVICE_NOT_AVAILABLE, `not the leader of broker-a; the leader is ${n2.address}`);
  });
  // A pause would be a minute: the test's timeout catches it.
  const producer = new Producer({ namesrv: ns.address, group: 'PG', logger: recordingLogger(), retryTimesWhenSendFailed: 2, retryBackoffMs: 60_000 });
  cleanup(() => producer.shutdown());
  await producer.start();
  const sent = await producer.send({ topic: TOPIC, body: 'redirected' });
  assert.equal(sent.status, 'SEND_OK');
  assert.equal(refused, 1);
  assert.equal(n2.sends.length, 1, 'the send landed on the named leader');
  const again = await producer.send({ topic: TOPIC, body: 'next' });
  assert.equal(again.status, 'SEND_OK');
  assert.equal(refused, 1, 'later sends go to the named leader while the hint is fresh');
  assert.equal(n2.sends.length, 2);
});

test('a send whose leader died retries at once when the refreshed route names a new master', TEST_TIMEOUT, async (t) => {
  const cleanup = cleanupStack(t);
  const ns = await FakeNameServer.start(cleanup);
  const n1 = await FakeBroker.start('broker-a', cleanup);
  const n2 = await FakeBroker.start('broker-a', cleanup);
  ns.routes.set(TOPIC, groupRoute(n1, n2));
  const producer = new Producer({ namesrv: ns.address, group: 'PG', logger: recordingLogger(), retryTimesWhenSendFailed: 2, retryBackoffMs: 60_000 });
  cleanup(() => producer.shutdown());
  await producer.start();
  await producer.send({ topic: TOPIC, body: 'before' });
  // n1 dies; the name server already routes to n2, the producer's cached route does not.
  ns.routes.set(TOPIC, groupRoute(n2, n1));
  await n1.close();
  const sent = await producer.send({ topic: TOPIC, body: 'after' }); // a pause would be a minute
  assert.equal(sent.status, 'SEND_OK');
  assert.equal(n2.sends.length, 1, 'the retry went to the new master');
});

test('a send does not wait out the reconnect backoff of a dead master once the name server names a new one', TEST_TIMEOUT, async (t) => {
  const cleanup = cleanupStack(t);
  const ns = await FakeNameServer.start(cleanup);
  const n1 = await FakeBroker.start('broker-a', cleanup);
  const n2 = await FakeBroker.start('broker-a', cleanup);
  ns.routes.set(TOPIC, groupRoute(n1, n2));
  // No retries: the one attempt must reach the new master.
  const producer = new Producer({ namesrv: ns.address, group: 'PG', logger: recordingLogger(), retryTimesWhenSendFailed: 0 });
  cleanup(() => producer.shutdown());
  await producer.start();
  await producer.send({ topic: TOPIC, body: 'before' });
  await n1.close();
  // Failed connects grow n1's reconnect backoff (100, 200, 400 ms... with jitter).
  for (let i = 0; i < 4; i++) await assert.rejects(producer.send({ topic: TOPIC, body: `lost-${i}` }));
  ns.routes.set(TOPIC, groupRoute(n2, n1)); // the new leader registered
  const sent = await producer.send({ topic: TOPIC, body: 'after' });
  assert.equal(sent.status, 'SEND_OK');
  assert.equal(n2.sends.length, 1, 'the send went to the new master');
});

test('a consumer whose master died resumes on the new one as soon as the name server names it, not after the error pause', TEST_TIMEOUT, async (t) => {
  const cleanup = cleanupStack(t);
  const ns = await FakeNameServer.start(cleanup);
  const n1 = await FakeBroker.start('broker-a', cleanup);
  const n2 = await FakeBroker.start('broker-a', cleanup);
  ns.routes.set(TOPIC, groupRoute(n1, n2));
  ns.routes.set('%RETRY%CG', groupRoute(n1, n2));
  const consumer = new PushConsumer({
    namesrv: ns.address,
    group: 'CG',
    logger: recordingLogger(),
    consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
    suspendTimeoutMs: 300,
    pullErrorBackoffMs: 60_000, // waiting it out would time the test out
    persistOffsetIntervalMs: 100,
  });
  cleanup(() => consumer.shutdown());
  const bodies: string[] = [];
  consumer.subscribe(TOPIC);
  consumer.onMessage((msgs) => {
    bodies.push(...msgs.map((m) => m.body.toString()));
    return 'CONSUME_SUCCESS';
  });
  n1.append(TOPIC, 0, 'before');
  await consumer.start();
  await eventually(() => bodies.includes('before'), 3000, 'first message');
  n2.append(TOPIC, 0, 'before');
  for (const [k, v] of n1.offsets) n2.offsets.set(k, v);
  n2.append(TOPIC, 0, 'after');
  await n1.close();
  // The name server has no route for a moment (the old leader is gone, the new one not registered yet).
  ns.routes.delete(TOPIC);
  await new Promise((r) => setTimeout(r, 700));
  ns.routes.set(TOPIC, groupRoute(n2, n1));
  ns.routes.set('%RETRY%CG', groupRoute(n2, n1));
  await eventually(() => bodies.includes('after'), 5000, 'the message on the new master');
  assert.equal(bodies.filter((b) => b === 'before').length, 1, 'nothing consumed twice');
});

test('routes are polled and heartbeats repeated on their intervals; a route change re-balances', TEST_TIMEOUT, async (t) => {
  const cleanup = cleanupStack(t);
  const ns = await FakeNameServer.start(cleanup);
  const broker = await FakeBroker.start('broker-a', cleanup);
  ns.routes.set(TOPIC, routeJson({ brokers: [{ name: 'broker-a', addrs: { '0': broker.address } }], queues: [{ name: 'broker-a', read: 1, write: 1 }] }));
  ns.routes.set('%RETRY%CG', routeJson({ brokers: [{ name: 'broker-a', addrs: { '0': broker.address } }], queues: [{ name: 'broker-a', read: 1, write: 1 }] }));
  const topicQueues = (): number => consumer.assignment().filter((q) => q.topic === TOPIC).length;
  const consumer = new PushConsumer({
    namesrv: ns.address,
    group: 'CG',
    logger: recordingLogger(),
    pollNameServerIntervalMs: 50,
    heartbeatIntervalMs: 50,
    suspendTimeoutMs: 300,
  });
  cleanup(() => consumer.shutdown());
  consumer.subscribe(TOPIC);
  consumer.onMessage(() => 'CONSUME_SUCCESS');
  await consumer.start();
  assert.equal(topicQueues(), 1);
  const polls = ns.requestsFor(TOPIC);
  const beats = broker.heartbeats.length;
  await eventually(() => ns.requestsFor(TOPIC) >= polls + 3 && broker.heartbeats.length >= beats + 3, 2000, 'periodic poll and heartbeat');
  ns.routes.set(TOPIC, routeJson({ brokers: [{ name: 'broker-a', addrs: { '0': broker.address } }], queues: [{ name: 'broker-a', read: 3, write: 3 }] }));
  await eventually(() => topicQueues() === 3, 2000, 'the new queues after the route change');
});
