import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { makeMembership } from '../../../dledger/core/membership.js';
import { SeededPrng } from '../../../dledger/core/prng.js';
import { RaftCore } from '../../../dledger/core/raft-core.js';
import { AppendReject, ProposeReject } from '../../../dledger/core/reasons.js';
import type { AppendMessage } from '../../../dledger/core/types.js';
import { SimLog } from '../../sim/sim-log.js';
import { actionsOf, Cluster, sentOf } from './harness.js';

function ids(cluster: Cluster, id: string): string[] {
  return cluster.node(id).log.slice(1, cluster.node(id).log.lastIndex()).map((entry) => entry.id);
}

describe('replication', () => {
  test('a divergent uncommitted tail is truncated above the commit index and rewritten', () => {
    const cluster = new Cluster({ voters: ['a', 'b', 'c'], config: { checkQuorum: false } });
    cluster.elect('a');
    cluster.propose('a', 3); // only a will ever hold these
    cluster.take();
    cluster.isolate('a');
    cluster.elect('b');
    cluster.propose('b', 2);
    cluster.stabilize();
    cluster.heal();
    cluster.tick('b');
    cluster.stabilize();
    const truncates = actionsOf(cluster.node('a').history, 'truncate');
    assert.deepEqual(truncates, [{ type: 'truncate', fromIndex: 2 }]);
    assert.deepEqual(ids(cluster, 'a'), ids(cluster, 'b'));
    assert.equal(cluster.node('a').core.commitIndex, cluster.node('b').core.commitIndex);
  });

  test('duplicated and stale appends are acknowledged without rewriting anything', () => {
    const cluster = new Cluster({ voters: ['a', 'b', 'c'] });
    cluster.elect('a');
    cluster.propose('a', 2);
    const appends = cluster.take((message) => message.type === 'append' && message.to === 'b') as AppendMessage[];
    assert.equal(appends.length, 1);
    const first = appends[0] as AppendMessage;
    cluster.step('b', first);
    cluster.propose('a', 1);
    cluster.stabilize();
    for (const replay of [first, first]) {
      const actions = cluster.step('b', replay);
      assert.deepEqual(actionsOf(actions, 'truncate'), []);
      assert.deepEqual(actionsOf(actions, 'appendEntries'), []);
      assert.equal(sentOf(actions, 'appendResponse')[0]?.success, true);
    }
    assert.deepEqual(ids(cluster, 'b'), ids(cluster, 'a'));
  });

  test('a rejection hint skips a whole divergent term in one round trip', () => {
    const cluster = new Cluster({ voters: ['a', 'b', 'c'], config: { checkQuorum: false } });
    cluster.elect('a');
    cluster.propose('a', 60); // 60 entries of term 1 that only a will hold
    cluster.take();
    cluster.isolate('a');
    cluster.elect('c');
    cluster.propose('c', 40); // b and c: 1..42, mostly term 2
    cluster.stabilize();
    cluster.isolate('c');
    cluster.heal();
    cluster.isolate('c');
    cluster.elect('b'); // with a's vote: b's last term 2 beats a's 1
    cluster.stabilize();
    const rejections = sentOf(cluster.node('a').history, 'appendResponse').filter((response) => !response.success);
    assert.equal(rejections.length, 1, 'one rejection, then the probe lands below the divergence');
    assert.equal(rejections[0]?.reason, AppendReject.PrevTermMismatch);
    assert.deepEqual(actionsOf(cluster.node('a').history, 'truncate'), [{ type: 'truncate', fromIndex: 2 }]);
    assert.deepEqual(ids(cluster, 'a'), ids(cluster, 'b'));
  });

  test('a leader never commits an entry of an earlier term by counting replicas (Raft figure 8)', () => {
    const config = { preVote: false, checkQuorum: false };
    const cluster = new Cluster({ voters: ['a', 'b', 'c'], segmentEntries: 1, config });
    cluster.elect('a');
    cluster.propose('a', 1); // index 2, term 1, on a only
    cluster.take();
    // b's campaign for term 2 deposes a (its vote request reaches a only) but b cannot win.
    cluster.step('b', { type: 'campaign' });
    cluster.deliver((message) => message.to === 'a');
    cluster.deliver((message) => message.to === 'b');
    cluster.take();
    assert.equal(cluster.node('a').core.isLeader, false);
    cluster.isolate('b');
    cluster.step('a', { type: 'campaign' });
    cluster.deliver();
    cluster.deliver();
    const a = cluster.node('a');
    assert.equal(a.core.isLeader, true);
    assert.equal(a.core.term, 3);
    assert.equal(a.log.lastIndex(), 3, 'old entry at 2, no-op of term 3 at 3');
    // c receives index 2 alone (batches never cross one-entry segments) and acknowledges it.
    const matchOfC = () => a.status().progress.find((progress) => progress.id === 'c')?.match ?? 0;
    for (let round = 0; round < 10 && matchOfC() < 2; round++) cluster.deliver();
    assert.equal(matchOfC(), 2);
    assert.equal(cluster.node('c').log.lastIndex(), 2);
    assert.equal(a.core.commitIndex, 1, 'index 2 is on a majority but of term 1: not committed by counting');
    cluster.stabilize();
    assert.equal(a.core.commitIndex, 3, 'committed together with the entry of term 3');
  });

  test('the leader counts its own log only as far as it is durable', () => {
    const cluster = new Cluster({ voters: ['a', 'b', 'c'] });
    cluster.elect('a');
    cluster.autoPersist = false;
    cluster.propose('a', 1);
    cluster.deliver((message) => message.to === 'b');
    cluster.persist('b');
    cluster.deliver((message) => message.to === 'a');
    assert.equal(cluster.node('a').core.commitIndex, 1, 'a and b make a majority, but a is not durable');
    cluster.persist('a');
    assert.equal(cluster.node('a').core.commitIndex, 2);
  });

  test('pipelining is bounded by the number of batches in flight', () => {
    const cluster = new Cluster({ voters: ['a', 'b', 'c'], segmentEntries: 1, config: { inflightBatchesMax: 2 } });
    cluster.elect('a');
    cluster.propose('a', 6);
    const toB = () => cluster.queue.filter((message) => message.type === 'append' && message.to === 'b') as AppendMessage[];
    assert.equal(toB().length, 2, 'two batches of one entry each');
    const first = cluster.takeFirst((message) => message.type === 'append' && message.to === 'b');
    cluster.step('b', first as AppendMessage);
    cluster.deliver((message) => message.to === 'a' && message.from === 'b');
    assert.equal(toB().length, 2, 'one acknowledged, one more sent');
  });

  test('pipelining is bounded by bytes in flight', () => {
    const cluster = new Cluster({
      voters: ['a', 'b', 'c'],
      entryBytes: 100,
      config: { inflightBatchesMax: 16, batchBytesMax: 200, inflightBytesMax: 450 },
    });
    cluster.elect('a');
    cluster.propose('a', 20);
    const batches = cluster.queue.filter((message) => message.type === 'append' && message.to === 'b') as AppendMessage[];
    assert.equal(batches.length, 3, '200 + 200 + 200 bytes: the last one crosses the 450-byte bound');
    for (const batch of batches) assert(batch.lastIndex - batch.prevIndex <= 2, 'each batch holds at most 200 bytes');
    const progress = cluster.node('a').status().progress.find((entry) => entry.id === 'b');
    assert.equal(progress?.inflightBatches, 3);
  });

  test('heartbeats carry min(follower match, leader commit)', () => {
    const cluster = new Cluster({ voters: ['a', 'b', 'c'] });
    cluster.elect('a');
    cluster.cut('a', 'c');
    cluster.propose('a', 3);
    cluster.stabilize();
    assert.equal(cluster.node('a').core.commitIndex, 4);
    cluster.tick('a');
    const heartbeats = cluster.queue.filter((message) => message.type === 'heartbeat');
    const byTarget = new Map(heartbeats.map((message) => [message.to, message.type === 'heartbeat' ? message.commit : -1]));
    assert.equal(byTarget.get('b'), 4);
    assert.equal(byTarget.has('c'), false, 'cut');
    cluster.heal();
    cluster.tick('a');
    const toC = cluster.queue.find((message) => message.type === 'heartbeat' && message.to === 'c');
    assert(toC?.type === 'heartbeat' && toC.commit === 1, 'c only matched the no-op');
  });

  test('proposals are refused with a reason when not leader, before the no-op, or over the uncommitted bounds', () => {
    const log = new SimLog(makeMembership(['a']));
    const core = new RaftCore({
      id: 'a',
      log,
      rng: new SeededPrng(1),
      hardState: { term: 0, votedFor: null },
      membership: log.membershipState(),
    });
    assert.equal(core.canPropose(), ProposeReject.NotLeader);
    const actions = core.step({ type: 'campaign' });
    assert.equal(actionsOf(actions, 'roleChanged')[0]?.role, 'leader');
    assert.equal(core.canPropose(), ProposeReject.NoopPending);

    const cluster = new Cluster({ voters: ['a', 'b', 'c'], entryBytes: 10, config: { uncommittedEntriesMax: 3 } });
    cluster.elect('a');
    cluster.isolate('a');
    cluster.propose('a', 2);
    cluster.propose('a', 1);
    assert.equal(cluster.node('a').core.canPropose(), ProposeReject.UncommittedEntriesFull);

    const bytes = new Cluster({ voters: ['a', 'b'], entryBytes: 300, config: { batchBytesMax: 500, uncommittedBytesMax: 1000 } });
    bytes.elect('a');
    bytes.isolate('a');
    bytes.propose('a', 3);
    assert.equal(bytes.node('a').core.canPropose(), null);
    bytes.propose('a', 1);
    assert.equal(bytes.node('a').core.canPropose(), ProposeReject.UncommittedBytesFull);
  });

  test('an unreachable follower in replicate state falls back to probing', () => {
    const cluster = new Cluster({ voters: ['a', 'b', 'c'] });
    cluster.elect('a');
    const state = () => cluster.node('a').status().progress.find((progress) => progress.id === 'b')?.state;
    assert.equal(state(), 'replicate');
    cluster.step('a', { type: 'unreachable', to: 'b' });
    assert.equal(state(), 'probe');
  });

  test('a restarted follower keeps its durable log and catches up', () => {
    const cluster = new Cluster({ voters: ['a', 'b', 'c'] });
    cluster.elect('a');
    cluster.propose('a', 5);
    cluster.stabilize();
    cluster.restart('b');
    assert.equal(cluster.node('b').core.commitIndex, 0);
    cluster.propose('a', 1);
    cluster.stabilize();
    cluster.tick('a');
    cluster.stabilize();
    assert.equal(cluster.node('b').core.commitIndex, 7);
    assert.deepEqual(ids(cluster, 'b'), ids(cluster, 'a'));
  });
});
