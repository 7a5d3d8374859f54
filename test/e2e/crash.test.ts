// End to end, real processes: the only broker of a group is killed with SIGKILL while a producer sends
// synchronously and a consumer group consumes, then restarted. Every send that was acknowledged is consumed;
// sends during the outage fail with an error and succeed again once the broker is back; messages are delivered
// again only from offsets the group had not committed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Admin, Producer, PushConsumer } from '../../client/index.js';
import { BrokerProbe, cleanupStack, Collector, recordingLogger, sleep, startCluster, waitUntil } from './helpers.js';

const TOPIC = 'E2E_CRASH';
const GROUP = 'e2e-crash-cg';
const QUEUES = 4;
/** Phases end on what happened, not on time alone (a loaded machine sends slowly): */
const ACKED_BEFORE_KILL = 300;
const FAILED_DURING_OUTAGE = 3;
const ACKED_AFTER_RECOVERY = 200;
/** ... but last at least this long. */
const BEFORE_KILL_MS_MIN = 1_500;
const OUTAGE_MS_MIN = 1_000;
const TOTAL_BUDGET_MS = 60_000;
/** Sends at most; the loop is paced, this only bounds it. */
const SENDS_MAX = 50_000;

interface SendRecord {
  i: number;
  startedAt: number;
  endedAt: number;
  msgId?: string;
  error?: string;
}

test('kill -9 of the broker: acknowledged sends are consumed, outage sends fail loudly, sends recover', { timeout: 90_000 }, async (t) => {
  const testStart = Date.now();
  const budgetEnd = testStart + TOTAL_BUDGET_MS;
  const cleanup = cleanupStack(t);
  const cluster = await startCluster(cleanup, { nodes: 1 });
  const logger = recordingLogger(2000);
  const namesrv = cluster.namesrvAddr;
  const broker = cluster.node('n0').addr;
  const probe = new BrokerProbe();
  cleanup(() => probe.close());

  const admin = new Admin({ namesrv, logger });
  cleanup(() => admin.shutdown());
  await admin.start();
  await admin.createTopic(TOPIC, { queues: QUEUES });
  await waitUntil(() => admin.route(TOPIC).then(() => true, () => false), `a route for ${TOPIC}`);

  const collector = new Collector();
  const consumer = new PushConsumer({
    namesrv,
    group: GROUP,
    consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
    // Commits lag consumption, so the crash leaves some consumed offsets uncommitted.
    persistOffsetIntervalMs: 1_000,
    pullErrorBackoffMs: 200,
    pollNameServerIntervalMs: 500,
    rebalanceIntervalMs: 1_000,
    logger,
  });
  cleanup(() => consumer.shutdown());
  consumer.subscribe(TOPIC);
  consumer.onMessage(collector.listener('c1'));
  await consumer.start();

  const producer = new Producer({ namesrv, group: 'e2e-crash-pg', sendTimeoutMs: 1_000, retryTimesWhenSendFailed: 1, retryBackoffMs: 50, pollNameServerIntervalMs: 500, logger });
  cleanup(() => producer.shutdown());
  await producer.start();

  // Committed offsets as the broker reports them, sampled while it is up (for the duplicate check).
  const commits: Array<{ at: number; queueId: number; offset: number }> = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling && Date.now() < budgetEnd) {
      for (let q = 0; q < QUEUES && cluster.isRunning('n0'); q++) {
        try {
          const offset = await probe.committedOffset(broker, GROUP, TOPIC, q);
          commits.push({ at: Date.now(), queueId: q, offset });
        } catch {
          // broker down or restarting
        }
      }
      await sleep(100);
    }
  })();

  const sends: SendRecord[] = [];
  let producing = true;
  const producerLoop = (async () => {
    for (let i = 0; producing && i < SENDS_MAX && Date.now() < budgetEnd; i++) {
      const rec: SendRecord = { i, startedAt: Date.now(), endedAt: 0 };
      sends.push(rec);
      try {
        const r = await producer.send({ topic: TOPIC, body: `crash-${i}`, keys: `crash-key-${i}` });
        assert.equal(r.status, 'SEND_OK');
        rec.msgId = r.msgId;
      } catch (error) {
        rec.error = (error as Error).message;
      }
      rec.endedAt = Date.now();
      // Paced: a steady stream, not a flood; failures (which can be instant) back off a little more.
      await sleep(rec.error ? 20 : 2);
    }
  })();

  // On failure, stop both loops before the clients shut down (cleanups run last-registered first).
  cleanup(async () => {
    producing = false;
    sampling = false;
    await Promise.all([producerLoop, sampler]);
  });

  const acknowledged = (from = 0): number => sends.filter((s) => s.msgId && s.startedAt >= from).length;
  await sleep(BEFORE_KILL_MS_MIN);
  await waitUntil(() => acknowledged() >= ACKED_BEFORE_KILL, `${ACKED_BEFORE_KILL} acknowledged sends before the kill`, 20_000, () => `${acknowledged()} so far`);
  await cluster.killNode('n0', 'SIGKILL');
  const killedAt = Date.now();
  await sleep(OUTAGE_MS_MIN);
  await waitUntil(() => sends.filter((s) => s.startedAt >= killedAt && s.error).length >= FAILED_DURING_OUTAGE, `${FAILED_DURING_OUTAGE} sends to fail during the outage`, 10_000);
  const restartAt = Date.now();
  await cluster.startNode('n0');
  await cluster.waitForLeader(20_000);
  const readyAt = Date.now();
  await waitUntil(() => sends.some((s) => s.msgId && s.startedAt >= readyAt), 'a send to succeed after the restart', 15_000, () => `last errors: ${sends.slice(-3).map((s) => s.error).join(' | ')}`);
  const firstOkAfterRestart = sends.find((s) => s.msgId && s.startedAt >= readyAt)!.endedAt;
  await waitUntil(() => acknowledged(firstOkAfterRestart) >= ACKED_AFTER_RECOVERY, `${ACKED_AFTER_RECOVERY} acknowledged sends after recovery`, 20_000, () => `${acknowledged(firstOkAfterRestart)} so far`);
  producing = false;
  await producerLoop;

  // Sends wholly inside the outage (started after the kill, answered before the restart began) must have failed.
  const duringOutage = sends.filter((s) => s.startedAt >= killedAt && s.endedAt > 0 && s.endedAt <= restartAt);
  assert(duringOutage.length > 0, 'the producer kept trying during the outage');
  const silentSuccess = duringOutage.filter((s) => s.msgId !== undefined);
  assert.deepEqual(silentSuccess.map((s) => s.i), [], 'no send succeeded while the broker was down');
  for (const s of duringOutage) assert.match(s.error!, /\S/, 'failures carry an error message');
  // Once sends work again, they keep working.
  const lastSends = sends.filter((s) => s.startedAt >= firstOkAfterRestart);
  assert(lastSends.length >= ACKED_AFTER_RECOVERY, `enough sends after recovery (${lastSends.length})`);
  assert.deepEqual(lastSends.filter((s) => s.error).map((s) => `${s.i}: ${s.error}`), [], 'every send after recovery succeeded');

  const acked = sends.filter((s) => s.msgId).map((s) => s.msgId!);
  await waitUntil(() => collector.missing(acked).length === 0, `every acknowledged message (${acked.length}) consumed`, Math.max(5_000, budgetEnd - Date.now()), () => {
    const missing = collector.missing(acked);
    return `${missing.length} missing, e.g. ${missing.slice(0, 3).join(', ')}; consumer warnings: ${logger.lines.slice(-5).join(' | ')}`;
  });
  sampling = false;
  await sampler;

  // Duplicates: the same (queue, offset) delivered twice is a consumer redelivery; it is only allowed when the
  // broker had not yet reported a committed offset beyond it before the redelivery.
  const firstSeen = new Map<string, number>();
  const redelivered: Array<{ queueId: number; offset: number; at: number }> = [];
  for (const d of collector.deliveries) {
    const key = `${d.queueId}:${d.queueOffset}`;
    if (firstSeen.has(key)) redelivered.push({ queueId: d.queueId, offset: d.queueOffset, at: d.at });
    else firstSeen.set(key, d.at);
  }
  const violations = redelivered.filter((r) => commits.some((c) => c.queueId === r.queueId && c.offset > r.offset && c.at < r.at));
  assert.deepEqual(violations.slice(0, 5), [], 'no redelivery of an offset the broker had reported as committed');
  // Committed offsets never go back (a lost commit would surface as a regression after the restart).
  const lastCommit = new Map<number, number>();
  for (const c of commits) {
    const prev = lastCommit.get(c.queueId) ?? -1;
    assert(c.offset >= prev, `committed offset of queue ${c.queueId} went back from ${prev} to ${c.offset}`);
    lastCommit.set(c.queueId, c.offset);
  }
  const sameIdOtherOffset = new Set(collector.duplicates()).size - new Set(redelivered.map((r) => collector.deliveries.find((d) => d.queueId === r.queueId && d.queueOffset === r.offset)!.msgId)).size;
  const errors = new Map<string, number>();
  for (const s of sends) {
    if (!s.error) continue;
    const kind = s.error.replace(/\b[\d.:]+\b/g, 'N').slice(0, 160);
    errors.set(kind, (errors.get(kind) ?? 0) + 1);
  }
  t.diagnostic(
    `sends ${sends.length}, acknowledged ${acked.length}, failed ${sends.length - acked.length}; outage ${restartAt - killedAt} ms, restart to leader ${readyAt - restartAt} ms, to first ok send ${firstOkAfterRestart - readyAt} ms; ` +
      `redelivered offsets ${redelivered.length}, msgIds stored twice (producer retry after a lost answer) ${Math.max(0, sameIdOtherOffset)}; total ${Date.now() - testStart} ms`,
  );
  t.diagnostic(`send errors: ${JSON.stringify(Object.fromEntries(errors))}`);
});
