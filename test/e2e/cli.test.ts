// End to end, real processes: the `ledgermq` command used as a user would against a running cluster: topic
// create/list/route, send, consume, raft status, and --help of every command.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cli, killClis, ok } from './cli-runner.js';
import { cleanupStack, inWindows, startCluster } from './helpers.js';

test('the ledgermq CLI against a running cluster', { timeout: 120_000 }, async (t) => {
  const started = Date.now();
  t.after(killClis);
  const cleanup = cleanupStack(t);
  const cluster = await startCluster(cleanup, { nodes: 1 });
  const ns = ['--namesrv', cluster.namesrvAddr];
  const node = cluster.node('n0');

  await t.test('--help works for every command', async () => {
    const commands: Array<[string[], RegExp]> = [
      [[], /ledgermq <command> \[options\][\s\S]*namesrv[\s\S]*broker[\s\S]*dev[\s\S]*topic[\s\S]*send[\s\S]*consume[\s\S]*raft/],
      [['namesrv'], /--port/],
      [['broker'], /--raft-peers/],
      [['dev'], /--nodes/],
      [['topic'], /create[\s\S]*list[\s\S]*route/],
      [['send'], /--topic/],
      [['consume'], /--group/],
      [['raft'], /status[\s\S]*transfer-leader/],
    ];
    const results = await inWindows(commands, 4, ([cmd]) => cli([...cmd, '--help']));
    for (const [i, [cmd, pattern]] of commands.entries()) {
      const out = ok(results[i]!, `ledgermq ${cmd.join(' ')} --help`);
      assert.match(out, pattern, `ledgermq ${cmd.join(' ')} --help: ${out}`);
      assert.match(out, /--help/, 'lists --help');
    }
    const none = await cli([]);
    assert.equal(none.code, 1, 'no command is an error');
    assert.match(none.stderr, /Name a command/);
    const unknown = await cli(['send', '--topic', 'x', '--bogus-option', '1', ...ns]);
    assert.equal(unknown.code, 1, 'unknown options are refused');
    assert.match(unknown.stderr, /Unknown argument.*bogus-option/);
  });

  await t.test('topic create, list, route', async () => {
    assert.match(ok(await cli(['topic', 'create', '--topic', 'demo', '--queues', '4', ...ns]), 'topic create'), /^topic demo created with 4 queues$/m);
    const list = ok(await cli(['topic', 'list', ...ns]), 'topic list').split('\n');
    assert(list.includes('demo'), `topic list: ${list.join(', ')}`);
    const route = JSON.parse(ok(await cli(['topic', 'route', '--topic', 'demo', ...ns]), 'topic route')) as {
      queueDatas: Array<{ brokerName: string; readQueueNums: number; writeQueueNums: number; perm: number }>;
      brokerDatas: Array<{ brokerName: string; brokerAddrs: Record<string, string> }>;
    };
    assert.deepEqual(route.queueDatas.map((q) => [q.brokerName, q.readQueueNums, q.writeQueueNums, q.perm]), [['broker-a', 4, 4, 6]]);
    assert.equal(route.brokerDatas[0]?.brokerAddrs['0'], node.addr, 'the route names the broker as master');
    const missing = await cli(['topic', 'route', '--topic', 'no_such_topic', ...ns]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no_such_topic/, 'a missing route is reported by name');
    const noTopic = await cli(['topic', 'create', ...ns]);
    assert.equal(noTopic.code, 1);
    assert.match(noTopic.stderr, /needs --topic/);
  });

  await t.test('send, then consume it with a new group', async () => {
    const sent = ok(await cli(['send', ...ns, '--topic', 'demo', '--body', 'hello', '--tag', 'TagA', '--key', 'order-1']), 'send');
    const m = /^SEND_OK msgId=([0-9A-F]{32}) offsetMsgId=([0-9A-F]{32}) queue=broker-a\/([0-3]) queueOffset=0$/m.exec(sent);
    assert(m, `send output: ${sent}`);
    const consumed = ok(await cli(['consume', ...ns, '--topic', 'demo', '--group', 'g1', '--count', '1'], 30_000), 'consume');
    const lines = consumed.trim().split('\n');
    assert.equal(lines.length, 1, `one line per message: ${consumed}`);
    assert.equal(lines[0], `demo queue=${m[3]} offset=0 msgId=${m[1]} tags=TagA keys=order-1 body=hello`);
    // The group committed its offset at shutdown: consuming again finds nothing new.
    const again = await cli(['consume', ...ns, '--topic', 'demo', '--group', 'g1', '--timeout-ms', '1500', '--quiet'], 30_000);
    assert.match(ok(again, 'consume again'), /^consumed 0 messages$/m);
    // A bulk send reports its summary.
    assert.match(ok(await cli(['send', ...ns, '--topic', 'demo', '--count', '200', '--size', '64']), 'bulk send'), /^sent 200 of 200 messages in /m);
    assert.match(ok(await cli(['consume', ...ns, '--topic', 'demo', '--group', 'g1', '--count', '200', '--quiet'], 30_000), 'bulk consume'), /^consumed 200 messages$/m);
  });

  await t.test('raft status shows the leader', async () => {
    const out = ok(await cli(['raft', 'status', ...ns]), 'raft status');
    assert.match(out, new RegExp(`^broker-a: leader n0 \\(${node.addr.replace(/\./g, '\\.')}\\), term \\d+$`, 'm'), out);
    assert.match(out, /^ {2}n0 +\S+ +leader +voter +term \d+ last \d+ commit \d+ applied \d+ lag 0$/m, out);
    const json = JSON.parse(ok(await cli(['raft', 'status', '--json', ...ns]), 'raft status --json')) as Record<string, Array<{ raftId: string; role: string; ready: boolean }>>;
    assert.deepEqual(json['broker-a']?.map((n) => [n.raftId, n.role, n.ready]), [['n0', 'leader', true]]);
  });

  await t.test('a name server that is not there is a clear error, not a hang', async () => {
    const r = await cli(['topic', 'list', '--namesrv', '127.0.0.1:1'], 30_000);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /127\.0\.0\.1:1/, `stderr: ${r.stderr}`);
  });
  t.diagnostic(`total ${Date.now() - started} ms`);
});
