// A checker that always answers UNKNOWN: after `--txn-check-max` checks the half message is parked in
// TRANS_CHECK_MAX_TIME_TOPIC and never checked again; `ledgermq txn list` shows it (age, check count) while it is
// pending and not afterwards; the real topic never receives it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Admin, TransactionProducer } from '../../client/index.js';
import { Prop } from '../../common/properties.js';
import { SystemTopic } from '../../common/topic.js';
import { cleanupStack, cli, cliTxnList, fastTxnArgs, QUICK_CLIENT, readTopic, recordingLogger, sleep, startCluster, tally, waitUntil, type PendingTxn } from './helpers.js';

const TOPIC = 'TxnNeverDecided';
const PG = 'PG_txn_maxcheck';
const CHECK_MAX = 3;
/** Long enough for both `txn list` runs to find it pending between the first and the last check. */
const CHECK_INTERVAL_MS = 1500;

test('after the maximum number of UNKNOWN answers a half message is parked and no longer checked', { timeout: 90_000 }, async (t) => {
  const cleanup = cleanupStack(t);
  const cluster = await startCluster(cleanup, { brokerArgs: fastTxnArgs(CHECK_MAX, 1000, CHECK_INTERVAL_MS) });
  const namesrv = cluster.namesrvAddr;
  const log = recordingLogger();
  t.after(() => {
    if (log.lines.length > 0) t.diagnostic(`client warnings:\n${log.lines.slice(-30).join('\n')}`);
  });
  const admin = new Admin({ namesrv, logger: log });
  await admin.start();
  cleanup(() => admin.shutdown());
  await admin.createTopic(TOPIC, { queues: 2 });

  const checks: Array<{ msgId: string; at: number }> = [];
  const producer = new TransactionProducer({
    namesrv,
    group: PG,
    logger: log,
    ...QUICK_CLIENT,
    checker: (m) => {
      checks.push({ msgId: m.msgId, at: Date.now() });
      return 'UNKNOWN';
    },
  });
  await producer.start();
  cleanup(() => producer.shutdown());

  const sentAt = Date.now();
  const { sendResult, localState, ended } = await producer.sendMessageInTransaction({ topic: TOPIC, body: 'undecided', keys: 'k-undecided' }, () => 'UNKNOWN');
  assert.equal(localState, 'UNKNOWN');
  assert.equal(ended, false);
  const msgId = sendResult.msgId;

  // Pending and checked at least once: `txn list` shows it with its age and check count.
  await waitUntil(() => checks.length >= 1, 'the first check', 10_000);
  const [json, text] = await Promise.all([cliTxnList(namesrv, PG), cli(['txn', 'list', '--namesrv', namesrv, '--group', PG])]);
  const listed = json['broker-a'] ?? [];
  const entry = listed.find((p: PendingTxn) => p.msgId === msgId);
  assert.ok(entry, `txn list shows the pending transaction: ${JSON.stringify(listed)}`);
  assert.equal(entry.topic, TOPIC);
  assert.equal(entry.producerGroup, PG);
  assert.ok(entry.ageMs >= 1000 && entry.ageMs <= Date.now() - sentAt + 1000, `age ${entry.ageMs} ms`);
  assert.ok(entry.checks >= 1 && entry.checks <= CHECK_MAX, `checks ${entry.checks}`);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /broker-a: 1 pending transaction\(s\)/);
  assert.match(text.stdout, new RegExp(`msgId=${msgId} topic=${TOPIC} group=${PG} age=\\d+\\.\\ds checks=\\d`));

  // Parked after CHECK_MAX checks, in TRANS_CHECK_MAX_TIME_TOPIC with its body and ids.
  let parked = await readTopic(namesrv, SystemTopic.TRANS_CHECK_MAX_TIME).catch(() => []);
  await waitUntil(
    async () => (parked = await readTopic(namesrv, SystemTopic.TRANS_CHECK_MAX_TIME).catch(() => [])).some((m) => m.msgId === msgId),
    `the message in ${SystemTopic.TRANS_CHECK_MAX_TIME}`,
    15_000,
    () => `checks so far: ${checks.length}`,
  );
  const moved = parked.filter((m) => m.msgId === msgId);
  assert.equal(moved.length, 1, 'parked once');
  assert.equal(moved[0]!.body.toString(), 'undecided');
  assert.equal(moved[0]!.keys, 'k-undecided');
  assert.equal(moved[0]!.properties[Prop.TRANSACTION_CHECK_TIMES], String(CHECK_MAX));
  assert.equal(moved[0]!.properties[Prop.PRODUCER_GROUP], PG);

  const checksWhenParked = checks.length;
  await sleep(2 * CHECK_INTERVAL_MS + 500); // two more check intervals
  assert.equal(checks.length, CHECK_MAX, `exactly ${CHECK_MAX} checks (${checksWhenParked} when parked): ${JSON.stringify(checks.map((c) => c.at - sentAt))}`);
  assert.deepEqual([...tally(checks.map((c) => c.msgId))], [[msgId, CHECK_MAX]]);
  for (let i = 1; i < checks.length; i++) assert.ok(checks[i]!.at - checks[i - 1]!.at >= CHECK_INTERVAL_MS - 300, 'checks are an interval apart');

  const after = (await cliTxnList(namesrv, PG))['broker-a'] ?? [];
  assert.equal(after.length, 0, `txn list no longer shows it: ${JSON.stringify(after)}`);
  assert.equal((await readTopic(namesrv, TOPIC)).length, 0, 'the real topic never got it');
});
