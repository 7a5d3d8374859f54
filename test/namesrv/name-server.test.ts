// The name server over real sockets: RemotingClients play brokers and clients.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bodyCrc } from '../../common/crc.js';
import { NamesrvRequestCode } from '../../namesrv/index.js';
import { createRequest, RequestCode, ResponseCode, SerializeType } from '../../remoting/index.js';
import {
  bodyJson,
  bodyText,
  eventually,
  getRoute,
  mustRegister,
  rawPeer,
  register,
  registerBody,
  SOCKET_TEST,
  startClient,
  startTestNameServer,
} from './helpers.js';

const A = '127.0.0.1:10911';
const B = '127.0.0.1:10921';
const C = '127.0.0.1:10931';

test('a registered master serves routes in standard JSON, cluster info and the topic list', SOCKET_TEST, async (t) => {
  const ns = await startTestNameServer(t);
  const broker = startClient(t);
  const response = await mustRegister(broker, ns.address, {
    brokerName: 'broker-a',
    brokerAddr: A,
    brokerId: 0,
    topics: { TopicA: { readQueueNums: 4, writeQueueNums: 4 }, TBW102: { readQueueNums: 8, writeQueueNums: 8, perm: 7 } },
  });
  assert.equal(response.extFields?.masterAddr, A);
  assert.equal(response.extFields?.haServerAddr, '127.0.0.1:10912');

  const client = startClient(t);
  const route = await getRoute(client, ns.address, 'TopicA');
  assert.equal(route.code, ResponseCode.SUCCESS);
  assert.equal(
    bodyText(route),
    '{"brokerDatas":[{"brokerAddrs":{"0":"127.0.0.1:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],' +
      '"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}],"orderTopicConf":null}',
  );
  const tbw = bodyJson(await getRoute(client, ns.address, 'TBW102'));
  assert.deepEqual(tbw.queueDatas, [{ brokerName: 'broker-a', perm: 7, readQueueNums: 8, topicSysFlag: 0, writeQueueNums: 8 }]);

  const cluster = await client.invoke(ns.address, createRequest(RequestCode.GET_BROKER_CLUSTER_INFO), 3000);
  assert.equal(cluster.code, ResponseCode.SUCCESS);
  assert.deepEqual(bodyJson(cluster), {
    brokerAddrTable: { 'broker-a': { brokerAddrs: { '0': A }, brokerName: 'broker-a', cluster: 'DefaultCluster', enableActingMaster: false } },
    clusterAddrTable: { DefaultCluster: ['broker-a'] },
  });
  const list = await client.invoke(ns.address, createRequest(RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER), 3000);
  assert.deepEqual(bodyJson(list), { topicList: ['TBW102', 'TopicA'] });

  const missing = await getRoute(client, ns.address, 'NoSuchTopic');
  assert.equal(missing.code, ResponseCode.TOPIC_NOT_EXIST);
  assert.equal(missing.remark, 'No topic route info in name server for the topic: NoSuchTopic');
  assert.match(ns.logger.infos.join('\n'), /broker registered as master: broker-a id 0 at 127\.0\.0\.1:10911/);
});

test('failover: the new leader takes id 0, the old one re-registers as a follower, no stale mapping', SOCKET_TEST, async (t) => {
  const ns = await startTestNameServer(t);
  const nodeA = startClient(t);
  const nodeB = startClient(t);
  const client = startClient(t);
  const topics = { TopicF: { readQueueNums: 2, writeQueueNums: 2 } };
  await mustRegister(nodeA, ns.address, { brokerName: 'broker-a', brokerAddr: A, brokerId: 0, topics });
  const followerAnswer = await mustRegister(nodeB, ns.address, { brokerName: 'broker-a', brokerAddr: B, brokerId: 1, topics });
  assert.equal(followerAnswer.extFields?.masterAddr, A, 'a follower learns the master address');
  assert.deepEqual(bodyJson(await getRoute(client, ns.address, 'TopicF')).brokerDatas[0].brokerAddrs, { '0': A, '1': B });

  // Leader change: B registers as 0 at once, A (now a follower) as 2.
  const leaderAnswer = await mustRegister(nodeB, ns.address, { brokerName: 'broker-a', brokerAddr: B, brokerId: 0, topics });
  assert.equal(leaderAnswer.extFields?.masterAddr, B);
  assert.deepEqual(bodyJson(await getRoute(client, ns.address, 'TopicF')).brokerDatas[0].brokerAddrs, { '0': B });
  await mustRegister(nodeA, ns.address, { brokerName: 'broker-a', brokerAddr: A, brokerId: 2, topics });

  const route = bodyJson(await getRoute(client, ns.address, 'TopicF'));
  assert.deepEqual(route.brokerDatas[0].brokerAddrs, { '0': B, '2': A });
  assert.deepEqual(route.queueDatas, [{ brokerName: 'broker-a', perm: 6, readQueueNums: 2, topicSysFlag: 0, writeQueueNums: 2 }]);
  ns.routeInfo.checkInvariants();
  const log = ns.logger.infos.join('\n');
  assert.match(log, /changed role to master \(id 1 -> 0\): broker-a id 0 at 127\.0\.0\.1:10921.*replacing 127\.0\.0\.1:10911/);
  assert.match(log, /changed role to follower \(id 0 -> 2\): broker-a id 2 at 127\.0\.0\.1:10911/);

  // The old leader's connection closing now removes only its follower entry.
  await nodeA.close();
  await eventually(() => ns.routeInfo.liveBroker(A) === undefined, 3000, 'A dropped');
  assert.deepEqual(bodyJson(await getRoute(client, ns.address, 'TopicF')).brokerDatas[0].brokerAddrs, { '0': B });
});

test('a closed registering connection drops the broker; its topics leave routes, followers stay listed', SOCKET_TEST, async (t) => {
  const ns = await startTestNameServer(t);
  const masterA = startClient(t);
  const followerA = startClient(t);
  const masterB = startClient(t);
  const client = startClient(t);
  await mustRegister(masterA, ns.address, { brokerName: 'broker-a', brokerAddr: A, brokerId: 0, topics: { Shared: {}, OnlyA: {} } });
  await mustRegister(followerA, ns.address, { brokerName: 'broker-a', brokerAddr: B, brokerId: 1, topics: { Shared: {}, OnlyA: {} } });
  await mustRegister(masterB, ns.address, { brokerName: 'broker-b', brokerAddr: C, brokerId: 0, topics: { Shared: {} } });
  assert.equal(bodyJson(await getRoute(client, ns.address, 'Shared')).queueDatas.length, 2);

  await masterA.close();
  await eventually(() => ns.routeInfo.liveBroker(A) === undefined, 3000, 'broker-a master dropped');
  const only = await getRoute(client, ns.address, 'OnlyA');
  assert.equal(only.code, ResponseCode.TOPIC_NOT_EXIST);
  const shared = bodyJson(await getRoute(client, ns.address, 'Shared'));
  assert.deepEqual(shared.queueDatas.map((q: { brokerName: string }) => q.brokerName), ['broker-b']);
  assert.deepEqual(shared.brokerDatas.map((b: { brokerName: string }) => b.brokerName), ['broker-b']);
  const cluster = bodyJson(await client.invoke(ns.address, createRequest(RequestCode.GET_BROKER_CLUSTER_INFO), 3000));
  assert.deepEqual(cluster.brokerAddrTable['broker-a'].brokerAddrs, { '1': B }, 'the follower stays listed');
  assert.match(ns.logger.infos.join('\n'), /broker dropped \(connection_closed\): broker-a id 0 at 127\.0\.0\.1:10911.*2 topics of broker-a leave routes/);

  // A new master brings the topics back even with the same data version.
  await mustRegister(followerA, ns.address, { brokerName: 'broker-a', brokerAddr: B, brokerId: 0, topics: { Shared: {}, OnlyA: {} } });
  assert.equal((await getRoute(client, ns.address, 'OnlyA')).code, ResponseCode.SUCCESS);
  ns.routeInfo.checkInvariants();
});

test('a broker that stops registering expires after brokerExpiredMs', SOCKET_TEST, async (t) => {
  const ns = await startTestNameServer(t, { brokerExpiredMs: 200, scanIntervalMs: 20 });
  const broker = startClient(t);
  const client = startClient(t);
  await mustRegister(broker, ns.address, { brokerName: 'broker-a', brokerAddr: A, brokerId: 0, topics: { TopicE: {} } });
  assert.equal((await getRoute(client, ns.address, 'TopicE')).code, ResponseCode.SUCCESS);
  await eventually(async () => (await getRoute(client, ns.address, 'TopicE')).code === ResponseCode.TOPIC_NOT_EXIST, 3000, 'expiry');
  assert.equal(ns.routeInfo.liveBroker(A), undefined);
  assert.match(ns.logger.infos.join('\n'), /broker dropped \(expired\): broker-a id 0/);
});

test('UNREGISTER_BROKER removes the address and, with the last one, the broker name', SOCKET_TEST, async (t) => {
  const ns = await startTestNameServer(t);
  const broker = startClient(t);
  await mustRegister(broker, ns.address, { brokerName: 'broker-a', brokerAddr: A, brokerId: 0, topics: { TopicU: {} } });
  const unregister = createRequest(RequestCode.UNREGISTER_BROKER, { brokerName: 'broker-a', brokerAddr: A, clusterName: 'DefaultCluster', brokerId: '0' });
  assert.equal((await broker.invoke(ns.address, unregister, 3000)).code, ResponseCode.SUCCESS);
  assert.equal((await getRoute(broker, ns.address, 'TopicU')).code, ResponseCode.TOPIC_NOT_EXIST);
  const cluster = bodyJson(await broker.invoke(ns.address, createRequest(RequestCode.GET_BROKER_CLUSTER_INFO), 3000));
  assert.deepEqual(cluster, { brokerAddrTable: {}, clusterAddrTable: {} });
});

test('the master\'s topic table drives routes: removed topics go, an unchanged data version skips the update', SOCKET_TEST, async (t) => {
  const ns = await startTestNameServer(t);
  const broker = startClient(t);
  const spec = { brokerName: 'broker-a', brokerAddr: A, brokerId: 0 };
  await mustRegister(broker, ns.address, { ...spec, topics: { Keep: {}, Drop: {} }, dataVersion: { timestamp: 100, counter: 1 } });
  await mustRegister(broker, ns.address, { ...spec, topics: { Keep: { writeQueueNums: 2 } }, dataVersion: { timestamp: 100, counter: 2 } });
  assert.equal((await getRoute(broker, ns.address, 'Drop')).code, ResponseCode.TOPIC_NOT_EXIST);
  assert.equal(bodyJson(await getRoute(broker, ns.address, 'Keep')).queueDatas[0].writeQueueNums, 2);

  // Same version, different table: the name server trusts the version and keeps what it has.
  await mustRegister(broker, ns.address, { ...spec, topics: { Keep: { writeQueueNums: 9 }, Other: {} }, dataVersion: { timestamp: 100, counter: 2 } });
  assert.equal(bodyJson(await getRoute(broker, ns.address, 'Keep')).queueDatas[0].writeQueueNums, 2);
  assert.equal((await getRoute(broker, ns.address, 'Other')).code, ResponseCode.TOPIC_NOT_EXIST);
  // A follower's table never changes routes.
  await mustRegister(startClient(t), ns.address, { brokerName: 'broker-a', brokerAddr: B, brokerId: 1, topics: { FromFollower: {} }, dataVersion: { timestamp: 5, counter: 5 } });
  assert.equal((await getRoute(broker, ns.address, 'FromFollower')).code, ResponseCode.TOPIC_NOT_EXIST);
});

test('JSON headers with numeric and boolean extFields (ali-ons style) are accepted and answered in JSON', SOCKET_TEST, async (t) => {
  const ns = await startTestNameServer(t);
  const peer = await rawPeer(t, ns.port);
  const body = registerBody({ TopicJ: { readQueueNums: 3, writeQueueNums: 3 } }, { timestamp: 1700000000000, counter: 12 });
  const registerHeader = {
    code: RequestCode.REGISTER_BROKER,
    extFields: { brokerName: 'broker-j', brokerAddr: A, clusterName: 'DefaultCluster', haServerAddr: '127.0.0.1:10912', brokerId: 0, heartbeatTimeoutMillis: 30000, compressed: false, bodyCrc32: bodyCrc(body) },
    flag: 0,
    language: 'JAVA',
    opaque: 7,
    version: 121,
  };
  peer.send(JSON.stringify(registerHeader), body);
  const registered = await peer.next();
  assert.equal(registered.code, ResponseCode.SUCCESS, registered.remark ?? '');
  assert.equal(registered.opaque, 7);
  assert.equal(registered.serializeType, SerializeType.JSON);

  peer.send(JSON.stringify({ code: RequestCode.GET_ROUTEINFO_BY_TOPIC, extFields: { topic: 'TopicJ' }, flag: 0, language: 'NODE_JS', opaque: 8, version: 121 }));
  const route = await peer.next();
  assert.equal(route.code, ResponseCode.SUCCESS);
  assert.equal(route.serializeType, SerializeType.JSON);
  assert.deepEqual(bodyJson(route).brokerDatas[0].brokerAddrs, { '0': A });
  assert.equal(bodyJson(route).queueDatas[0].readQueueNums, 3);
});

test('KV config: put, get, list, delete; missing entries answer QUERY_NOT_FOUND', SOCKET_TEST, async (t) => {
  const ns = await startTestNameServer(t);
  const client = startClient(t);
  const call = (code: number, ext: Record<string, string>) => client.invoke(ns.address, createRequest(code, ext), 3000);

  const missing = await call(RequestCode.GET_KV_CONFIG, { namespace: 'ORDER_TOPIC_CONFIG', key: 'TopicO' });
  assert.equal(missing.code, ResponseCode.QUERY_NOT_FOUND);
  assert.equal(missing.remark, 'No config item, Namespace: ORDER_TOPIC_CONFIG Key: TopicO');
  const emptyList = await call(NamesrvRequestCode.GET_KVLIST_BY_NAMESPACE, { namespace: 'ORDER_TOPIC_CONFIG' });
  assert.equal(emptyList.code, ResponseCode.QUERY_NOT_FOUND);
  assert.equal(emptyList.remark, 'No config item, Namespace: ORDER_TOPIC_CONFIG');

  assert.equal((await call(RequestCode.PUT_KV_CONFIG, { namespace: 'ORDER_TOPIC_CONFIG', key: 'TopicO', value: 'broker-a:4' })).code, ResponseCode.SUCCESS);
  assert.equal((await call(RequestCode.PUT_KV_CONFIG, { namespace: 'ORDER_TOPIC_CONFIG', key: 'TopicP', value: '' })).code, ResponseCode.SUCCESS);
  const found = await call(RequestCode.GET_KV_CONFIG, { namespace: 'ORDER_TOPIC_CONFIG', key: 'TopicO' });
  assert.equal(found.code, ResponseCode.SUCCESS);
  assert.equal(found.extFields?.value, 'broker-a:4');
  const list = await call(NamesrvRequestCode.GET_KVLIST_BY_NAMESPACE, { namespace: 'ORDER_TOPIC_CONFIG' });
  assert.deepEqual(bodyJson(list), { table: { TopicO: 'broker-a:4', TopicP: '' } });

  // Brokers get the order-topic table back when they register.
  const registered = await mustRegister(client, ns.address, { brokerName: 'broker-a', brokerAddr: A, brokerId: 0 });
  assert.deepEqual(bodyJson(registered), { table: { TopicO: 'broker-a:4', TopicP: '' } });

  assert.equal((await call(RequestCode.DELETE_KV_CONFIG, { namespace: 'ORDER_TOPIC_CONFIG', key: 'TopicO' })).code, ResponseCode.SUCCESS);
  assert.equal((await call(RequestCode.GET_KV_CONFIG, { namespace: 'ORDER_TOPIC_CONFIG', key: 'TopicO' })).code, ResponseCode.QUERY_NOT_FOUND);
  assert.equal((await call(RequestCode.PUT_KV_CONFIG, { namespace: 'NS', key: 'k' })).remark, 'PUT_KV_CONFIG(100): header field value is required');
});

test('bad input gets a clear SYSTEM_ERROR and the server keeps serving', SOCKET_TEST, async (t) => {
  const ns = await startTestNameServer(t);
  const bad = startClient(t);
  const base = { brokerName: 'broker-a', brokerAddr: A, brokerId: 0, topics: { TopicB: {} } };
  const cases: Array<[string, Parameters<typeof register>[2], RegExp]> = [
    ['missing brokerName', { ...base, omit: ['brokerName'] }, /REGISTER_BROKER\(103\): header field brokerName is required/],
    ['empty clusterName', { ...base, ext: { clusterName: '' } }, /header field clusterName is required/],
    ['body not JSON', { ...base, body: Buffer.from('{"topicConfigSerializeWrapper":'), ext: { bodyCrc32: '0' } }, /register body is not JSON/],
    ['CRC mismatch', { ...base, ext: { bodyCrc32: '12345' } }, /body CRC32 mismatch: header bodyCrc32 is 12345/],
    ['compressed', { ...base, ext: { compressed: 'true' } }, /compressed registration bodies are not supported/],
    ['bad brokerId', { ...base, ext: { brokerId: 'zero' } }, /header field brokerId must be an integer, got "zero"/],
    ['negative brokerId', { ...base, brokerId: -1 }, /brokerId must be 0 \(master\) or positive/],
    ['bad address', { ...base, brokerAddr: 'nowhere' }, /header field brokerAddr must be host:port/],
    [
      'wrong types in the body',
      { ...base, body: Buffer.from('{"topicConfigSerializeWrapper":{"topicConfigTable":{"T":{"readQueueNums":"many","writeQueueNums":1,"perm":6}},"dataVersion":{"timestamp":1,"counter":1}}}'), ext: { bodyCrc32: '0' } },
      /topicConfigTable\["T"\]\.readQueueNums must be an integer/,
    ],
    [
      'missing dataVersion',
      { ...base, body: Buffer.from('{"topicConfigSerializeWrapper":{"topicConfigTable":{}}}'), ext: { bodyCrc32: '0' } },
      /topicConfigSerializeWrapper\.dataVersion is missing/,
    ],
  ];
  for (const [what, spec, remark] of cases) {
    const response = await register(bad, ns.address, spec);
    assert.equal(response.code, ResponseCode.SYSTEM_ERROR, what);
    assert.match(response.remark ?? '', remark, what);
  }
  const noTopic = await bad.invoke(ns.address, createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC, {}), 3000);
  assert.equal(noTopic.remark, 'GET_ROUTEINFO_BY_TOPIC(105): header field topic is required');
  assert.equal(ns.routeInfo.stats().brokerNames, 0, 'refused registrations leave no trace');

  const good = startClient(t);
  await mustRegister(good, ns.address, base);
  assert.equal((await getRoute(good, ns.address, 'TopicB')).code, ResponseCode.SUCCESS);
  assert.equal((await getRoute(bad, ns.address, 'TopicB')).code, ResponseCode.SUCCESS, 'the misbehaving client is still served');
});

test('the metrics endpoint serves the name-server metrics', SOCKET_TEST, async (t) => {
  const ns = await startTestNameServer(t, { metricsPort: 0, defaultMetrics: true });
  assert.notEqual(ns.metricsPort, null);
  const broker = startClient(t);
  await mustRegister(broker, ns.address, { brokerName: 'broker-a', brokerAddr: A, brokerId: 0, topics: { TopicM: {} } });
  await getRoute(broker, ns.address, 'TopicM');
  await getRoute(broker, ns.address, 'Nope');

  const response = await fetch(`http://127.0.0.1:${ns.metricsPort}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
  const text = await response.text();
  assert.match(text, /ledgermq_namesrv_live_brokers\{cluster="DefaultCluster"\} 1/);
  assert.match(text, /ledgermq_namesrv_broker_names 1/);
  assert.match(text, /ledgermq_namesrv_topics 1/);
  assert.match(text, /ledgermq_namesrv_route_requests_total\{result="found"\} 1/);
  assert.match(text, /ledgermq_namesrv_route_requests_total\{result="not_found"\} 1/);
  assert.match(text, /ledgermq_namesrv_registrations_total 1/);
  assert.match(text, /ledgermq_namesrv_brokers_dropped_total\{reason="connection_closed"\} 0/);
  assert.match(text, /process_cpu_user_seconds_total/);
  const other = await fetch(`http://127.0.0.1:${ns.metricsPort}/other`);
  assert.equal(other.status, 404);
  await other.text();
});
