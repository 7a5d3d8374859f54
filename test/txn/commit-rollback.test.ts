// Transactional messages end to end (one broker node, real processes): local COMMIT and ROLLBACK, and UNKNOWN (or
// a throwing local transaction) settled by the broker's back-check. A push consumer proves that committed messages
// arrive exactly once, with their real topic and the COMMIT transaction type, and that rolled-back ones never do.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Admin, PushConsumer, TransactionProducer, type MessageExt, type TxnState } from '../../client/index.js';
import { parseOffsetMessageId } from '../../common/message-id.js';
import { Prop } from '../../common/properties.js';
import { cleanupStack, fastTxnArgs, pendingTxns, QUICK_CLIENT, recordingLogger, sleep, startCluster, tally, waitUntil } from './helpers.js';

const TOPIC = 'TxnOrders';
const PG = 'PG_txn_basic';

test('commit, rollback and UNKNOWN-then-check: committed messages arrive once, rolled-back ones never', { timeout: 90_000 }, async (t) => {
  const cleanup = cleanupStack(t);
  const cluster = await startCluster(cleanup, { brokerArgs: fastTxnArgs(3) });
  const namesrv = cluster.namesrvAddr;
  const log = recordingLogger();
  t.after(() => {
    if (log.lines.length > 0) t.diagnostic(`client warnings:\n${log.lines.slice(-30).join('\n')}`);
  });

  const admin = new Admin({ namesrv, logger: log });
  await admin.start();
  cleanup(() => admin.shutdown());
  await admin.createTopic(TOPIC, { queues: 4 });

  const delivered: MessageExt[] = [];
  const consumer = new PushConsumer({ namesrv, group: 'CG_txn_basic', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', rebalanceIntervalMs: 1000, logger: log });
  consumer.subscribe(TOPIC, '*');
  consumer.onMessage((msgs) => {
    delivered.push(...msgs);
    return 'CONSUME_SUCCESS';
  });
  await consumer.start();
  cleanup(() => consumer.shutdown());

  // What each key's local transaction says, and what the checker says when asked.
  //   c-i: COMMIT        r-i: ROLLBACK       (ended at once, never checked)
  //   u-i: UNKNOWN, checker commits even i and rolls back odd i
  //   x-i: the local transaction throws (UNKNOWN); the checker commits
  //   l-i: UNKNOWN; the checker answers UNKNOWN the first time and COMMIT the second
  const keys = [...range(8).map((i) => `c-${i}`), ...range(8).map((i) => `r-${i}`), ...range(8).map((i) => `u-${i}`), ...range(3).map((i) => `x-${i}`), ...range(3).map((i) => `l-${i}`)];
  const local = (key: string): TxnState => (key.startsWith('c-') ? 'COMMIT' : key.startsWith('r-') ? 'ROLLBACK' : 'UNKNOWN');
  const checked: MessageExt[] = [];
  const checkCounts = (): Map<string, number> => tally(checked.map((m) => m.keys ?? '?'));
  const checker = (m: MessageExt): TxnState => {
    checked.push(m);
    const key = m.keys ?? '';
    if (key.startsWith('u-')) return Number(key.slice(2)) % 2 === 0 ? 'COMMIT' : 'ROLLBACK';
    if (key.startsWith('x-')) return 'COMMIT';
    if (key.startsWith('l-')) return (checkCounts().get(key) ?? 0) >= 2 ? 'COMMIT' : 'UNKNOWN';
    return 'ROLLBACK'; // c-/r- must never be asked about
  };
  const committed = new Set(keys.filter((k) => k.startsWith('c-') || k.startsWith('x-') || k.startsWith('l-') || (k.startsWith('u-') && Number(k.slice(2)) % 2 === 0)));

  const producer = new TransactionProducer({ namesrv, group: PG, checker, logger: log, ...QUICK_CLIENT });
  await producer.start();
  cleanup(() => producer.shutdown());

  const results = new Map<string, Awaited<ReturnType<typeof producer.sendMessageInTransaction>>>();
  const seenByLocal = new Map<string, { msgId: string; transactionId: string; arg: unknown }>();
  for (const key of keys) {
    const r = await producer.sendMessageInTransaction(
      { topic: TOPIC, body: `body of ${key}`, tags: 'TagT', keys: key, properties: { origin: 'txn-test' } },
      (msg, arg) => {
        seenByLocal.set(key, { msgId: msg.msgId, transactionId: msg.transactionId, arg });
        if (key.startsWith('x-')) throw new Error(`local transaction of ${key} failed`);
        return local(key);
      },
      { key },
    );
    results.set(key, r);
  }

  for (const key of keys) {
    const r = results.get(key)!;
    assert.equal(r.sendResult.status, 'SEND_OK');
    assert.equal(r.localState, local(key), `local state of ${key}`);
    assert.equal(r.ended, key.startsWith('c-') || key.startsWith('r-'), `ended of ${key}: ${r.endError?.message ?? ''}`);
    assert.equal(r.endError, undefined, `END_TRANSACTION of ${key} failed: ${r.endError?.message}`);
    assert.equal(r.sendResult.transactionId, r.sendResult.msgId, 'the transaction id is the UNIQ_KEY');
    assert.deepEqual(seenByLocal.get(key), { msgId: r.sendResult.msgId, transactionId: r.sendResult.msgId, arg: { key } });
    assert.ok(parseOffsetMessageId(r.sendResult.offsetMsgId), `offset msgId of ${key}`);
  }

  // Every committed message arrives; the back-check settles u-, x- and l- (l- needs two checks).
  await waitUntil(
    () => committed.size === new Set(delivered.map((m) => m.keys)).size && [...committed].every((k) => delivered.some((m) => m.keys === k)),
    'every committed message to be consumed',
    20_000,
    () => `delivered ${delivered.length}: ${[...new Set(delivered.map((m) => m.keys))].sort().join(',')}`,
  );
  await waitUntil(async () => (await pendingTxns(cluster, PG)).length === 0, 'no pending transaction of the group', 10_000);
  // Long enough for several more check rounds and for any straggler to be pulled.
  await sleep(2500);

  const byKey = tally(delivered.map((m) => m.keys ?? '?'));
  for (const key of keys) assert.equal(byKey.get(key) ?? 0, committed.has(key) ? 1 : 0, `deliveries of ${key}`);
  assert.equal(delivered.length, committed.size, 'nothing but the committed messages, each once');

  for (const m of delivered) {
    const r = results.get(m.keys!)!;
    assert.equal(m.topic, TOPIC);
    assert.equal(m.body.toString(), `body of ${m.keys}`);
    assert.equal(m.tags, 'TagT');
    assert.equal(m.properties['origin'], 'txn-test');
    assert.equal(m.msgId, r.sendResult.msgId, 'the committed message keeps the UNIQ_KEY');
    assert.equal(m.sysFlag & 0xc, 0x8, 'transaction type COMMIT');
    assert.equal(m.preparedTransactionOffset, parseOffsetMessageId(r.sendResult.offsetMsgId)!.commitLogOffset, 'PREPARED_TRANSACTION_OFFSET = the half message');
    for (const p of [Prop.TRANSACTION_PREPARED, Prop.REAL_TOPIC, Prop.REAL_QUEUE_ID]) assert.equal(m.properties[p], undefined, `property ${p} on a committed message`);
  }

  const checks = checkCounts();
  for (const key of keys) {
    const expected = key.startsWith('u-') || key.startsWith('x-') ? 1 : key.startsWith('l-') ? 2 : 0;
    assert.equal(checks.get(key) ?? 0, expected, `checks of ${key}`);
  }
  for (const m of checked) {
    assert.equal(m.topic, TOPIC, 'a check carries the real topic');
    assert.equal(m.body.toString(), `body of ${m.keys}`);
    assert.equal(m.properties[Prop.PRODUCER_GROUP], PG);
    assert.equal(m.properties[Prop.TRANSACTION_PREPARED], 'true');
    assert.equal(m.msgId, results.get(m.keys!)!.sendResult.msgId, 'a check names the UNIQ_KEY');
  }
});

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
