// Segment install through real Raft nodes: a follower that missed entries the group deleted is caught up by an
// install; queue offsets of queues without retained messages survive it; a restart right after it works; a
// crash in the middle of adopting it is finished at the next start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { raftDir } from '../../dledger/node.js';
import { draft } from '../helpers/messages.js';
import { TestGroup, waitFor, writeSome, type TestNode } from './node-harness.js';

const TIMEOUT_MS = 60_000;

/**
 * Stops a follower, lets the others write ~6 segments and delete all but the last by retention, and writes a
 * few entries after the last state save (so the leader's shipped state lies below the install index).
 * 'idle' queue 0 holds 5 messages, all in deleted segments.
 */
async function followerNeedingInstall(group: TestGroup, leader: TestNode): Promise<TestNode> {
  const follower = group.followers(leader)[0]!;
  await writeSome(leader, { states: 3, value: 2, topic: 'idle', messages: 5 });
  await group.waitCaughtUp(leader);
  await follower.stop();
  const behindAt = follower.store.commitLog.lastIndex;
  follower.logs.push(`[test] ${follower.id} stopped at entry ${behindAt}`);
  await writeSome(leader, { states: 10, value: 3, topic: 'busy', messages: 90, bodyBytes: 4000 });
  await group.waitCaughtUp(leader);
  for (const n of group.nodes.filter((x) => x.running)) {
    n.saveState();
    n.store.runRetention(Date.now() + 60_000);
  }
  assert.ok(leader.store.commitLog.firstIndex > behindAt + 1, `the leader deleted what the follower lacks (first index ${leader.store.commitLog.firstIndex})`);
  leader.shipSavedState = true;
  await writeSome(leader, { states: 4, value: 5 });
  await group.waitCaughtUp(leader);
  return follower;
}

/** A failed wait carries every node's log lines, so a failure in CI can be read without a rerun. */
async function withLogs(wait: Promise<void>, group: TestGroup): Promise<void> {
  await wait.catch((err: Error) => {
    const logs = group.nodes.map((n) => `--- ${n.id} (${n.running ? JSON.stringify(n.node.core.status()) : 'stopped'}):\n${n.logs.join('\n')}`);
    throw new Error(`${err.message}\n${logs.join('\n')}`);
  });
}

const adopted = (n: TestNode): boolean => n.logs.some((l) => l.includes('adopted segment install'));

test('a follower restarted right after a segment install starts, and queues whose messages were all deleted keep their offsets', { timeout: TIMEOUT_MS }, async () => {
  const group = await TestGroup.start(['a', 'b', 'c']);
  try {
    const leader = await group.waitForLeader();
    const follower = await followerNeedingInstall(group, leader);
    await follower.start();
    await withLogs(waitFor(() => adopted(follower), 15_000, 'the segment install'), group);
    // No checkpoint and no state save since: state.json covers less than the install index.
    await follower.crash();
    await follower.start();
    assert.equal(follower.fatal, null);
    await group.waitCaughtUp(leader);
    assert.equal(follower.owner.sum, leader.owner.sum, 'the replicated state matches the leader');
    await waitFor(() => follower.store.dispatcher.dispatchedIndex >= leader.store.dispatcher.dispatchedIndex, 5_000, 'dispatching');
    assert.equal(follower.store.getMaxOffset('idle', 0), 5);
    assert.equal(follower.store.getMaxOffset('busy', 0), leader.store.getMaxOffset('busy', 0));

    assert.equal(leader.node.transferLeadership(follower.id), null);
    await waitFor(() => follower.isReadyLeader, 10_000, 'the installed node to lead');
    const r = await follower.node.proposeMessages([draft('idle', 0, Buffer.from('after the install'))]);
    assert.equal(r.messages[0]!.queueOffset, 5, 'the idle queue continues where it stopped');
  } finally {
    await group.close();
  }
});

test('a crash in the middle of adopting a segment install is finished at the next start', { timeout: TIMEOUT_MS }, async () => {
  const group = await TestGroup.start(['a', 'b', 'c']);
  try {
    const leader = await group.waitForLeader();
    const follower = await followerNeedingInstall(group, leader);
    fs.mkdirSync(path.join(raftDir(follower.dir), 'install-left-over-by-a-crash'), { recursive: true });
    follower.failNextInstallState = true; // the store is replaced, then the state cannot be saved
    await follower.start();
    await withLogs(waitFor(() => follower.fatal !== null, 15_000, 'the failed install to stop the node'), group);
    assert.match(follower.fatal!.message, /segment install failed half-way/);
    await follower.crash();
    assert.ok(fs.existsSync(path.join(raftDir(follower.dir), 'install.json')), 'the install marker is left for the restart');

    await follower.start();
    assert.ok(follower.logs.some((l) => l.includes('interrupted')), 'the restart finished the install');
    assert.deepEqual(fs.readdirSync(raftDir(follower.dir)).filter((n) => n.startsWith('install')), [], 'no marker or staged install is left');
    await group.waitCaughtUp(leader);
    assert.equal(follower.owner.sum, leader.owner.sum, 'no entry between the old state and the installed log is missing');
    await waitFor(() => follower.store.dispatcher.dispatchedIndex >= leader.store.dispatcher.dispatchedIndex, 5_000, 'dispatching');
    assert.equal(follower.store.getMaxOffset('idle', 0), 5);
  } finally {
    await group.close();
  }
});
