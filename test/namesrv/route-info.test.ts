// The route table as a pure core: a fake clock, no sockets.
import fc from 'fast-check';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NamesrvRequestError, parseRegisterBrokerBody, RouteInfo, type BrokerRegistration, type TopicTable } from '../../namesrv/index.js';
import { BROKERS_MAX, TOPICS_PER_REGISTRATION_MAX } from '../../namesrv/limits.js';
import { registerBody } from './helpers.js';

function fakeClock(): { now: number; read: () => number } {
  const clock = { now: 0, read: () => clock.now };
  return clock;
}

function table(topics: readonly string[], counter = 1): TopicTable {
  return parseRegisterBrokerBody(registerBody(Object.fromEntries(topics.map((topic) => [topic, {}])), { timestamp: 1, counter }));
}

function registration(address: string, brokerId: number, overrides: Partial<BrokerRegistration> = {}): BrokerRegistration {
  return {
    cluster: 'C',
    brokerName: 'broker-a',
    brokerAddr: address,
    brokerId,
    haServerAddr: '',
    connectionId: 1,
    heartbeatTimeoutMs: null,
    topicTable: table(['T']),
    ...overrides,
  };
}

function addrs(routes: RouteInfo, topic: string): Array<readonly [number, string]> | null {
  return routes.topicRoute(topic)?.brokerDatas[0].brokerAddrs.slice() ?? null;
}

test('an address holds one id per broker name; a new id 0 replaces the previous master', () => {
  const routes = new RouteInfo({ clock: fakeClock().read });
  routes.registerBroker(registration('a:1', 0));
  routes.registerBroker(registration('b:1', 1));
  const takeover = routes.registerBroker(registration('b:1', 0));
  assert.equal(takeover.masterAddr, 'b:1');
  assert.deepEqual(takeover.events.map((e) => [e.kind, e.address]), [['role_changed', 'b:1']]);
  assert.deepEqual(addrs(routes, 'T'), [[0, 'b:1']]);
  routes.registerBroker(registration('a:1', 2));
  assert.deepEqual(addrs(routes, 'T'), [[0, 'b:1'], [2, 'a:1']]);
  routes.checkInvariants();
});

test('a master re-registering as a follower withdraws queue data until a master registers', () => {
  const routes = new RouteInfo({ clock: fakeClock().read });
  routes.registerBroker(registration('a:1', 0));
  routes.registerBroker(registration('b:1', 1));
  const stepDown = routes.registerBroker(registration('a:1', 2));
  assert.equal(stepDown.events[0].topicsWithdrawn, 1);
  assert.equal(routes.topicRoute('T'), null);
  assert.equal(stepDown.masterAddr, null);
  routes.checkInvariants();
  const result = routes.registerBroker(registration('b:1', 0));
  assert.equal(result.topicsUpdated, true);
  assert.deepEqual(addrs(routes, 'T'), [[0, 'b:1'], [2, 'a:1']]);
  routes.checkInvariants();
});

test('expiry honours the default and a broker\'s own heartbeat timeout; registrations and heartbeats refresh it', () => {
  const clock = fakeClock();
  const routes = new RouteInfo({ clock: clock.read, brokerExpiredMs: 1000 });
  routes.registerBroker(registration('a:1', 0));
  routes.registerBroker(registration('b:1', 1, { heartbeatTimeoutMs: 3000 }));
  clock.now = 900;
  assert.equal(routes.touchBroker('a:1', 'broker-a'), true);
  assert.equal(routes.touchBroker('a:1', 'broker-z'), false);
  clock.now = 1500;
  assert.deepEqual(routes.expireBrokers(), []);
  clock.now = 1901;
  assert.deepEqual(routes.expireBrokers().map((e) => [e.kind, e.address]), [['dropped', 'a:1']]);
  assert.equal(routes.topicRoute('T'), null);
  clock.now = 3001;
  assert.equal(routes.expireBrokers()[0].address, 'b:1');
  assert.deepEqual(routes.clusterInfo().brokers, []);
  routes.checkInvariants();
});

test('a connection closing drops only brokers whose latest registration used it', () => {
  const routes = new RouteInfo({ clock: fakeClock().read });
  routes.registerBroker(registration('a:1', 0, { connectionId: 7 }));
  routes.registerBroker(registration('a:1', 0, { connectionId: 8 }));
  assert.deepEqual(routes.dropConnection(7), []);
  assert.equal(routes.dropConnection(8).length, 1);
});

test('a broker name moves to the cluster of its latest registration; an address to its latest broker name', () => {
  const routes = new RouteInfo({ clock: fakeClock().read });
  routes.registerBroker(registration('a:1', 0));
  routes.registerBroker(registration('a:1', 0, { cluster: 'D' }));
  assert.deepEqual(Array.from(routes.clusterInfo().clusters), [['D', ['broker-a']]]);
  routes.registerBroker(registration('a:1', 0, { brokerName: 'broker-b', cluster: 'D' }));
  assert.deepEqual(routes.clusterInfo().brokers.map((b) => b.brokerName), ['broker-b']);
  assert.deepEqual(routes.topicRoute('T')?.queueDatas.map((q) => q.brokerName), ['broker-b']);
  routes.checkInvariants();
});

test('a registration refused by a limit changes nothing', () => {
  const routes = new RouteInfo({ clock: fakeClock().read });
  for (let i = 0; i < BROKERS_MAX; i += 1) routes.registerBroker(registration(`h:${i + 1}`, Math.floor(i / 500) + 1, { brokerName: `g${i % 500}`, topicTable: null }));
  const before = routes.stats();
  assert.throws(() => routes.registerBroker(registration('new:1', 0)), (error: unknown) => error instanceof NamesrvRequestError && /4096 brokers/.test(error.message));
  assert.deepEqual(routes.stats(), before);
  routes.checkInvariants();
});

test('register bodies: limits, topic names and the 4.x form without stateVersion', () => {
  const fourX = Buffer.from('{"topicConfigSerializeWrapper":{"topicConfigTable":{"A":{"readQueueNums":"2","writeQueueNums":2,"perm":6}},"dataVersion":{"timestamp":5,"counter":3}},"filterServerList":[]}');
  const parsed = parseRegisterBrokerBody(fourX);
  assert.deepEqual(parsed.dataVersion, { timestamp: 5, counter: 3, stateVersion: 0 });
  assert.deepEqual(parsed.topics.get('A'), { readQueueNums: 2, writeQueueNums: 2, perm: 6, topicSysFlag: 0 });
  const badName = registerBody({ 'bad topic': {} }, { timestamp: 1, counter: 1 });
  assert.throws(() => parseRegisterBrokerBody(badName), /topicConfigTable\["bad topic"\]: the topic name "bad topic" contains characters/);
  const many = Object.fromEntries(Array.from({ length: TOPICS_PER_REGISTRATION_MAX + 1 }, (_, i) => [`t${i}`, { readQueueNums: 1, writeQueueNums: 1, perm: 6 }]));
  const tooMany = Buffer.from(JSON.stringify({ topicConfigSerializeWrapper: { topicConfigTable: many, dataVersion: { timestamp: 1, counter: 1 } } }));
  assert.throws(() => parseRegisterBrokerBody(tooMany), /more than the 100000 accepted per registration/);
});

test('a topic named __proto__ is an ordinary key in routes', () => {
  const routes = new RouteInfo({ clock: fakeClock().read });
  const body = Buffer.from('{"topicConfigSerializeWrapper":{"topicConfigTable":{"__proto__":{"readQueueNums":1,"writeQueueNums":1,"perm":6}},"dataVersion":{"timestamp":1,"counter":1}}}');
  routes.registerBroker(registration('a:1', 0, { topicTable: parseRegisterBrokerBody(body) }));
  assert.deepEqual(routes.topicNames(), ['__proto__']);
  assert.equal(routes.topicRoute('__proto__')?.queueDatas[0].readQueueNums, 1);
});

// Random sequences of registrations, unregistrations, connection closes and expiry keep the table consistent.
const ADDRESSES = ['a:1', 'b:1', 'c:1', 'd:1'];
const operation = fc.oneof(
  fc.record({
    kind: fc.constant('register' as const),
    address: fc.constantFrom(...ADDRESSES),
    brokerName: fc.constantFrom('g1', 'g2'),
    cluster: fc.constantFrom('C1', 'C2'),
    brokerId: fc.integer({ min: 0, max: 3 }),
    connectionId: fc.integer({ min: 1, max: 3 }),
    topics: fc.option(fc.subarray(['T1', 'T2', 'T3']), { nil: null }),
    counter: fc.integer({ min: 0, max: 2 }),
  }),
  fc.record({ kind: fc.constant('unregister' as const), address: fc.constantFrom(...ADDRESSES) }),
  fc.record({ kind: fc.constant('close' as const), connectionId: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 600 }) }),
);

test('random operation sequences keep the route table\'s invariants', () => {
  fc.assert(
    fc.property(fc.array(operation, { maxLength: 60 }), (operations) => {
      const clock = fakeClock();
      const routes = new RouteInfo({ clock: clock.read, brokerExpiredMs: 1000 });
      for (const op of operations) {
        if (op.kind === 'register') {
          routes.registerBroker({
            cluster: op.cluster,
            brokerName: op.brokerName,
            brokerAddr: op.address,
            brokerId: op.brokerId,
            haServerAddr: '',
            connectionId: op.connectionId,
            heartbeatTimeoutMs: null,
            topicTable: op.topics === null ? null : table(op.topics, op.counter),
          });
          // The registering address is mapped under exactly the id it asked for.
          const group = routes.clusterInfo().brokers.find((b) => b.brokerName === op.brokerName);
          assert.deepEqual(group?.brokerAddrs.filter(([, address]) => address === op.address), [[op.brokerId, op.address]]);
        } else if (op.kind === 'unregister') {
          routes.unregisterBroker(op.address);
          assert.equal(routes.liveBroker(op.address), undefined);
        } else if (op.kind === 'close') {
          routes.dropConnection(op.connectionId);
        } else {
          clock.now += op.ms;
          routes.expireBrokers();
        }
        routes.checkInvariants();
        for (const topic of routes.topicNames()) {
          const route = routes.topicRoute(topic);
          assert(route !== null, `${topic} is listed but has no route`);
          for (const broker of route.brokerDatas) assert(broker.brokerAddrs.some(([id]) => id === 0), `${topic}: ${broker.brokerName} has no master`);
        }
      }
    }),
    { numRuns: 300 },
  );
});
