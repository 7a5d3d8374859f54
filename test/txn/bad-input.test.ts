// END_TRANSACTION with bad input, sent as an ordinary request so the broker's answer can be seen: an unknown or
// misaligned commit-log offset, the offset of an ordinary message, a wrong producer group, a wrong half queue
// offset, a bad commitOrRollback, missing or non-numeric header fields. Each gets a clear error, and nothing changes:
// the half message is still pending (no check, nothing delivered) and a correct END afterwards commits it once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Admin, Producer, TransactionProducer } from '../../client/index.js';
import { parseOffsetMessageId } from '../../common/message-id.js';
import { ResponseCode } from '../../remoting/index.js';
import { cleanupStack, endTransactionRequest, fastTxnArgs, pendingTxns, readTopic, recordingLogger, startCluster } from './helpers.js';

const TOPIC = 'TxnBadInput';
const PG = 'PG_txn_bad';

test('END_TRANSACTION with bad input: a clear error and no change', { timeout: 60_000 }, async (t) => {
  const cleanup = cleanupStack(t);
  // No back-check during the test: the half message must stay exactly as the bad requests leave it.
  const cluster = await startCluster(cleanup, { brokerArgs: fastTxnArgs(3, 600_000) });
  const namesrv = cluster.namesrvAddr;
  const log = recordingLogger();
  const admin = new Admin({ namesrv, logger: log });
  await admin.start();
  cleanup(() => admin.shutdown());
  await admin.createTopic(TOPIC, { queues: 2 });

  let checks = 0;
  const producer = new TransactionProducer({ namesrv, group: PG, logger: log, checker: () => (checks++, 'UNKNOWN') });
  await producer.start();
  cleanup(() => producer.shutdown());
  const { sendResult, localState } = await producer.sendMessageInTransaction({ topic: TOPIC, body: 'decide me later', keys: 'k-bad' }, () => 'UNKNOWN');
  assert.equal(localState, 'UNKNOWN');
  const halfOffset = parseOffsetMessageId(sendResult.offsetMsgId)!.commitLogOffset;

  const plain = new Producer({ namesrv, group: 'PG_txn_bad_plain', logger: log });
  await plain.start();
  cleanup(() => plain.shutdown());
  const ordinary = await plain.send({ topic: TOPIC, body: 'ordinary', keys: 'k-ordinary' });
  const ordinaryOffset = parseOffsetMessageId(ordinary.offsetMsgId)!.commitLogOffset;

  const leader = (await cluster.registeredMaster())!;
  const good: Record<string, string> = {
    producerGroup: PG,
    tranStateTableOffset: String(sendResult.queueOffset),
    commitLogOffset: String(halfOffset),
    commitOrRollback: '8',
    fromTransactionCheck: 'false',
    msgId: sendResult.msgId,
    transactionId: sendResult.msgId,
  };
  const without = (name: string): Record<string, string> => Object.fromEntries(Object.entries(good).filter(([k]) => k !== name));
  const cases: Array<{ what: string; fields: Record<string, string>; remark: RegExp }> = [
    { what: 'an unknown commit-log offset', fields: { ...good, commitLogOffset: String(halfOffset + 1_000_000_000) }, remark: /no committed half message at commit-log offset/ },
    { what: 'an offset inside the half message', fields: { ...good, commitLogOffset: String(halfOffset + 7) }, remark: /no committed half message at commit-log offset/ },
    { what: 'the offset of an ordinary message', fields: { ...good, commitLogOffset: String(ordinaryOffset) }, remark: /is not a half message/ },
    { what: 'a wrong producer group', fields: { ...good, producerGroup: 'PG_someone_else' }, remark: /producer group wrong/i },
    { what: 'a wrong half queue offset', fields: { ...good, tranStateTableOffset: String(sendResult.queueOffset + 5) }, remark: /does not match/ },
    { what: 'commitOrRollback 5', fields: { ...good, commitOrRollback: '5' }, remark: /commitOrRollback must be 0, 8 \(commit\) or 12 \(rollback\)/ },
    { what: 'no commitLogOffset', fields: without('commitLogOffset'), remark: /'commitLogOffset' is missing/ },
    { what: 'no producerGroup', fields: without('producerGroup'), remark: /'producerGroup' is missing/ },
    { what: 'no msgId', fields: without('msgId'), remark: /'msgId' is missing/ },
    { what: 'a non-numeric commitLogOffset', fields: { ...good, commitLogOffset: 'abc' }, remark: /'commitLogOffset' must be an integer/ },
    { what: 'a non-numeric tranStateTableOffset', fields: { ...good, tranStateTableOffset: '12x' }, remark: /'tranStateTableOffset' must be an integer/ },
    { what: 'a fractional commitLogOffset', fields: { ...good, commitLogOffset: `${halfOffset}.5` }, remark: /'commitLogOffset' must be an integer/ },
    { what: 'a bad fromTransactionCheck', fields: { ...good, fromTransactionCheck: 'maybe' }, remark: /'fromTransactionCheck' must be true or false/ },
  ];
  for (const c of cases) {
    const r = await endTransactionRequest(leader, c.fields);
    assert.notEqual(r.code, ResponseCode.SUCCESS, `${c.what}: refused`);
    assert.match(r.remark ?? '', c.remark, `${c.what}: remark ${JSON.stringify(r.remark)}`);
  }
  // UNKNOWN (0) is accepted and changes nothing.
  const unknown = await endTransactionRequest(leader, { ...good, commitOrRollback: '0' });
  assert.equal(unknown.code, ResponseCode.SUCCESS, unknown.remark ?? '');

  // Nothing changed: still pending, never checked, nothing in the topic but the ordinary message.
  const pending = await pendingTxns(cluster, PG);
  assert.deepEqual(pending.map((p) => [p.msgId, p.halfOffset, p.checks]), [[sendResult.msgId, sendResult.queueOffset, 0]]);
  assert.deepEqual((await readTopic(namesrv, TOPIC)).map((m) => m.keys), ['k-ordinary']);
  assert.equal(checks, 0);

  // The correct request commits it; a repeat is answered from the recorded decision; a contrary one is refused.
  const commit = await endTransactionRequest(leader, good);
  assert.equal(commit.code, ResponseCode.SUCCESS, commit.remark ?? '');
  assert.equal(commit.remark, 'committed');
  const again = await endTransactionRequest(leader, good);
  assert.equal(again.code, ResponseCode.SUCCESS);
  assert.match(again.remark ?? '', /already committed/);
  const contrary = await endTransactionRequest(leader, { ...good, commitOrRollback: '12' });
  assert.notEqual(contrary.code, ResponseCode.SUCCESS);
  assert.match(contrary.remark ?? '', /already committed/);

  assert.equal((await pendingTxns(cluster, PG)).length, 0);
  const all = await readTopic(namesrv, TOPIC);
  assert.deepEqual(all.map((m) => m.keys).sort(), ['k-bad', 'k-ordinary']);
  const committed = all.find((m) => m.keys === 'k-bad')!;
  assert.equal(committed.msgId, sendResult.msgId);
  assert.equal(committed.body.toString(), 'decide me later');
  assert.equal(committed.preparedTransactionOffset, halfOffset);
});
