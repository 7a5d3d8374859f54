// Transactions across a leader failover (3-node group): 500 transactions are started; 200 end before the leader is
// `kill -9`ed, 150 answer UNKNOWN (left to the back-check, some of it on the old leader), and 150 are still running
// their local transaction when the leader dies and end afterwards (END to the dead leader, then the new one, or the
// back-check). Afterwards every transaction has ended as its checker says: reading the topic back from offset 0,
// every committed key is there exactly once and no rolled-back key is.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Admin, TransactionProducer, type TransactionSendResult, type TxnState } from '../../client/index.js';
import { cleanupStack, fastTxnArgs, inWindows, pendingTxns, QUICK_CLIENT, readTopic, recordingLogger, sleep, startCluster, tally, waitUntil } from './helpers.js';

const TOPIC = 'TxnFailover';
const PG = 'PG_txn_failover';
const N = 500;
const ENDED_BEFORE_KILL = 200;

const keyOf = (i: number): string => `f-${i}`;
const indexOf = (key: string): number => Number(key.slice(2));
/** What the application decides for transaction i, whether asked by the local transaction or by a check. */
const rule = (i: number): TxnState => (i % 4 === 0 ? 'ROLLBACK' : 'COMMIT');
/** Transactions after the first 200: even ones wait for the kill and then decide, odd ones answer UNKNOWN. */
const waitsForKill = (i: number): boolean => i >= ENDED_BEFORE_KILL && i % 2 === 0;

test('transactions in flight when the leader is killed end exactly as decided, none twice', { timeout: 120_000 }, async (t) => {
  const cleanup = cleanupStack(t);
  const cluster = await startCluster(cleanup, { nodes: 3, brokerArgs: fastTxnArgs(15, 1000, 500) });
  const namesrv = cluster.namesrvAddr;
  const log = recordingLogger(2000);
  t.after(() => {
    if (log.lines.length > 0) t.diagnostic(`client warnings (${log.lines.length}), last ones:\n${log.lines.slice(-20).join('\n')}`);
  });
  const admin = new Admin({ namesrv, logger: log });
  await admin.start();
  cleanup(() => admin.shutdown());
  await admin.createTopic(TOPIC, { queues: 4 });

  const checked: string[] = [];
  const producer = new TransactionProducer({
    namesrv,
    group: PG,
    logger: log,
    ...QUICK_CLIENT,
    checker: (m) => {
      checked.push(m.keys ?? '?');
      return rule(indexOf(m.keys ?? 'f-0'));
    },
  });
  await producer.start();
  cleanup(() => producer.shutdown());

  let releaseAfterKill!: () => void;
  const killed = new Promise<void>((r) => (releaseAfterKill = r));
  cleanup(() => releaseAfterKill());
  let waiting = 0;
  const run = (i: number): Promise<TransactionSendResult> =>
    producer.sendMessageInTransaction({ topic: TOPIC, body: `txn ${i}`, keys: keyOf(i) }, async () => {
      if (i < ENDED_BEFORE_KILL) return rule(i);
      if (!waitsForKill(i)) return 'UNKNOWN';
      waiting++;
      await killed;
      return rule(i);
    });

  const all = Array.from({ length: N }, (_, i) => i);
  const before = await inWindows(all.filter((i) => i < ENDED_BEFORE_KILL), 32, run);
  for (const r of before) assert.ok(r.ended, `ended before the kill: ${r.endError?.message ?? ''}`);
  const unknown = await inWindows(all.filter((i) => i >= ENDED_BEFORE_KILL && !waitsForKill(i)), 32, run);
  for (const r of unknown) assert.equal(r.localState, 'UNKNOWN');
  const late = all.filter(waitsForKill).map(run);
  await waitUntil(() => waiting === late.length, 'every late transaction to be half-sent and running its local transaction', 30_000, () => `${waiting} of ${late.length}`);

  const leader = await cluster.waitForLeader();
  await cluster.killNode(leader);
  const killedAt = Date.now();
  releaseAfterKill();
  const newLeader = await cluster.waitForLeader(20_000, [leader]);
  const lateResults = await Promise.all(late);
  const endedLate = lateResults.filter((r) => r.ended).length;
  t.diagnostic(`new leader ${newLeader} after ${Date.now() - killedAt} ms; ${endedLate} of ${late.length} late ENDs confirmed, the rest left to the back-check`);

  await waitUntil(async () => (await pendingTxns(cluster, PG).catch(() => [{}])).length === 0, 'no pending transaction after the failover', 30_000);

  const committed = new Set(all.filter((i) => rule(i) === 'COMMIT').map(keyOf));
  let counts = new Map<string, number>();
  await waitUntil(
    async () => {
      counts = tally((await readTopic(namesrv, TOPIC)).map((m) => m.keys ?? '?'));
      return counts.size >= committed.size;
    },
    'every committed message to be readable',
    15_000,
    () => `${counts.size} of ${committed.size}`,
  );
  await sleep(1500); // more check rounds: nothing may be committed again
  counts = tally((await readTopic(namesrv, TOPIC)).map((m) => m.keys ?? '?'));
  const twice = [...counts].filter(([, n]) => n > 1).map(([k]) => k);
  const rolledBack = [...counts.keys()].filter((k) => !committed.has(k));
  const missing = [...committed].filter((k) => !counts.has(k));
  assert.deepEqual(twice, [], 'no transaction committed twice');
  assert.deepEqual(rolledBack, [], 'no rolled-back transaction visible');
  assert.deepEqual(missing, [], 'every committed transaction visible');
  assert.ok(checked.every((k) => indexOf(k) >= ENDED_BEFORE_KILL), `transactions ended before the kill are never checked: ${checked.filter((k) => indexOf(k) < ENDED_BEFORE_KILL).join(',')}`);
  const checkedOnce = new Set(checked);
  for (let i = ENDED_BEFORE_KILL; i < N; i++) if (!waitsForKill(i)) assert.ok(checkedOnce.has(keyOf(i)), `UNKNOWN transaction ${keyOf(i)} was checked`);
});
