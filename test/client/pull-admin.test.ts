// PullConsumer and Admin against the fakes.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { Admin, ClientError, PullConsumer } from '../../client/index.js';
import { ResponseCode } from '../../remoting/index.js';
import { cleanupStack, FakeBroker, FakeNameServer, recordingLogger, simpleRoute, TEST_TIMEOUT } from './fakes.js';

const TOPIC = 'TopicA';

async function setup(t: TestContext) {
  const cleanup = cleanupStack(t);
  const ns = await FakeNameServer.start(cleanup);
  const a = await FakeBroker.start('broker-a', cleanup);
  const b = await FakeBroker.start('broker-b', cleanup);
  ns.routes.set(TOPIC, simpleRoute([a, b], 2));
  ns.clusterInfo = JSON.stringify({
    brokerAddrTable: {
      'broker-a': { brokerName: 'broker-a', cluster: 'C', brokerAddrs: { 0: a.address } },
      'broker-b': { brokerName: 'broker-b', cluster: 'C', brokerAddrs: { 0: b.address, 1: '127.0.0.1:1' } },
    },
    clusterAddrTable: { C: ['broker-a', 'broker-b'] },
  });
  return { cleanup, ns, a, b, logger: recordingLogger() };
}

test('pull consumer: queues, pulls with statuses and tag re-check, offsets', TEST_TIMEOUT, async (t) => {
  const { cleanup, ns, a } = await setup(t);
  for (let i = 0; i < 5; i++) a.append(TOPIC, 1, `m${i}`, { TAGS: i === 3 ? 'BB' : 'Aa' });
  const c = new PullConsumer({ namesrv: ns.address, group: 'PCG', logger: recordingLogger() });
  cleanup(() => c.shutdown());
  await c.start();
  const queues = await c.fetchQueues(TOPIC);
  assert.deepEqual(queues.map((q) => `${q.brokerName}/${q.queueId}`), ['broker-a/0', 'broker-a/1', 'broker-b/0', 'broker-b/1']);
  const q1 = queues[1]!;
  const found = await c.pull(q1, 0, 32, { expression: 'Aa' });
  assert.equal(found.status, 'FOUND');
  assert.deepEqual(found.messages.map((m) => m.queueOffset), [0, 1, 2, 4], '"BB" collides with "Aa" by hash and is dropped client-side');
  assert.equal(found.nextBeginOffset, 5);
  assert.equal(found.maxOffset, 5);
  const pull = a.pulls.at(-1)!;
  assert.equal(Number(pull['sysFlag']) & 2, 0, 'no SUSPEND without suspendTimeoutMs');
  assert.equal((await c.pull(q1, 5, 32)).status, 'NO_NEW_MSG');
  const moved = await c.pull(q1, 9, 32);
  assert.equal(moved.status, 'OFFSET_ILLEGAL');
  assert.equal(moved.nextBeginOffset, 5);
  const started = Date.now();
  setTimeout(() => a.append(TOPIC, 1, 'late'), 50);
  const held = await c.pull(q1, 5, 32, { suspendTimeoutMs: 2000 });
  assert.equal(held.status, 'FOUND');
  assert.ok(Date.now() - started < 1500);
  assert.equal(Number(a.pulls.at(-1)!['sysFlag']) & 2, 2);

  assert.equal(await c.committedOffset(q1), -1);
  await c.commit(q1, 4);
  assert.equal(await c.committedOffset(q1), 4);
  assert.equal(a.committed('PCG', TOPIC, 1), 4);
  a.setMinOffset(TOPIC, 1, 1);
  assert.equal(await c.minOffset(q1), 1);
  assert.equal(await c.maxOffset(q1), 6);
  assert.equal(await c.searchOffset(q1, 0), 0);
  await assert.rejects(c.pull(q1, -1, 1), /offset/);
  const heartbeat = a.heartbeats.find((h) => h.consumerDataSet.some((d) => d['groupName'] === 'PCG'));
  assert.ok(heartbeat, 'the pull consumer heartbeats its group');
  assert.equal(heartbeat.consumerDataSet[0]!['consumeType'], 'CONSUME_ACTIVELY');
});

test('admin: create topic on every master, routes, cluster, topics, messages by id and key, consumers', TEST_TIMEOUT, async (t) => {
  const { cleanup, ns, a, b, logger } = await setup(t);
  const admin = new Admin({ namesrv: ns.address, logger });
  cleanup(() => admin.shutdown());
  await admin.start();

  await admin.createTopic('NewTopic', { queues: 4, order: true });
  for (const broker of [a, b]) {
    const req = broker.createTopics[0]!;
    assert.deepEqual(
      { topic: req['topic'], defaultTopic: req['defaultTopic'], readQueueNums: req['readQueueNums'], writeQueueNums: req['writeQueueNums'], perm: req['perm'], topicFilterType: req['topicFilterType'], order: req['order'] },
      { topic: 'NewTopic', defaultTopic: 'TBW102', readQueueNums: '4', writeQueueNums: '4', perm: '6', topicFilterType: 'SINGLE_TAG', order: 'true' },
    );
  }
  await admin.createTopic('Only', { brokerAddrs: [b.address] });
  assert.equal(a.createTopics.length, 1);
  assert.equal(b.createTopics.length, 2);

  const route = await admin.route(TOPIC);
  assert.equal(route.brokerDatas.length, 2);
  await assert.rejects(admin.route('Missing'), (e: unknown) => e instanceof ClientError && e.code === ResponseCode.TOPIC_NOT_EXIST);
  const info = await admin.clusterInfo();
  assert.deepEqual(info.clusterAddrTable['C'], ['broker-a', 'broker-b']);
  assert.equal(info.brokerAddrTable['broker-b']!.brokerAddrs['1'], '127.0.0.1:1');
  assert.deepEqual(await admin.topicList(), [TOPIC]);

  const stored = a.append(TOPIC, 0, 'findme', { KEYS: 'order-7 other', UNIQ_KEY: 'U7' });
  b.append(TOPIC, 1, 'and me', { KEYS: 'order-7' });
  b.append(TOPIC, 1, 'not me', { KEYS: 'order-77' });
  const { createOffsetMessageId } = await import('../../common/message-id.js');
  const viewed = await admin.viewMessage(createOffsetMessageId({ ip: 0x7f000001, port: a.server.port }, stored.physicalOffset));
  assert.equal(viewed.body.toString(), 'findme');
  assert.equal(viewed.msgId, 'U7');
  await assert.rejects(admin.viewMessage('nothex'), /offset message id/);
  const byKey = await admin.queryMessagesByKey(TOPIC, 'order-7');
  assert.deepEqual(byKey.map((m) => m.body.toString()).sort(), ['and me', 'findme']);

  a.consumerIdsOverride = ['10.0.0.1@1', '10.0.0.2@2'];
  assert.deepEqual(await admin.consumerList('CG', TOPIC), ['10.0.0.1@1', '10.0.0.2@2']);
  b.consumerIdsOverride = ['10.0.0.3@3'];
  assert.deepEqual(await admin.consumerList('CG'), ['10.0.0.1@1', '10.0.0.2@2', '10.0.0.3@3']);
  assert.equal(a.heartbeats.length + b.heartbeats.length, 0, 'admin clients do not heartbeat');
});
