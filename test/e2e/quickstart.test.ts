// The README's quick start, followed as a user would: `ledgermq dev` (what `npm start` runs; here on free ports
// and in a temp dir), the CLI's send / consume / raft status, the transactional producer example as printed in
// the README, and a kill -9 of the leader's pid taken from DATA/cluster.json, after which sends work again and
// `raft status` names a new leader.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ClusterFile } from '../../cli/commands/dev.js';
import { LedgermqDev } from '../../bench/e2e/ledgermq-dev.js';
import { tempDir } from '../helpers/tmp.js';
import { freePortBlock } from '../harness/cluster.js';
import { cli, killClis, ok } from './cli-runner.js';

const REPO = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const EXAMPLE = path.join(REPO, 'examples', 'transactional-producer.mjs');
/** How long sends may keep failing after the leader is killed before the test gives up (the README says ~1 s). */
const FAILOVER_WAIT_MS = 20_000;

/** The fenced block that follows `marker` in the README. */
function readmeBlockAfter(marker: string): string {
  const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
  const at = readme.indexOf(marker);
  assert.ok(at >= 0, `README mentions ${marker}`);
  const open = readme.indexOf('```', at);
  const bodyStart = readme.indexOf('\n', open) + 1;
  const close = readme.indexOf('\n```', bodyStart);
  return readme.slice(bodyStart, close + 1);
}

function leaderOf(status: string): { id: string; addr: string } | null {
  const m = /^broker-a: leader (n\d+) \((\S+)\)/m.exec(status);
  return m ? { id: m[1]!, addr: m[2]! } : null;
}

test('the README quick start: dev cluster, CLI, transactional example, kill -9 of the leader', { timeout: 180_000 }, async (t) => {
  const dataDir = tempDir('ledgermq-quickstart-');
  t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  t.after(killClis);
  const dev = await LedgermqDev.start({ nodes: 3, dataDir, segmentMb: 8, portBlock: freePortBlock });
  t.after(() => dev.stop());
  const ns = ['--namesrv', dev.namesrv];

  await t.test('send, consume and raft status as the README shows', async () => {
    assert.match(ok(await cli(['send', ...ns, '--topic', 'demo', '--body', 'hello']), 'send'), /^SEND_OK msgId=\S+ offsetMsgId=\S+ queue=broker-a\/\d+ queueOffset=0$/m);
    const consumed = ok(await cli(['consume', ...ns, '--topic', 'demo', '--group', 'g1', '--count', '1'], 30_000), 'consume');
    assert.match(consumed, /^demo queue=\d+ offset=0 msgId=\S+ body=hello$/m);
    const status = ok(await cli(['raft', 'status', ...ns]), 'raft status');
    assert.ok(leaderOf(status), `raft status names a leader: ${status}`);
    assert.equal(status.match(/ (leader|follower) +voter /g)?.length, 3, `three voters: ${status}`);
  });

  await t.test('the transactional producer example runs as printed', async () => {
    const printed = readmeBlockAfter('`node examples/transactional-producer.mjs` runs this');
    const code = fs.readFileSync(EXAMPLE, 'utf8').replace(/^(\/\/.*\n)+/, ''); // its heading comment is not printed
    assert.equal(printed, code, 'the README prints examples/transactional-producer.mjs as it is');
    const out = ok(await cli([], 60_000, { script: EXAMPLE, env: { NAMESRV: dev.namesrv } }), 'the example');
    assert.match(out, /^order-1: local COMMIT, ended true, msgId \S+$/m);
    assert.match(out, /^order-2: local ROLLBACK, ended true, msgId \S+$/m);
    assert.match(out, /^order-3: local UNKNOWN, ended false, msgId \S+$/m, 'UNKNOWN is no decision: nothing is ended');
    assert.match(out, /^consumed order-1 \{"orderId":"order-1"\}$/m, out);
    assert.match(out, /^consumed order-3 \{"orderId":"order-3"\}$/m, 'order-3 is committed by the back-check');
    assert.doesNotMatch(out, /consumed order-2/, 'the rolled back order is never delivered');
    assert.equal(out.match(/^consumed /gm)?.length, 2, 'each committed order once');
  });

  await t.test('kill -9 of the leader: sends work again and raft status shows the new leader', async () => {
    const before = leaderOf(ok(await cli(['raft', 'status', ...ns]), 'raft status'))!;
    const cluster = JSON.parse(fs.readFileSync(path.join(dataDir, 'cluster.json'), 'utf8')) as ClusterFile;
    const victim = cluster.brokers.find((b) => b.addr === before.addr);
    assert.ok(victim, `cluster.json lists the leader ${before.addr}`);
    process.kill(victim.pid, 'SIGKILL');
    const killedAt = Date.now();

    let sent = null;
    let attempts = 0;
    while (sent === null && Date.now() - killedAt < FAILOVER_WAIT_MS) {
      attempts++;
      const r = await cli(['send', ...ns, '--topic', 'demo', '--body', 'after-failover'], 30_000);
      if (r.code === 0) sent = r.stdout;
    }
    assert.ok(sent !== null, `a send succeeded within ${FAILOVER_WAIT_MS} ms of the kill`);
    assert.match(sent, /^SEND_OK /m);
    t.diagnostic(`first successful CLI send finished ${Date.now() - killedAt} ms after the kill (${attempts} attempt(s), each a new process)`);

    const status = ok(await cli(['raft', 'status', ...ns]), 'raft status after the kill');
    const after = leaderOf(status);
    assert.ok(after && after.id !== before.id, `a new leader: ${status}`);
    assert.match(status, new RegExp(`^  ${before.id} +raft \\S+ +unreachable$`, 'm'), `the killed node is shown unreachable: ${status}`);
    const consumed = ok(await cli(['consume', ...ns, '--topic', 'demo', '--group', 'g1', '--count', '1'], 30_000), 'consume after the kill');
    assert.match(consumed, /body=after-failover$/m, 'g1 continues after its committed offset');
  });
});
