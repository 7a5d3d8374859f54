// Segment install with real broker processes: a follower that missed segments the group deleted is caught up
// by an install while producers keep writing, is killed (SIGKILL) right after adopting it and must start again;
// a queue whose messages were all deleted keeps its offsets when the installed node leads; and the other nodes
// follow a leader that restarted on another client port.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestCluster, freePorts } from '../harness/cluster.js';
import { Admin, Producer } from '../../client/index.js';
import { RemotingClient, ResponseCode, createRequest } from '../../remoting/index.js';
import { RAFT_TRANSFER_CODE } from '../../dledger/limits.js';
import { sleep, waitCaughtUp } from './drill-kit.js';

const quiet = { warn: () => undefined, info: () => undefined, debug: () => undefined };

async function until(cond: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

test('drill: kill -9 a follower right after a segment install; it restarts, idle queues keep their offsets, peers follow a moved leader', { timeout: 150_000 }, async () => {
  const cfgDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgermq-install-drill-'));
  const cfg = path.join(cfgDir, 'broker.json');
  // Retention deletes every sealed segment the state snapshot covers (1 MiB segments).
  fs.writeFileSync(cfg, JSON.stringify({ retentionMs: 1, retentionIntervalMs: 300 }));
  const cluster = await TestCluster.start({ nodes: 3, segmentMb: 1, brokerArgs: ['--config', cfg] });
  const client = new RemotingClient({ logger: { warn: () => undefined } });
  const producer = new Producer({ namesrv: cluster.namesrvAddr, group: 'install-drill-pg', logger: quiet, sendTimeoutMs: 3000, retryTimesWhenSendFailed: 3 });
  const statusOf = async (id: string) => (await cluster.statuses()).find((s) => s.raftId === id);
  const transfer = async (from: string, to: string): Promise<void> => {
    const r = await client.invoke(cluster.node(from).addr, createRequest(RAFT_TRANSFER_CODE, { to }), 30_000);
    assert.equal(r.code, ResponseCode.SUCCESS, `transfer ${from} -> ${to}: ${r.remark}`);
    assert.equal(await cluster.waitForLeader(15_000, [from]), to);
  };
  let loading = false;
  let load: Promise<void> = Promise.resolve();
  const body = Buffer.alloc(16 * 1024, 1);
  try {
    const admin = new Admin({ namesrv: cluster.namesrvAddr, logger: quiet });
    await admin.start();
    try {
      await admin.createTopic('idle-T', { queues: 1 });
      await admin.createTopic('busy-T', { queues: 1 });
    } finally {
      await admin.shutdown();
    }
    await producer.start();
    for (let i = 0; i < 5; i++) assert.equal((await producer.send({ topic: 'idle-T', body: `idle-${i}` })).queueOffset, i);

    const leader = await cluster.waitForLeader();
    const follower = cluster.nodes.map((n) => n.raftId).find((id) => id !== leader)!;
    const third = cluster.nodes.map((n) => n.raftId).find((id) => id !== leader && id !== follower)!;
    const behind = (await statusOf(follower))!.lastIndex;
    await cluster.killNode(follower);
    loading = true;
    load = (async () => {
      while (loading) await Promise.all(Array.from({ length: 8 }, () => producer.send({ topic: 'busy-T', body }).catch(() => undefined)));
    })();
    await until(async () => ((await statusOf(leader))?.firstIndex ?? 0) > behind + 1, 60_000, 'retention to delete what the follower lacks');

    // Writes go on during the install, so the leader's applied state lags the install index.
    await cluster.startNode(follower);
    const adopted = (): boolean => cluster.recentLogs(400).split('\n').some((l) => l.startsWith(`[${follower}]`) && l.includes('adopted segment install'));
    await until(adopted, 30_000, 'the segment install');
    await cluster.killNode(follower);
    await cluster.startNode(follower);
    loading = false;
    await load;
    await waitCaughtUp(cluster, follower);

    await transfer(leader, follower);
    assert.equal((await producer.send({ topic: 'idle-T', body: 'idle-5' })).queueOffset, 5, 'the idle queue continues where it stopped');

    // The installed node, whose client address the others know, restarts on another port and leads again.
    await transfer(follower, leader);
    await cluster.killNode(follower);
    const [port] = await freePorts(1);
    const moved = cluster.node(follower);
    moved.port = port!;
    moved.addr = `127.0.0.1:${port}`;
    await cluster.startNode(follower);
    await waitCaughtUp(cluster, follower);
    await transfer(leader, follower);
    await until(async () => (await statusOf(third))?.leaderBrokerAddr === moved.addr, 10_000, `${third} to send clients to ${moved.addr}`);
  } catch (err) {
    console.error(`recent cluster logs:\n${cluster.recentLogs(120)}`);
    throw err;
  } finally {
    loading = false;
    await load;
    await producer.shutdown().catch(() => undefined);
    await client.close();
    await cluster.stop();
    fs.rmSync(cfgDir, { recursive: true, force: true });
  }
});
