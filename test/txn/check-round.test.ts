// The leader's transaction check service, one round at a time under a test clock (in one process, over a real
// store; see ../broker/mini-broker.ts):
//  - a half message whose producer group is gone is still counted and parked after checkMax checks, so the
//    resolved offsets after it fold into the watermark (on the follower too);
//  - offsets retention deleted are skipped through the log, so a follower forgets them as the leader does;
//  - a round looks at a bounded number of offsets, and the next one resumes where it stopped;
//  - parked copies are written in entries that fit a commit-log record;
//  - an END_TRANSACTION arriving while a half message is being parked waits and is refused, not also committed;
//  - one half message immune from checks for an hour does not hold back the checks of later ones;
//  - a half message that does not decode is rolled back, logged, and does not stop the round.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { viewOf } from '../../common/bytes.js';
import { MessageView } from '../../common/message.js';
import { encodeProperties, Prop } from '../../common/properties.js';
import { uniqueIds } from '../../common/message-id.js';
import { SystemTopic } from '../../common/topic.js';
import { RequestCode } from '../../remoting/index.js';
import { TransactionError, TransactionService, TXN_DECISION_PROPERTY } from '../../broker/transaction-service.js';
import { TxnDecision } from '../../broker/transaction-state.js';
import { TXN_SCAN_OFFSETS_PER_ROUND_MAX } from '../../broker/limits.js';
import { messageDraft, putHalves, queueBodies, startMiniBroker, writeState, type MiniBroker } from '../broker/mini-broker.js';

const PG = 'PG_round';
const TOPIC = 'TxnRound';
const FAST = { transactionTimeoutMs: 1000, transactionCheckIntervalMs: 500, transactionCheckMax: 3 };

function start(t: { after: (fn: () => unknown) => void }): { mini: MiniBroker; txns: TransactionService; t0: number } {
  const mini = startMiniBroker({ config: FAST });
  t.after(() => mini.close());
  return { mini, txns: new TransactionService(mini.ctx), t0: mini.now() };
}

function commitRequest(halfQueueOffset: number, physicalOffset: number, commitOrRollback = 8): Parameters<TransactionService['end']>[0] {
  return { producerGroup: PG, tranStateTableOffset: halfQueueOffset, commitLogOffset: physicalOffset, commitOrRollback, fromTransactionCheck: false };
}

/** Half-queue offsets the producers were asked about, in order. */
function checkedOffsets(mini: MiniBroker): number[] {
  return mini.checksSent.filter((c) => c.request.code === RequestCode.CHECK_TRANSACTION_STATE).map((c) => Number(c.request.extFields!.tranStateTableOffset));
}

/** Resolves half offsets [from, to) with rollback ops, written as the END_TRANSACTION path writes them. */
async function rollBackRange(mini: MiniBroker, from: number, to: number): Promise<void> {
  for (let start = from; start < to; start += 1000) {
    const drafts = [];
    for (let o = start; o < Math.min(to, start + 1000); o++) {
      drafts.push({ ...messageDraft(mini, SystemTopic.TRANS_OP_HALF, 0, String(o)), properties: encodeProperties({ [Prop.TAGS]: 'd', [TXN_DECISION_PROPERTY]: TxnDecision.ROLLBACK, [Prop.UNIQ_KEY]: uniqueIds.next() }) });
    }
    await mini.raft.proposeMessages(drafts);
  }
}

test('a half message nobody can be asked about is counted, then parked; what was resolved after it folds, on every node', async (t) => {
  const { mini, txns, t0 } = start(t);
  const [p, q] = await putHalves(mini, PG, TOPIC, ['orphan', 'decided']);
  assert.equal(await txns.end(commitRequest(q!.queueOffset, q!.physicalOffset)), 'committed');
  const txn = mini.ctx.state.txn;
  assert.deepEqual(txn.snapshot().resolved, [[1, TxnDecision.COMMIT]], 'held above the pending orphan');

  // No producer of the group is connected: every round still counts a check.
  for (const [i, at] of [1000, 1500, 2000].entries()) {
    await txns.checkRound(t0 + at);
    assert.equal(txn.checkRecord(p!.queueOffset)?.checks, i + 1, `check ${i + 1} counted at +${at} ms; log: ${mini.logs.join('; ')}`);
  }
  await txns.checkRound(t0 + 2500);

  assert.equal(txn.decision(p!.queueOffset), TxnDecision.PARKED);
  assert.equal(txn.watermark, 2, 'both folded into the watermark');
  assert.deepEqual(txn.snapshot().resolved, []);
  assert.deepEqual(txn.snapshot().checks, []);
  assert.deepEqual(mini.follower.txn.snapshot(), txn.snapshot(), 'the follower holds the same state');
  assert.deepEqual(queueBodies(mini, SystemTopic.TRANS_CHECK_MAX_TIME), ['orphan']);
  assert.deepEqual(queueBodies(mini, TOPIC), ['decided']);
  assert.equal(checkedOffsets(mini).length, 0, 'nobody was there to ask');
});

test('offsets deleted by retention are skipped through the log: the follower forgets them too', async (t) => {
  const { mini, txns, t0 } = start(t);
  await putHalves(mini, PG, TOPIC, ['a', 'b', 'c']);
  await writeState(mini, [{ t: 'txnChecks', items: [{ o: 0, checks: 1, next: t0 + 10_000 }] }]);
  const cq = mini.store.consumeQueues.find(SystemTopic.TRANS_HALF, 0)!;
  Object.defineProperty(cq, 'minOffset', { get: () => 2, configurable: true }); // as after retention
  await txns.checkRound(t0 + 100);

  assert.equal(mini.ctx.state.txn.watermark, 2);
  assert.equal(mini.follower.txn.watermark, 2, 'the skip reached the follower');
  assert.deepEqual(mini.follower.txn.snapshot(), mini.ctx.state.txn.snapshot());
  assert.equal(mini.follower.txn.checkRecord(0), undefined);
});

test('a round looks at a bounded number of offsets, resolved ones included; the next resumes where it stopped', async (t) => {
  const { mini, txns, t0 } = start(t);
  mini.connectProducer(PG);
  const resolvedCount = TXN_SCAN_OFFSETS_PER_ROUND_MAX + 500;
  // offset 0: pending, its next check far away; then many resolved ones; then one pending and due
  for (let done = 0; done < resolvedCount + 2; done += 1000) {
    const n = Math.min(1000, resolvedCount + 2 - done);
    await putHalves(mini, PG, TOPIC, Array.from({ length: n }, (_, i) => `h${done + i}`));
  }
  await writeState(mini, [{ t: 'txnChecks', items: [{ o: 0, checks: 1, next: t0 + 1_000_000 }] }]);
  await rollBackRange(mini, 1, resolvedCount + 1);
  const last = resolvedCount + 1;

  const txn = mini.ctx.state.txn;
  const isResolved = txn.isResolved.bind(txn);
  let visited = 0;
  txn.isResolved = (o: number) => (visited++, isResolved(o));
  const perRound: number[] = [];
  for (let round = 0; round < 3 && !checkedOffsets(mini).includes(last); round++) {
    visited = 0;
    await txns.checkRound(t0 + 2000 + round * 10);
    perRound.push(visited);
  }
  assert.ok(
    perRound.every((v) => v <= TXN_SCAN_OFFSETS_PER_ROUND_MAX),
    `offsets looked at per round: ${perRound.join(', ')} (limit ${TXN_SCAN_OFFSETS_PER_ROUND_MAX})`,
  );
  assert.deepEqual(checkedOffsets(mini), [last], 'the pending one past the first round\'s window was checked');
  assert.equal(txn.watermark, 0);
});

test('parking never outgrows a commit-log record: two 3 MiB half messages are parked in two entries', async (t) => {
  const { mini, txns, t0 } = start(t);
  const body = 'x'.repeat(3 * 1024 * 1024);
  const [a] = await putHalves(mini, PG, TOPIC, [`a${body}`]);
  const [b] = await putHalves(mini, PG, TOPIC, [`b${body}`]);
  await writeState(mini, [{ t: 'txnChecks', items: [a!, b!].map((h) => ({ o: h.queueOffset, checks: FAST.transactionCheckMax, next: 0 })) }]);

  for (let round = 0; round < 3 && mini.ctx.state.txn.watermark < 2; round++) await txns.checkRound(t0 + 2000 + round);
  assert.equal(mini.ctx.state.txn.watermark, 2, `both parked; log: ${mini.logs.join('; ')}`);
  assert.deepEqual(queueBodies(mini, SystemTopic.TRANS_CHECK_MAX_TIME).map((m) => m[0]), ['a', 'b']);
  assert.equal(mini.logs.filter((l) => /failed/.test(l)).length, 0, mini.logs.join('; '));
});

test('END_TRANSACTION during parking waits for it and is refused: the message is parked, not also delivered', async (t) => {
  const { mini, txns, t0 } = start(t);
  const [h] = await putHalves(mini, PG, TOPIC, ['racing']);
  await writeState(mini, [{ t: 'txnChecks', items: [{ o: h!.queueOffset, checks: FAST.transactionCheckMax, next: 0 }] }]);

  const round = txns.checkRound(t0 + 2000);
  const ended = txns.end(commitRequest(h!.queueOffset, h!.physicalOffset)).then(
    (remark) => ({ remark, error: null }),
    (error: Error) => ({ remark: null, error }),
  );
  await round;
  const outcome = await ended;

  assert.deepEqual(queueBodies(mini, SystemTopic.TRANS_CHECK_MAX_TIME), ['racing']);
  assert.deepEqual(queueBodies(mini, TOPIC), [], 'not delivered');
  assert.ok(outcome.error instanceof TransactionError, `refused, got ${JSON.stringify(outcome.remark)}`);
  assert.match(outcome.error.message, /parked/);
  assert.equal(mini.ctx.state.txn.decision(h!.queueOffset), TxnDecision.PARKED);
});

test('a half message immune from checks for an hour does not hold back later ones, nor lets the watermark pass it', async (t) => {
  const { mini, txns, t0 } = start(t);
  mini.connectProducer(PG);
  const [immune] = await putHalves(mini, PG, TOPIC, ['immune'], { [Prop.CHECK_IMMUNITY_TIME_IN_SECONDS]: '3600' });
  const [later] = await putHalves(mini, PG, TOPIC, ['later']);

  await txns.checkRound(t0 + 2000);
  assert.deepEqual(checkedOffsets(mini), [later!.queueOffset]);
  assert.equal(mini.ctx.state.txn.checkRecord(immune!.queueOffset), undefined);
  await txns.end(commitRequest(later!.queueOffset, later!.physicalOffset));
  assert.equal(mini.ctx.state.txn.watermark, 0, 'held by the immune one');

  await txns.checkRound(t0 + 3600 * 1000 + 1);
  assert.deepEqual(checkedOffsets(mini), [later!.queueOffset, immune!.queueOffset], 'checked once its immunity ended');
});

test('a half message that does not decode is rolled back and logged; the round goes on with the next one', async (t) => {
  const { mini, txns, t0 } = start(t);
  mini.connectProducer(PG);
  const [bad, good] = await putHalves(mini, PG, TOPIC, ['bad', 'good']);
  const viewMessage = mini.store.viewMessage.bind(mini.store);
  mini.store.viewMessage = (offset: number) => {
    const m = viewMessage(offset);
    if (!m || offset !== bad!.physicalOffset) return m;
    const copy = Buffer.from(m);
    copy.writeInt16BE(-32754, MessageView.propertiesOffset(viewOf(copy), 0)); // a wrapped PROPERTIESLEN
    return copy;
  };

  await txns.checkRound(t0 + 2000);
  assert.deepEqual(checkedOffsets(mini), [good!.queueOffset], mini.logs.join('; '));
  assert.equal(mini.ctx.state.txn.decision(bad!.queueOffset), TxnDecision.ROLLBACK);
  assert.equal(mini.follower.txn.decision(bad!.queueOffset), TxnDecision.ROLLBACK);
  assert.equal(mini.logs.filter((l) => /does not decode/.test(l)).length, 1, mini.logs.join('; '));

  await txns.checkRound(t0 + 2600);
  assert.deepEqual(checkedOffsets(mini), [good!.queueOffset, good!.queueOffset], 'checked again; the bad one is not met again');
  assert.equal(mini.logs.filter((l) => /does not decode|round failed/.test(l)).length, 1, mini.logs.join('; '));
  assert.equal(txns.pending(undefined, t0 + 2600).length, 1);
});
