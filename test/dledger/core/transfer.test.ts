import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { IgnoreReason, ProposeReject, TransferReject } from '../../../dledger/core/reasons.js';
import { actionsOf, Cluster, sentOf } from './harness.js';

const electionTicks = 10;

describe('leadership transfer', () => {
  test('to an up-to-date voter: TimeoutNow at once, the target wins the next term without pre-vote', () => {
    const cluster = new Cluster({ voters: ['a', 'b', 'c'] });
    cluster.elect('a');
    cluster.propose('a', 3);
    cluster.stabilize();
    const actions = cluster.step('a', { type: 'transferLeadership', to: 'b' });
    assert.equal(sentOf(actions, 'timeoutNow').length, 1);
    assert.equal(cluster.node('a').core.canPropose(), ProposeReject.Transferring);
    cluster.stabilize();
    const b = cluster.node('b');
    assert.equal(b.core.isLeader, true);
    assert.equal(b.core.term, 2);
    assert.equal(b.status().preVotesStarted, 0, 'a transfer campaign skips pre-vote');
    assert.equal(cluster.node('a').core.leaderId, 'b');
  });

  test('to a lagging voter: catch it up first, then TimeoutNow', () => {
    const cluster = new Cluster({ voters: ['a', 'b', 'c'] });
    cluster.elect('a');
    cluster.cut('a', 'c');
    cluster.propose('a', 5);
    cluster.stabilize();
    cluster.heal();
    const actions = cluster.step('a', { type: 'transferLeadership', to: 'c' });
    assert.equal(sentOf(actions, 'timeoutNow').length, 0, 'c is behind');
    cluster.tick('a');
    cluster.stabilize();
    assert.equal(cluster.node('c').core.isLeader, true);
    assert.equal(cluster.node('c').log.lastIndex(), 7, 'caught up (6 entries) plus its own no-op');
  });

  test('aborts after an election timeout when the target does not take over', () => {
    const cluster = new Cluster({ voters: ['a', 'b', 'c'], config: { checkQuorum: false } });
    cluster.elect('a');
    cluster.cut('a', 'b');
    cluster.propose('a', 1);
    cluster.step('a', { type: 'transferLeadership', to: 'b' });
    assert.equal(cluster.node('a').core.canPropose(), ProposeReject.Transferring);
    cluster.tick('a', electionTicks);
    assert.equal(cluster.node('a').core.isLeader, true);
    assert.equal(cluster.node('a').status().transferee, null);
    assert.equal(cluster.node('a').core.canPropose(), null);
  });

  test('invalid transfers are refused with a reason', () => {
    const cluster = new Cluster({ voters: ['a', 'b', 'c'], spares: ['d'] });
    cluster.elect('a');
    const a = cluster.node('a').core;
    assert.equal(a.canTransferLeadership('a'), TransferReject.TargetIsSelf);
    assert.equal(a.canTransferLeadership('d'), TransferReject.TargetNotVoter);
    assert.equal(cluster.node('b').core.canTransferLeadership('c'), TransferReject.NotLeader);
    const ignored = actionsOf(cluster.step('a', { type: 'transferLeadership', to: 'd' }), 'ignored');
    assert.equal(ignored[0]?.reason, IgnoreReason.TransferRejected);
  });

  test('preferredLeader: the leader hands over once the preferred voter is healthy and caught up', () => {
    const cluster = new Cluster({ voters: ['a', 'b', 'c'], config: { preferredLeader: 'c' } });
    cluster.elect('a');
    cluster.propose('a', 2);
    cluster.stabilize();
    for (let i = 0; i < 5 && !cluster.node('c').core.isLeader; i++) {
      cluster.tickAll();
      cluster.stabilize();
    }
    assert.equal(cluster.node('c').core.isLeader, true);
    for (let i = 0; i < 3 * electionTicks; i++) {
      cluster.tickAll();
      cluster.stabilize();
    }
    assert.equal(cluster.node('c').core.isLeader, true, 'and it stays');
  });
});
