// A transactional producer process is `kill -9`ed with N half messages sent and none ended. A second producer of the
// same group, started afterwards, is asked by the broker about every one of them and settles them by a rule on the
// body (every third rolled back, the rest committed); a consumer sees exactly the committed ones, each once.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Admin, PushConsumer, TransactionProducer, type MessageExt, type TxnState } from '../../client/index.js';
import { cleanupStack, fastTxnArgs, pendingTxns, QUICK_CLIENT, recordingLogger, sleep, startCluster, tally, waitUntil } from './helpers.js';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'txn-child.js');
const TOPIC = 'TxnCrash';
const PG = 'PG_txn_crash';
const N = 30;

const decide = (body: string): TxnState => (Number(body.split('-')[1]) % 3 === 0 ? 'ROLLBACK' : 'COMMIT');

test('a crashed producer\'s transactions are settled by a later producer of the same group', { timeout: 90_000 }, async (t) => {
  const cleanup = cleanupStack(t);
  // Enough checks that the ones sent to the dying producer cannot exhaust them.
  const cluster = await startCluster(cleanup, { brokerArgs: fastTxnArgs(15) });
  const namesrv = cluster.namesrvAddr;
  const log = recordingLogger();
  t.after(() => {
    if (log.lines.length > 0) t.diagnostic(`client warnings:\n${log.lines.slice(-30).join('\n')}`);
  });
  const admin = new Admin({ namesrv, logger: log });
  await admin.start();
  cleanup(() => admin.shutdown());
  await admin.createTopic(TOPIC, { queues: 4 });

  // 1. The first producer, in its own process, sends N half messages and dies before ending any.
  const child = spawn(process.execPath, [CHILD, '--namesrv', namesrv, '--group', PG, '--topic', TOPIC, '--count', String(N), '--prefix', 'crash'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((r) => child.once('exit', r));
  cleanup(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  const halves = new Map<number, string>();
  let output = '';
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const allSent = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      output += c.toString();
      let nl: number;
      while ((nl = output.indexOf('\n')) >= 0) {
        const line = output.slice(0, nl);
        output = output.slice(nl + 1);
        const m = /^half (\d+) (\S+)$/.exec(line);
        if (m) halves.set(Number(m[1]), m[2]!);
        if (line === 'halves-sent') resolve();
      }
    });
    void exited.then(() => reject(new Error(`the producer process exited early; stderr: ${stderr}`)));
  });
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([allSent, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no halves-sent within 20 s; stderr: ${stderr}`)), 20_000)))]);
  clearTimeout(timer);
  child.kill('SIGKILL');
  await exited;
  assert.equal(halves.size, N);

  let pendingAfterCrash = await pendingTxns(cluster, PG);
  await waitUntil(async () => (pendingAfterCrash = await pendingTxns(cluster, PG)).length === N, 'every half message to be listed as pending', 5000, () => `${pendingAfterCrash.length} pending`);
  assert.deepEqual(new Set(pendingAfterCrash.map((p) => p.msgId)), new Set(halves.values()));
  await sleep(1500); // older than the transaction timeout, with nobody to ask: still pending
  assert.equal((await pendingTxns(cluster, PG)).length, N);

  // 2. A consumer, then a second producer of the same group that has sent nothing.
  const delivered: MessageExt[] = [];
  const consumer = new PushConsumer({ namesrv, group: 'CG_txn_crash', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', rebalanceIntervalMs: 1000, logger: log });
  consumer.subscribe(TOPIC, '*');
  consumer.onMessage((msgs) => {
    delivered.push(...msgs);
    return 'CONSUME_SUCCESS';
  });
  await consumer.start();
  cleanup(() => consumer.shutdown());

  const checked: string[] = [];
  const producer = new TransactionProducer({
    namesrv,
    group: PG,
    logger: log,
    ...QUICK_CLIENT,
    checker: (m) => {
      checked.push(m.msgId);
      return decide(m.body.toString());
    },
  });
  await producer.start();
  cleanup(() => producer.shutdown());

  const expected = new Map<string, string>(); // msgId -> body
  for (const [i, msgId] of halves) if (decide(`crash-${i}`) === 'COMMIT') expected.set(msgId, `crash-${i}`);
  await waitUntil(async () => (await pendingTxns(cluster, PG)).length === 0, 'every transaction to be settled by the second producer', 20_000, () => `checked ${checked.length}`);
  await waitUntil(() => new Set(delivered.map((m) => m.msgId)).size >= expected.size, 'the committed messages to be consumed', 15_000, () => `delivered ${delivered.length} of ${expected.size}`);
  await sleep(2000); // stragglers: more check rounds, more pulls

  const byId = tally(delivered.map((m) => m.msgId));
  for (const [msgId, body] of expected) assert.equal(byId.get(msgId), 1, `${body} delivered once`);
  assert.equal(delivered.length, expected.size, 'only the committed messages, each once');
  for (const m of delivered) assert.equal(m.body.toString(), expected.get(m.msgId));
  const checks = tally(checked);
  for (const msgId of halves.values()) assert.equal(checks.get(msgId), 1, `the second producer was asked once about ${msgId}`);
  assert.equal(checked.length, N);
});
