// Producer against a fake name server and fake brokers.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import { inflateSync } from 'node:zlib';
import { createOffsetMessageId } from '../../common/message-id.js';
import { SysFlag } from '../../common/message.js';
import { Prop } from '../../common/properties.js';
import { ClientError, ClientErrorCode, Producer, type ProducerOptions } from '../../client/index.js';
import { createResponse, RemotingFlag, RequestCode, ResponseCode, type RemotingCommand } from '../../remoting/index.js';
import { cleanupStack, decodeBatchBody, eventually, FakeBroker, FakeNameServer, LOOPBACK, recordingLogger, routeJson, simpleRoute, sleep, TEST_TIMEOUT } from './fakes.js';

const TOPIC = 'TopicA';

async function setup(t: TestContext, brokerNames = ['broker-a', 'broker-b'], queues = 2) {
  const cleanup = cleanupStack(t);
  const ns = await FakeNameServer.start(cleanup);
  const brokers: FakeBroker[] = [];
  for (const name of brokerNames) brokers.push(await FakeBroker.start(name, cleanup));
  ns.routes.set(TOPIC, simpleRoute(brokers, queues));
  const logger = recordingLogger();
  const producer = async (options: Partial<ProducerOptions> = {}): Promise<Producer> => {
    const p = new Producer({ namesrv: ns.address, group: 'PG', logger, retryBackoffMs: 5, ...options });
    cleanup(() => p.shutdown());
    await p.start();
    return p;
  };
  return { cleanup, ns, brokers, producer, logger };
}

function busy(request: RemotingCommand): RemotingCommand {
  return createResponse(request, ResponseCode.SYSTEM_BUSY, '[PCBUSY_CLEAN_QUEUE]broker busy');
}

test('send: SEND_MESSAGE_V2 with system properties, result mapped from the response header', TEST_TIMEOUT, async (t) => {
  const { brokers, producer } = await setup(t, ['broker-a'], 4);
  const p = await producer();
  const result = await p.send({ topic: TOPIC, body: 'hello', tags: 'TagA', keys: ['k1', 'k2'], properties: { color: 'red' }, delayLevel: 3, flag: 9 });
  const broker = brokers[0]!;
  assert.equal(broker.sends.length, 1);
  const sent = broker.sends[0]!;
  assert.equal(sent.code, RequestCode.SEND_MESSAGE_V2);
  assert.equal(sent.group, 'PG');
  assert.equal(sent.topic, TOPIC);
  assert.equal(sent.ext['c'], 'TBW102');
  assert.equal(sent.ext['d'], '4');
  assert.equal(sent.flag, 9);
  assert.equal(sent.sysFlag, 0);
  assert.equal(sent.batch, false);
  assert.ok(Number(sent.ext['g']) > 0, 'bornTimestamp');
  assert.equal(sent.properties[Prop.TAGS], 'TagA');
  assert.equal(sent.properties[Prop.KEYS], 'k1 k2');
  assert.equal(sent.properties[Prop.DELAY_TIME_LEVEL], '3');
  assert.equal(sent.properties[Prop.WAIT_STORE_MSG_OK], 'true');
  assert.equal(sent.properties['color'], 'red');
  assert.match(sent.properties[Prop.UNIQ_KEY]!, /^[0-9A-F]{32}$/);
  assert.equal(sent.body.toString(), 'hello');
  assert.equal(result.status, 'SEND_OK');
  assert.equal(result.msgId, sent.properties[Prop.UNIQ_KEY]);
  assert.equal(result.offsetMsgId, createOffsetMessageId({ ip: 0x7f000001, port: broker.server.port }, 1000));
  assert.deepEqual(result.queue, { topic: TOPIC, brokerName: 'broker-a', queueId: sent.queueId });
  assert.equal(result.queueOffset, 0);
  await eventually(() => broker.heartbeats.some((h) => h.producerDataSet.some((g) => g.groupName === 'PG')), 2000, 'producer heartbeat');
  await p.shutdown();
  assert.ok(broker.unregisters.some((u) => u['producerGroup'] === 'PG' && u['clientID'] === p.clientId), 'UNREGISTER_CLIENT on shutdown');
  await assert.rejects(p.send({ topic: TOPIC, body: 'late' }), (e: unknown) => e instanceof ClientError && e.code === ClientErrorCode.CLOSED);
});

test('stored-but-degraded outcomes map to statuses; round-robin spreads over every writable queue', TEST_TIMEOUT, async (t) => {
  const { brokers, producer } = await setup(t, ['broker-a', 'broker-b'], 2);
  const p = await producer();
  const seen = new Set<string>();
  for (let i = 0; i < 8; i++) {
    const r = await p.send({ topic: TOPIC, body: `m${i}` });
    seen.add(`${r.queue.brokerName}/${r.queue.queueId}`);
  }
  assert.equal(seen.size, 4);
  for (const [code, status] of [[10, 'FLUSH_DISK_TIMEOUT'], [11, 'SLAVE_NOT_AVAILABLE'], [12, 'FLUSH_SLAVE_TIMEOUT']] as const) {
    for (const b of brokers) b.hooks.set(RequestCode.SEND_MESSAGE_V2, (r) => createResponse(r, code, null, { msgId: '7F00000100002A9F0000000000000000', queueId: '0', queueOffset: '5' }));
    const r = await p.send({ topic: TOPIC, body: 'x' });
    assert.equal(r.status, status);
    assert.equal(r.queueOffset, 5);
  }
});

test('SYSTEM_BUSY: retried on the other broker group at once, the busy group avoided, the route refreshed', TEST_TIMEOUT, async (t) => {
  const { ns, brokers, producer } = await setup(t);
  const [a, b] = brokers as [FakeBroker, FakeBroker];
  let busyAnswers = 0;
  a.hooks.set(RequestCode.SEND_MESSAGE_V2, (r) => {
    busyAnswers += 1;
    return busy(r);
  });
  const p = await producer({ faultAvoidanceMs: 60_000 });
  const routeFetchesBefore = ns.requestsFor(TOPIC);
  for (let i = 0; i < 6; i++) {
    const r = await p.send({ topic: TOPIC, body: `m${i}` });
    assert.equal(r.queue.brokerName, 'broker-b');
  }
  assert.equal(b.sends.length, 6);
  // Round-robin over a0 a1 b0 b1 reaches broker-a within six sends, once; after that it is avoided.
  assert.equal(busyAnswers, 1, 'the busy group was avoided after its first failure');
  assert.ok(ns.requestsFor(TOPIC) > routeFetchesBefore, 'route refreshed right after the failure');
});

test('a dropped connection is retried on another broker group and triggers an immediate route refresh', TEST_TIMEOUT, async (t) => {
  const { ns, brokers, producer } = await setup(t);
  const [a, b] = brokers as [FakeBroker, FakeBroker];
  let drops = 0;
  a.hooks.set(RequestCode.SEND_MESSAGE_V2, (_r, connection) => {
    drops += 1;
    connection.destroy();
    return null;
  });
  const p = await producer({ faultAvoidanceMs: 60_000 });
  // Pin the first attempt on broker-a through a failing first choice: send until broker-a has been tried.
  for (let i = 0; i < 4 && drops === 0; i++) await p.send({ topic: TOPIC, body: `m${i}` });
  assert.equal(drops, 1);
  const fetches = ns.requestsFor(TOPIC);
  assert.ok(fetches >= 2, `route fetched again after the broken connection (${fetches})`);
  assert.ok(b.sends.length >= 1);
  assert.ok(b.sends.every((s) => s.topic === TOPIC));
});

test('MESSAGE_ILLEGAL is not retried and surfaces as a typed error with code and remark', TEST_TIMEOUT, async (t) => {
  const { brokers, producer } = await setup(t, ['broker-a'], 1);
  let attempts = 0;
  brokers[0]!.hooks.set(RequestCode.SEND_MESSAGE_V2, (r) => {
    attempts += 1;
    return createResponse(r, ResponseCode.MESSAGE_ILLEGAL, 'the message body size over max value, MAX: 4194304');
  });
  const p = await producer();
  await assert.rejects(p.send({ topic: TOPIC, body: 'x' }), (e: unknown) => {
    assert.ok(e instanceof ClientError);
    assert.equal(e.code, ResponseCode.MESSAGE_ILLEGAL);
    assert.equal(e.retriable, false);
    assert.match(e.remark ?? '', /over max value/);
    assert.match(e.message, /MESSAGE_ILLEGAL\(13\)/);
    return true;
  });
  assert.equal(attempts, 1);
});

test('retriable failures everywhere: every attempt used, then the last error is thrown', TEST_TIMEOUT, async (t) => {
  const { brokers, producer } = await setup(t, ['broker-a'], 1);
  let attempts = 0;
  brokers[0]!.hooks.set(RequestCode.SEND_MESSAGE_V2, (r) => {
    attempts += 1;
    return createResponse(r, ResponseCode.SERVICE_NOT_AVAILABLE, 'broker is shutting down');
  });
  const p = await producer({ retryTimesWhenSendFailed: 3 });
  await assert.rejects(p.send({ topic: TOPIC, body: 'x' }), (e: unknown) => e instanceof ClientError && e.code === ResponseCode.SERVICE_NOT_AVAILABLE && e.retriable && /4 attempt/.test(e.message));
  assert.equal(attempts, 4);
});

test('invalid messages are refused before anything is sent', TEST_TIMEOUT, async (t) => {
  const { brokers, producer } = await setup(t, ['broker-a'], 1);
  const p = await producer({ maxMessageBytes: 1024 });
  const illegal = (e: unknown): boolean => e instanceof ClientError && e.code === ClientErrorCode.ILLEGAL_ARGUMENT && !e.retriable;
  await assert.rejects(p.send({ topic: TOPIC, body: '' }), illegal);
  await assert.rejects(p.send({ topic: TOPIC, body: Buffer.alloc(1025) }), illegal);
  await assert.rejects(p.send({ topic: 'bad topic!', body: 'x' }), illegal);
  await assert.rejects(p.send({ topic: 'TBW102', body: 'x' }), illegal);
  await assert.rejects(p.send({ topic: TOPIC, body: 'x', properties: { UNIQ_KEY: 'mine' } }), illegal);
  await assert.rejects(p.send({ topic: TOPIC, body: 'x', delayLevel: -1 }), illegal);
  await assert.rejects(p.sendBatch([{ topic: TOPIC, body: 'a' }, { topic: 'Other', body: 'b' }]), illegal);
  assert.equal(brokers[0]!.sends.length, 0);
});

test('maxOutstandingSends bounds the sends in flight; the others wait for a slot', TEST_TIMEOUT, async (t) => {
  const { brokers, producer } = await setup(t, ['broker-a'], 2);
  let inBroker = 0;
  let peak = 0;
  brokers[0]!.hooks.set(RequestCode.SEND_MESSAGE_V2, async () => {
    inBroker += 1;
    peak = Math.max(peak, inBroker);
    await sleep(30);
    inBroker -= 1;
    return 'default' as const;
  });
  // one request per send, so the broker sees exactly what is in flight
  const p = await producer({ maxOutstandingSends: 3, autoBatch: false });
  const all = Array.from({ length: 12 }, (_, i) => p.send({ topic: TOPIC, body: `m${i}` }));
  await sleep(10);
  assert.ok(p.inFlight <= 3);
  const results = await Promise.all(all);
  assert.equal(results.length, 12);
  assert.ok(peak <= 3, `peak ${peak}`);
  assert.ok(peak >= 2, `sends did overlap (peak ${peak})`);
});

test('sendOneway writes with the oneway bit and resolves without a response', TEST_TIMEOUT, async (t) => {
  const { brokers, producer } = await setup(t, ['broker-a'], 1);
  const flags: number[] = [];
  brokers[0]!.hooks.set(RequestCode.SEND_MESSAGE_V2, (r) => {
    flags.push(r.flag);
    return 'default';
  });
  const p = await producer();
  await p.sendOneway({ topic: TOPIC, body: 'fire and forget', tags: 'T1' });
  await eventually(() => brokers[0]!.sends.length === 1, 2000, 'oneway send');
  assert.equal(flags[0]! & RemotingFlag.ONEWAY, RemotingFlag.ONEWAY);
  assert.equal(brokers[0]!.sends[0]!.properties[Prop.TAGS], 'T1');
});

test('sendBatch: SEND_BATCH_MESSAGE with the section 4.7 body, decoded by the broker', TEST_TIMEOUT, async (t) => {
  const { brokers, producer } = await setup(t, ['broker-a'], 1);
  const p = await producer();
  const result = await p.sendBatch([
    { topic: TOPIC, body: 'one', tags: 'A', keys: 'k1' },
    { topic: TOPIC, body: Buffer.from('two'), flag: 3 },
    { topic: TOPIC, body: 'three', properties: { p: 'v' } },
  ]);
  const sent = brokers[0]!.sends[0]!;
  assert.equal(sent.code, RequestCode.SEND_BATCH_MESSAGE);
  assert.equal(sent.batch, true);
  assert.equal(sent.properties[Prop.WAIT_STORE_MSG_OK], 'true');
  const ids = result.msgId.split(',');
  assert.equal(ids.length, 3);
  assert.equal(result.offsetMsgId.split(',').length, 3);
  assert.equal(result.queueOffset, 0);
  assert.equal(brokers[0]!.maxOffset(TOPIC, 0), 3);
  const items = decodeBatchBody(sent.body);
  assert.deepEqual(items.map((i) => i.body.toString()), ['one', 'two', 'three']);
  assert.deepEqual(items.map((i) => i.flag), [0, 3, 0]);
  assert.deepEqual(items.map((i) => i.properties[Prop.UNIQ_KEY]), ids);
  assert.equal(items[0]!.properties[Prop.TAGS], 'A');
  assert.equal(items[0]!.properties[Prop.KEYS], 'k1');
  assert.equal(items[2]!.properties['p'], 'v');
});

test('bodies at or over compressBodyOverBytes are zlib-compressed with the COMPRESSED flag', TEST_TIMEOUT, async (t) => {
  const { brokers, producer } = await setup(t, ['broker-a'], 1);
  const p = await producer({ compressBodyOverBytes: 1024 });
  const big = Buffer.from('ledgermq '.repeat(1000));
  await p.send({ topic: TOPIC, body: big });
  await p.send({ topic: TOPIC, body: 'small' });
  const [first, second] = brokers[0]!.sends as [(typeof brokers)[0]['sends'][0], (typeof brokers)[0]['sends'][0]];
  assert.equal(first.sysFlag & SysFlag.COMPRESSED, SysFlag.COMPRESSED);
  assert.ok(first.body.length < big.length);
  assert.deepEqual(inflateSync(first.body), big);
  assert.equal(second.sysFlag & SysFlag.COMPRESSED, 0);
});

test('selector sends go to the chosen queue and retry only on that queue', TEST_TIMEOUT, async (t) => {
  const { brokers, producer } = await setup(t, ['broker-a', 'broker-b'], 4);
  const [a, b] = brokers as [FakeBroker, FakeBroker];
  let failures = 1;
  const attemptQueues: number[] = [];
  b.hooks.set(RequestCode.SEND_MESSAGE_V2, (r) => {
    attemptQueues.push(Number(r.extFields?.['e']));
    return failures-- > 0 ? busy(r) : 'default';
  });
  const p = await producer();
  const selector = (queues: { brokerName: string; queueId: number }[], _msg: unknown, arg: unknown) => queues[(arg as number) % queues.length]!;
  const r = await p.send({ topic: TOPIC, body: 'ordered' }, { selector: selector as never, arg: 6 });
  assert.deepEqual(r.queue, { topic: TOPIC, brokerName: 'broker-b', queueId: 2 });
  assert.equal(a.sends.length, 0, 'never moved to another group');
  assert.deepEqual(attemptQueues, [2, 2], 'the busy answer, then the retry on the same queue');
  const fixed = await p.send({ topic: TOPIC, body: 'pinned' }, { queue: { topic: TOPIC, brokerName: 'broker-a', queueId: 3 } });
  assert.deepEqual(fixed.queue, { topic: TOPIC, brokerName: 'broker-a', queueId: 3 });
});

test('a not-leader answer naming the leader redirects the retry to it', TEST_TIMEOUT, async (t) => {
  const cleanup = cleanupStack(t);
  const ns = await FakeNameServer.start(cleanup);
  const oldLeader = await FakeBroker.start('broker-a', cleanup);
  const newLeader = await FakeBroker.start('broker-a', cleanup);
  ns.routes.set(TOPIC, routeJson({ brokers: [{ name: 'broker-a', addrs: { '0': oldLeader.address, '1': newLeader.address } }], queues: [{ name: 'broker-a', read: 1, write: 1 }] }));
  oldLeader.hooks.set(RequestCode.SEND_MESSAGE_V2, (r) => createResponse(r, ResponseCode.SERVICE_NOT_AVAILABLE, `not leader, leader is ${newLeader.address}`));
  const p = new Producer({ namesrv: ns.address, group: 'PG', logger: recordingLogger(), retryBackoffMs: 1 });
  cleanup(() => p.shutdown());
  await p.start();
  const r = await p.send({ topic: TOPIC, body: 'after failover' });
  assert.equal(r.status, 'SEND_OK');
  assert.equal(newLeader.sends.length, 1);
});

test('topics without a route borrow the TBW102 route so the broker can auto-create them', TEST_TIMEOUT, async (t) => {
  const { ns, brokers, producer } = await setup(t, ['broker-a'], 8);
  ns.routes.set('TBW102', routeJson({ brokers: [{ name: 'broker-a', addrs: { '0': brokers[0]!.address } }], queues: [{ name: 'broker-a', read: 8, write: 8, perm: 7 }] }));
  const p = await producer();
  const r = await p.send({ topic: 'BrandNew', body: 'x' });
  assert.equal(r.status, 'SEND_OK');
  const sent = brokers[0]!.sends[0]!;
  assert.equal(sent.topic, 'BrandNew');
  assert.equal(sent.ext['c'], 'TBW102');
  assert.ok(sent.queueId < 4, 'at most defaultTopicQueueNums queues');
  ns.routes.delete('TBW102');
  await assert.rejects(p.send({ topic: 'Nowhere', body: 'x' }), (e: unknown) => e instanceof ClientError && e.code === ClientErrorCode.NO_ROUTE);
});

test('a dead name server is skipped for the next one in the list', TEST_TIMEOUT, async (t) => {
  const cleanup = cleanupStack(t);
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, LOOPBACK, resolve));
  const dead = `${LOOPBACK}:${(probe.address() as net.AddressInfo).port}`;
  await new Promise((resolve) => probe.close(resolve));
  const ns = await FakeNameServer.start(cleanup);
  const broker = await FakeBroker.start('broker-a', cleanup);
  ns.routes.set(TOPIC, simpleRoute([broker], 1));
  const p = new Producer({ namesrv: `${dead};${ns.address}`, group: 'PG', logger: recordingLogger() });
  cleanup(() => p.shutdown());
  await p.start();
  assert.equal((await p.send({ topic: TOPIC, body: 'x' })).status, 'SEND_OK');
});

test('auto-batching: concurrent plain sends of a topic go out as batch requests; each caller gets its own result', TEST_TIMEOUT, async (t) => {
  const { brokers, producer } = await setup(t, ['broker-a'], 2);
  const p = await producer({ autoBatchMaxMessages: 16 });
  const results = await Promise.all(Array.from({ length: 50 }, (_, i) => p.send({ topic: TOPIC, body: `m${i}`, keys: `k${i}` })));
  const broker = brokers[0]!;
  const batches = broker.sends.filter((s) => s.code === RequestCode.SEND_BATCH_MESSAGE);
  assert.ok(batches.length >= 1, 'some sends were gathered into batch requests');
  assert.ok(broker.sends.length < 50, `50 sends took ${broker.sends.length} requests`);
  for (const b of batches) assert.ok(decodeBatchBody(b.body).length <= 16, 'batch size bound');
  assert.equal(new Set(results.map((r) => r.msgId)).size, 50, 'distinct UNIQ_KEYs');
  assert.equal(new Set(results.map((r) => r.offsetMsgId)).size, 50, 'distinct offset ids');
  const perQueue = new Map<number, number[]>();
  for (const r of results) perQueue.set(r.queue.queueId, [...(perQueue.get(r.queue.queueId) ?? []), r.queueOffset]);
  for (const offsets of perQueue.values()) assert.equal(new Set(offsets).size, offsets.length, 'queue offsets are distinct within a queue');
  // a send with a target queue, a delay level or a selector goes alone
  const before = broker.sends.length;
  await Promise.all([p.send({ topic: TOPIC, body: 'delayed', delayLevel: 2 }), p.send({ topic: TOPIC, body: 'pinned' }, { queue: results[0]!.queue })]);
  assert.equal(broker.sends.length - before, 2);
  assert.ok(broker.sends.slice(before).every((s) => s.code === RequestCode.SEND_MESSAGE_V2));
});
