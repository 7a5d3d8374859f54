// End to end, real processes: the Prometheus endpoints of a broker and of the name server after some traffic.
// The documented metric names are there, with their labels, and the per-topic received counter equals the number
// of messages sent to that topic, scrape after scrape.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Admin, Producer, PushConsumer } from '../../client/index.js';
import { cleanupStack, Collector, httpGet, inWindows, parseMetrics, recordingLogger, sampleValue, startCluster, waitUntil, type Sample } from './helpers.js';

const TOPIC = 'E2E_METRICS';
const OTHER_TOPIC = 'E2E_METRICS_OTHER';
const FIRST = 300;
const SECOND = 57;
const OTHER = 11;

const BROKER_METRICS: Array<[string, string]> = [
  ['ledgermq_messages_received_total', 'counter'],
  ['ledgermq_bytes_received_total', 'counter'],
  ['ledgermq_messages_delivered_total', 'counter'],
  ['ledgermq_bytes_delivered_total', 'counter'],
  ['ledgermq_send_latency_seconds', 'histogram'],
  ['ledgermq_pull_latency_seconds', 'histogram'],
  ['ledgermq_held_pulls', 'gauge'],
  ['ledgermq_store_bytes', 'gauge'],
  ['ledgermq_dispatch_lag_entries', 'gauge'],
  ['ledgermq_raft_role', 'gauge'],
  ['ledgermq_raft_term', 'gauge'],
  ['ledgermq_raft_commit_index', 'gauge'],
  ['ledgermq_raft_applied_index', 'gauge'],
];

const NAMESRV_METRICS: Array<[string, string]> = [
  ['ledgermq_namesrv_live_brokers', 'gauge'],
  ['ledgermq_namesrv_broker_names', 'gauge'],
  ['ledgermq_namesrv_topics', 'gauge'],
  ['ledgermq_namesrv_route_requests_total', 'counter'],
  ['ledgermq_namesrv_registrations_total', 'counter'],
  ['ledgermq_namesrv_brokers_dropped_total', 'counter'],
];

async function scrape(port: number): Promise<{ samples: Sample[]; families: Map<string, string> }> {
  const r = await httpGet(port, '/metrics');
  assert.equal(r.status, 200, `GET :${port}/metrics`);
  assert.match(r.contentType, /^text\/plain/);
  return parseMetrics(r.text);
}

test('broker and name server metrics after traffic', { timeout: 60_000 }, async (t) => {
  const started = Date.now();
  const cleanup = cleanupStack(t);
  const cluster = await startCluster(cleanup, { nodes: 1 });
  const logger = recordingLogger();
  const namesrv = cluster.namesrvAddr;
  const node = cluster.node('n0');

  const admin = new Admin({ namesrv, logger });
  cleanup(() => admin.shutdown());
  await admin.start();
  await admin.createTopic(TOPIC, { queues: 4 });
  await admin.createTopic(OTHER_TOPIC, { queues: 1 });
  await waitUntil(() => admin.route(TOPIC).then(() => true, () => false), `a route for ${TOPIC}`);

  const collector = new Collector();
  const consumer = new PushConsumer({ namesrv, group: 'e2e-metrics-cg', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', logger });
  cleanup(() => consumer.shutdown());
  consumer.subscribe(TOPIC);
  consumer.onMessage(collector.listener('c1'));
  await consumer.start();
  const producer = new Producer({ namesrv, group: 'e2e-metrics-pg', logger });
  cleanup(() => producer.shutdown());
  await producer.start();

  const sendN = async (topic: string, n: number, size: number): Promise<string[]> =>
    (await inWindows(Array.from({ length: n }, (_, i) => i), 32, (i) => producer.send({ topic, body: Buffer.alloc(size, 97 + (i % 26)) }))).map((r) => r.msgId);

  const ids = await sendN(TOPIC, FIRST, 100);
  await sendN(OTHER_TOPIC, OTHER, 10);
  await waitUntil(() => collector.missing(ids).length === 0, 'the consumer to receive everything');

  const broker = await scrape(node.metricsPort);
  for (const [name, type] of BROKER_METRICS) assert.equal(broker.families.get(name), type, `broker metric ${name} (${type})`);
  const s = broker.samples;
  assert.equal(sampleValue(s, 'ledgermq_messages_received_total', { topic: TOPIC }), FIRST, `received counter of ${TOPIC}`);
  assert.equal(sampleValue(s, 'ledgermq_bytes_received_total', { topic: TOPIC }), FIRST * 100, `received bytes of ${TOPIC}`);
  assert.equal(sampleValue(s, 'ledgermq_messages_received_total', { topic: OTHER_TOPIC }), OTHER, `received counter of ${OTHER_TOPIC}`);
  assert((sampleValue(s, 'ledgermq_messages_delivered_total', { topic: TOPIC }) ?? 0) >= FIRST, 'delivered counter');
  // One observation per send request; the producer may batch concurrent sends (autoBatch), so at most one per message.
  const sendRequests = sampleValue(s, 'ledgermq_send_latency_seconds_count') ?? 0;
  assert(sendRequests >= 2 && sendRequests <= FIRST + OTHER, `send latency observations: ${sendRequests} for ${FIRST + OTHER} messages`);
  assert.equal(sampleValue(s, 'ledgermq_send_latency_seconds_bucket', { le: '+Inf' }), sampleValue(s, 'ledgermq_send_latency_seconds_count'));
  assert((sampleValue(s, 'ledgermq_pull_latency_seconds_count') ?? 0) > 0, 'pull latency observations');
  assert((sampleValue(s, 'ledgermq_store_bytes') ?? 0) > 0, 'store bytes');
  assert((sampleValue(s, 'ledgermq_dispatch_lag_entries') ?? -1) >= 0, 'dispatch lag');
  assert.equal(sampleValue(s, 'ledgermq_raft_role', { role: 'leader' }), 1, 'a single node leads');
  for (const role of ['follower', 'candidate', 'learner']) assert.equal(sampleValue(s, 'ledgermq_raft_role', { role }), 0, `not ${role}`);
  assert((sampleValue(s, 'ledgermq_raft_commit_index') ?? 0) > 0, 'commit index');
  for (const sample of s.filter((x) => x.name.startsWith('ledgermq_'))) {
    assert.equal(sample.labels['broker'], 'broker-a', `${sample.name} has the broker label`);
    assert.equal(sample.labels['node'], 'n0', `${sample.name} has the node label`);
  }
  // The consumer long-polls its queues, so the broker holds pulls right now.
  await waitUntil(async () => (sampleValue((await scrape(node.metricsPort)).samples, 'ledgermq_held_pulls') ?? 0) >= 1, 'held pulls while a consumer waits', 5_000);

  // A lone send is one request: one more latency observation.
  await producer.send({ topic: OTHER_TOPIC, body: 'lone' });
  const afterLone = (await scrape(node.metricsPort)).samples;
  assert.equal(sampleValue(afterLone, 'ledgermq_send_latency_seconds_count'), sendRequests + 1, 'one observation per send request');
  assert.equal(sampleValue(afterLone, 'ledgermq_messages_received_total', { topic: OTHER_TOPIC }), OTHER + 1);

  // More traffic: the counter adds exactly what was sent (it is not reset or double-counted between scrapes).
  await sendN(TOPIC, SECOND, 100);
  const again = (await scrape(node.metricsPort)).samples;
  assert.equal(sampleValue(again, 'ledgermq_messages_received_total', { topic: TOPIC }), FIRST + SECOND, 'received counter after more sends');
  assert.equal(sampleValue((await scrape(node.metricsPort)).samples, 'ledgermq_messages_received_total', { topic: TOPIC }), FIRST + SECOND, 'a scrape without traffic changes nothing');
  const commit = sampleValue(again, 'ledgermq_raft_commit_index')!;
  assert(commit > (sampleValue(s, 'ledgermq_raft_commit_index') ?? 0), 'commit index advanced');

  const ns = await scrape(cluster.namesrvMetricsPort);
  for (const [name, type] of NAMESRV_METRICS) assert.equal(ns.families.get(name), type, `name server metric ${name} (${type})`);
  assert.equal(sampleValue(ns.samples, 'ledgermq_namesrv_live_brokers', { cluster: 'DefaultCluster' }), 1);
  assert.equal(sampleValue(ns.samples, 'ledgermq_namesrv_broker_names'), 1);
  assert((sampleValue(ns.samples, 'ledgermq_namesrv_topics') ?? 0) >= 2, 'topics known to the name server');
  assert((sampleValue(ns.samples, 'ledgermq_namesrv_route_requests_total', { result: 'found' }) ?? 0) > 0, 'route lookups found');
  assert((sampleValue(ns.samples, 'ledgermq_namesrv_registrations_total') ?? 0) >= 1, 'registrations');
  for (const reason of ['connection_closed', 'expired', 'unregistered']) {
    assert.equal(sampleValue(ns.samples, 'ledgermq_namesrv_brokers_dropped_total', { reason }), 0, `no broker dropped (${reason})`);
  }
  const notFoundBefore = sampleValue(ns.samples, 'ledgermq_namesrv_route_requests_total', { result: 'not_found' }) ?? 0;
  await admin.route('E2E_NO_SUCH_TOPIC').catch(() => undefined);
  const nsAfter = (await scrape(cluster.namesrvMetricsPort)).samples;
  assert.equal(sampleValue(nsAfter, 'ledgermq_namesrv_route_requests_total', { result: 'not_found' }), notFoundBefore + 1, 'a failed lookup is counted');

  // Anything but GET /metrics is refused.
  assert.equal((await httpGet(node.metricsPort, '/')).status, 404);
  t.diagnostic(`total ${Date.now() - started} ms`);
});
