// The TransactionProducer on the wire, against the fake name server and broker of the client tests (no processes):
// half-message flags and properties, END_TRANSACTION fields for COMMIT / ROLLBACK / UNKNOWN, retry after a not-leader
// answer, no retry after a refusal; CHECK_TRANSACTION_STATE answered on the same connection with the check's offsets,
// with bounded concurrency, once per half message in progress, and bad checks ignored.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { draftLength, writeMessage } from '../../common/message.js';
import { parseOffsetMessageId } from '../../common/message-id.js';
import { TransactionProducer, type MessageExt, type TxnState } from '../../client/index.js';
import { createRequest, createResponse, isOneway, RequestCode, ResponseCode, type Connection, type RemotingCommand } from '../../remoting/index.js';
import { cleanupStack, eventually, FakeBroker, FakeNameServer, recordingLogger, simpleRoute, sleep } from '../client/fakes.js';
import { draft } from '../helpers/messages.js';

const TOPIC = 'TxnWire';
const PG = 'PG_wire';

interface EndSeen {
  fields: Record<string, string>;
  oneway: boolean;
  connection: Connection;
}

async function setup(t: TestContext, checker: (m: MessageExt) => TxnState | Promise<TxnState>, checkConcurrency?: number) {
  const cleanup = cleanupStack(t);
  const ns = await FakeNameServer.start(cleanup);
  const broker = await FakeBroker.start('broker-a', cleanup);
  ns.routes.set(TOPIC, simpleRoute([broker], 2));
  ns.clusterInfo = JSON.stringify({ brokerAddrTable: { 'broker-a': { brokerName: 'broker-a', cluster: 'DefaultCluster', brokerAddrs: { '0': broker.address } } }, clusterAddrTable: { DefaultCluster: ['broker-a'] } });
  const ends: EndSeen[] = [];
  const endAnswers: Array<{ code: number; remark: string; ext?: Record<string, string> }> = [];
  broker.server.registerProcessor(RequestCode.END_TRANSACTION, (request, ctx) => {
    ends.push({ fields: { ...(request.extFields ?? {}) }, oneway: isOneway(request), connection: ctx.connection });
    const answer = endAnswers.shift() ?? { code: ResponseCode.SUCCESS, remark: 'committed' };
    return createResponse(request, answer.code, answer.remark, answer.ext ?? null);
  });
  let producerConnection: Connection | null = null;
  broker.hooks.set(RequestCode.HEART_BEAT, (request, connection) => {
    const data = JSON.parse((request.body as Buffer).toString('utf8')) as { producerDataSet: Array<{ groupName: string }> };
    if (data.producerDataSet.some((p) => p.groupName === PG)) producerConnection = connection;
    return 'default';
  });
  const log = recordingLogger();
  const producer = new TransactionProducer({ namesrv: ns.address, group: PG, checker, logger: log, retryBackoffMs: 0, ...(checkConcurrency ? { checkConcurrency } : {}) });
  await producer.start();
  cleanup(() => producer.shutdown());
  return { ns, broker, ends, endAnswers, producer, log, connection: () => producerConnection };
}

test('half message flags and END_TRANSACTION fields; retry after not-leader, none after a refusal', { timeout: 20_000 }, async (t) => {
  const { broker, ends, endAnswers, producer, connection } = await setup(t, () => 'UNKNOWN');
  // Announced to every master of the cluster before sending anything (the broker picks check targets from heartbeats).
  assert.ok(connection(), 'the producer group was in a heartbeat right after start');

  const results: Array<Awaited<ReturnType<typeof producer.sendMessageInTransaction>>> = [];
  for (const state of ['COMMIT', 'ROLLBACK', 'UNKNOWN'] as const) {
    results.push(await producer.sendMessageInTransaction({ topic: TOPIC, body: `body ${state}`, keys: `k-${state}` }, (msg, arg) => {
      assert.equal(arg, 'the arg');
      assert.equal(msg.topic, TOPIC);
      assert.match(msg.msgId, /^[0-9A-F]{32}$/);
      return state;
    }, 'the arg'));
  }
  await eventually(() => ends.length === 3, 5000, 'three END_TRANSACTIONs');
  for (const [i, state] of (['COMMIT', 'ROLLBACK', 'UNKNOWN'] as const).entries()) {
    const send = broker.sends[i]!;
    const r = results[i]!;
    assert.equal(send.sysFlag & 0xc, 0x4, 'sysFlag PREPARED');
    assert.equal(send.properties['TRAN_MSG'], 'true');
    assert.equal(send.properties['PGROUP'], PG);
    assert.equal(send.properties['UNIQ_KEY'], r.sendResult.msgId);
    assert.equal(r.localState, state);
    assert.equal(r.ended, state !== 'UNKNOWN');
    const end = ends[i]!;
    assert.deepEqual(end.fields, {
      producerGroup: PG,
      tranStateTableOffset: String(r.sendResult.queueOffset),
      commitLogOffset: String(parseOffsetMessageId(r.sendResult.offsetMsgId)!.commitLogOffset),
      commitOrRollback: String({ COMMIT: 8, ROLLBACK: 12, UNKNOWN: 0 }[state]),
      fromTransactionCheck: 'false',
      msgId: r.sendResult.msgId,
      transactionId: r.sendResult.msgId,
      topic: TOPIC,
    });
    assert.equal(end.oneway, state === 'UNKNOWN', 'only UNKNOWN goes oneway');
  }

  // A not-leader answer is retried; a refusal is not (the result says why).
  endAnswers.push({ code: ResponseCode.SERVICE_NOT_AVAILABLE, remark: 'not the leader of broker-a; no leader is ready yet' });
  const retried = await producer.sendMessageInTransaction({ topic: TOPIC, body: 'retried' }, () => 'COMMIT');
  assert.equal(retried.ended, true);
  assert.equal(ends.length, 5);
  assert.equal(ends[3]!.fields['msgId'], ends[4]!.fields['msgId']);
  endAnswers.push({ code: ResponseCode.SYSTEM_ERROR, remark: 'The producer group wrong' });
  const refused = await producer.sendMessageInTransaction({ topic: TOPIC, body: 'refused' }, () => 'ROLLBACK');
  assert.equal(refused.ended, false);
  assert.equal(refused.endError?.code, ResponseCode.SYSTEM_ERROR);
  assert.match(refused.endError?.message ?? '', /producer group wrong/);
  assert.equal(ends.length, 6);

  // A failed local transaction counts as UNKNOWN; a delayed transactional message is refused up front.
  const threw = await producer.sendMessageInTransaction({ topic: TOPIC, body: 'throws' }, () => {
    throw new Error('db down');
  });
  assert.equal(threw.localState, 'UNKNOWN');
  await assert.rejects(producer.sendMessageInTransaction({ topic: TOPIC, body: 'late', delayLevel: 2 }, () => 'COMMIT'), /cannot be delayed/);
});

function checkRequest(offset: number, props: Record<string, string>, body = Buffer.from(`half ${offset}`)): RemotingCommand {
  const d = draft(TOPIC, 1, body, props);
  const bytes = Buffer.alloc(draftLength(d));
  writeMessage(bytes, new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), 0, d, offset, 5000 + offset * 1000, Date.now());
  return createRequest(
    RequestCode.CHECK_TRANSACTION_STATE,
    { tranStateTableOffset: String(offset), commitLogOffset: String(5000 + offset * 1000), msgId: `UNIQ${offset}`, transactionId: `TX${offset}`, offsetMsgId: 'X', topic: TOPIC, bname: 'broker-a' },
    bytes,
  );
}

test('checks: answered on the same connection with their offsets, bounded concurrency, once per half, bad ones ignored', { timeout: 20_000 }, async (t) => {
  let running = 0;
  let maxRunning = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const asked: string[] = [];
  const { ends, connection, log } = await setup(
    t,
    async (m) => {
      asked.push(m.body.toString());
      if (m.body.toString() === 'throw') throw new Error('checker failed');
      running++;
      maxRunning = Math.max(maxRunning, running);
      await gate;
      running--;
      return Number(m.queueOffset) % 2 === 0 ? 'COMMIT' : 'ROLLBACK';
    },
    3,
  );
  const conn = connection()!;
  assert.ok(conn);
  const props = (i: number): Record<string, string> => ({ PGROUP: PG, TRAN_MSG: 'true', UNIQ_KEY: `UNIQ${i}`, __transactionId__: `UNIQ${i}` });
  for (let i = 0; i < 10; i++) conn.invokeOneway(checkRequest(i, props(i)));
  conn.invokeOneway(checkRequest(4, props(4))); // a repeat while the first is in progress: asked once
  // Ignored: another group's message, an undecodable body, missing offsets.
  conn.invokeOneway(checkRequest(20, { ...props(20), PGROUP: 'PG_other' }));
  conn.invokeOneway(createRequest(RequestCode.CHECK_TRANSACTION_STATE, { tranStateTableOffset: '21', commitLogOffset: '26000' }, Buffer.from('not a message')));
  conn.invokeOneway(createRequest(RequestCode.CHECK_TRANSACTION_STATE, { commitLogOffset: 'x' }, checkRequest(22, props(22)).body as Buffer));
  await eventually(() => running === 3, 5000, 'three checks running');
  await sleep(200);
  assert.equal(maxRunning, 3, 'no more than checkConcurrency checks at once');
  release();
  await eventually(() => ends.length === 10, 5000, 'ten answers');
  await sleep(200);
  assert.equal(ends.length, 10);
  assert.deepEqual(asked.sort(), Array.from({ length: 10 }, (_, i) => `half ${i}`).sort());
  for (const end of ends) {
    const i = Number(end.fields['tranStateTableOffset']);
    assert.equal(end.connection, conn, 'answered on the connection the check came in on');
    assert.deepEqual(end.fields, {
      producerGroup: PG,
      tranStateTableOffset: String(i),
      commitLogOffset: String(5000 + i * 1000),
      commitOrRollback: i % 2 === 0 ? '8' : '12',
      fromTransactionCheck: 'true',
      msgId: `UNIQ${i}`,
      transactionId: `TX${i}`,
      topic: TOPIC,
    });
    assert.equal(end.oneway, false);
  }
  assert.ok(log.warnings.some((w) => /producer group PG_other/.test(w)), log.warnings.join('\n'));
  assert.ok(log.warnings.some((w) => /does not decode/.test(w)), log.warnings.join('\n'));
  assert.ok(log.warnings.some((w) => /without valid tranStateTableOffset/.test(w)), log.warnings.join('\n'));

  // A throwing checker: UNKNOWN, sent oneway with commitOrRollback 0.
  conn.invokeOneway(checkRequest(30, props(30), Buffer.from('throw')));
  await eventually(() => ends.length === 11, 5000, 'the UNKNOWN answer');
  assert.equal(ends[10]!.fields['commitOrRollback'], '0');
  assert.equal(ends[10]!.oneway, true);
});
