import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { IgnoreReason } from '../../../dledger/core/reasons.js';
import type { InstallSnapshotMessage } from '../../../dledger/core/types.js';
import { actionsOf, Cluster, sentOf } from './harness.js';

/** A cluster where c missed everything while a appended and then dropped its log through `through`. */
function laggingFollower(through: number): Cluster {
  const cluster = new Cluster({ voters: ['a', 'b', 'c'] });
  cluster.elect('a');
  cluster.isolate('c');
  cluster.propose('a', 10);
  cluster.stabilize();
  cluster.node('a').log.compactThrough(through); // retention between calls (R10)
  cluster.heal();
  return cluster;
}

function progressOf(cluster: Cluster, leader: string, id: string) {
  const progress = cluster.node(leader).status().progress.find((entry) => entry.id === id);
  assert(progress !== undefined);
  return progress;
}

describe('segment install (snapshots)', () => {
  test('a follower behind the leader first index gets the segments up to the commit index', () => {
    const cluster = laggingFollower(8);
    cluster.tick('a');
    cluster.stabilize();
    const sent = actionsOf(cluster.node('a').history, 'sendSnapshot');
    assert.equal(sent.length, 1);
    const message = sent[0]?.message as InstallSnapshotMessage;
    assert.equal(message.index, 11, 'the leader commit index');
    assert.equal(message.indexTerm, 1);
    assert.deepEqual(message.membership.voters, ['a', 'b', 'c']);
    const c = cluster.node('c');
    assert.deepEqual(actionsOf(c.history, 'installSnapshot').map((action) => action.index), [11]);
    assert.equal(c.core.commitIndex, 11);
    assert.equal(c.log.firstIndex(), 9, 'the transferred segments start at the leader first index');
    assert.equal(progressOf(cluster, 'a', 'c').state, 'replicate');
    cluster.propose('a', 2);
    cluster.stabilize();
    assert.equal(c.log.lastIndex(), 13, 'normal replication resumes after the install');
  });

  test('the follower answers afterPersist, and the leader waits in snapshot state meanwhile', () => {
    const cluster = laggingFollower(8);
    cluster.tick('a');
    for (let round = 0; round < 10 && cluster.snapshots.length === 0; round++) cluster.deliver();
    assert.equal(progressOf(cluster, 'a', 'c').state, 'snapshot');
    assert.equal(progressOf(cluster, 'a', 'c').pendingSnapshot, 11);
    cluster.propose('a', 1);
    assert.equal(cluster.queue.filter((message) => message.to === 'c' && message.type === 'append').length, 0, 'nothing else is sent');
    const transfer = cluster.snapshots.splice(0)[0];
    assert(transfer !== undefined);
    const { message } = transfer;
    const c = cluster.node('c');
    c.staged = cluster.node('a').log.image(message.index);
    const actions = cluster.step('c', message);
    const installAt = actions.findIndex((action) => action.type === 'installSnapshot');
    const answer = actions.find((action) => action.type === 'send');
    assert(installAt >= 0 && answer?.type === 'send' && answer.afterPersist);
    assert.equal(sentOf(actions, 'appendResponse')[0]?.index, 11);
  });

  test('a failed transfer goes back to probing and the snapshot is sent again', () => {
    const cluster = laggingFollower(8);
    cluster.tick('a');
    for (let round = 0; round < 10 && cluster.snapshots.length === 0; round++) cluster.deliver();
    cluster.snapshots = [];
    cluster.step('a', { type: 'snapshotStatus', to: 'c', ok: false });
    assert.equal(progressOf(cluster, 'a', 'c').state, 'probe');
    cluster.tick('a');
    cluster.stabilize();
    assert.equal(actionsOf(cluster.node('a').history, 'sendSnapshot').length, 2);
    assert.equal(cluster.node('c').core.commitIndex, 11);
  });

  test('a follower that already holds the snapshot entry only moves its commit index', () => {
    const cluster = new Cluster({ voters: ['a', 'b', 'c'] });
    cluster.elect('a');
    cluster.propose('a', 4);
    cluster.stabilize();
    const b = cluster.node('b');
    const message: InstallSnapshotMessage = {
      type: 'installSnapshot',
      from: 'a',
      to: 'b',
      term: 1,
      index: 5,
      indexTerm: 1,
      membership: b.core.activeMembership(),
    };
    b.staged = cluster.node('a').log.image(5);
    const stale = cluster.step('b', message);
    assert.equal(actionsOf(stale, 'installSnapshot').length, 0);
    assert.equal(actionsOf(stale, 'ignored')[0]?.reason, IgnoreReason.SnapshotNotNewer, 'index 5 is already committed here');
    cluster.propose('a', 2);
    cluster.deliver((entry) => entry.to === 'b' && entry.type === 'append');
    assert.equal(b.core.commitIndex, 5);
    const fresh = cluster.step('b', { ...message, index: 7 });
    assert.equal(actionsOf(fresh, 'installSnapshot').length, 0, 'b holds entry 7 already');
    assert.deepEqual(actionsOf(fresh, 'commit'), [{ type: 'commit', index: 7 }]);
  });
});
