import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { IgnoreReason, VoteReject } from '../../../dledger/core/reasons.js';
import type { Action } from '../../../dledger/core/types.js';
import { actionsOf, Cluster, sentOf } from './harness.js';

const electionTicks = 10;

describe('election', () => {
  test('a single voter elects itself and commits its no-op once it is durable', () => {
    const cluster = new Cluster({ voters: ['a'] });
    cluster.autoPersist = false;
    cluster.tick('a', 2 * electionTicks);
    const a = cluster.node('a');
    assert.equal(a.core.isLeader, true);
    assert.equal(a.core.term, 1);
    assert.equal(a.log.lastIndex(), 1, 'no-op appended (R6)');
    assert.equal(a.core.commitIndex, 0, 'not committed before it is durable');
    cluster.persist('a');
    assert.equal(a.core.commitIndex, 1);
  });

  test('three voters elect exactly one leader and everyone follows it', () => {
    const cluster = new Cluster({ voters: ['a', 'b', 'c'] });
    cluster.elect('a');
    for (const id of ['b', 'c']) {
      assert.equal(cluster.node(id).core.leaderId, 'a');
      assert.equal(cluster.node(id).core.term, 1);
      assert.equal(cluster.node(id).core.commitIndex, 1);
    }
    assert.deepEqual(cluster.node('b').applied, cluster.node('a').applied);
  });

  test('the hard state is persisted before the vote is answered (afterPersist)', () => {
    const cluster = new Cluster({ voters: ['a', 'b', 'c'], config: { preVote: false } });
    cluster.step('a', { type: 'campaign' });
    const [request] = cluster.take((message) => message.type === 'vote' && message.to === 'b');
    assert(request !== undefined);
    const actions = cluster.step('b', request);
    const persistAt = actions.findIndex((action) => action.type === 'persistHardState');
    const answerAt = actions.findIndex((action) => action.type === 'send' && action.message.type === 'voteResponse');
    assert(persistAt >= 0 && answerAt > persistAt);
    assert.deepEqual(actions[persistAt], { type: 'persistHardState', term: 1, votedFor: 'a' });
    const answer = actions[answerAt] as Extract<Action, { type: 'send' }>;
    assert.equal(answer.afterPersist, true);
  });

  test('pre-vote keeps an isolated node from inflating its term and disturbing the leader', () => {
    const cluster = new Cluster({ voters: ['a', 'b', 'c'] });
    cluster.elect('a');
    cluster.isolate('c');
    for (let i = 0; i < 10 * electionTicks; i++) {
      cluster.tickAll();
      cluster.stabilize();
    }
    assert.equal(cluster.node('c').core.term, 1, 'no term bump without a pre-vote majority');
    assert(cluster.node('c').status().preVotesStarted > 0);
    cluster.heal();
    for (let i = 0; i < 3 * electionTicks; i++) {
      cluster.tickAll();
      cluster.stabilize();
    }
    assert.equal(cluster.node('a').core.isLeader, true);
    assert.equal(cluster.node('a').core.term, 1);
    assert.equal(cluster.node('c').core.leaderId, 'a');
  });

  test('without pre-vote the isolated node inflates its term and deposes the leader on return', () => {
    const cluster = new Cluster({ voters: ['a', 'b', 'c'], config: { preVote: false, checkQuorum: false } });
    cluster.elect('a');
    cluster.isolate('c');
    for (let i = 0; i < 10 * electionTicks; i++) {
      cluster.tickAll();
      cluster.stabilize();
    }
    assert(cluster.node('c').core.term > 2, 'each timeout bumps the term');
    cluster.heal();
    cluster.tickAll(); // a's heartbeat reaches c, whose answer carries the higher term
    cluster.stabilize();
    assert.equal(cluster.node('a').core.isLeader, false);
  });

  test('check-quorum: a leader that hears from no majority steps down within an election timeout', () => {
    const cluster = new Cluster({ voters: ['a', 'b', 'c'] });
    cluster.elect('a');
    cluster.isolate('a');
    cluster.tick('a', 2 * electionTicks);
    assert.equal(cluster.node('a').core.isLeader, false);
    assert.equal(cluster.node('a').core.leaderId, null);
  });

  test('leader lease: voters that hear from a live leader ignore (pre-)votes of a higher term', () => {
    const cluster = new Cluster({ voters: ['a', 'b', 'c'] });
    cluster.elect('a');
    // c campaigns without pre-vote, as if its timer fired while messages from a were delayed.
    const vote = { type: 'vote', from: 'c', to: 'b', term: 5, lastIndex: 1, lastTerm: 1, transfer: false } as const;
    const actions = cluster.step('b', vote);
    assert.deepEqual(actionsOf(actions, 'ignored').map((action) => action.reason), [IgnoreReason.InLease]);
    assert.equal(cluster.node('b').core.term, 1, 'no term change inside the lease');
    // A transfer vote is answered even inside the lease.
    const transfer = cluster.step('b', { ...vote, transfer: true });
    assert.equal(sentOf(transfer, 'voteResponse')[0]?.granted, true);
    assert.equal(cluster.node('b').core.term, 5);
  });

  test('votes follow the up-to-date rule and one vote per term, with named reasons', () => {
    const cluster = new Cluster({ voters: ['a', 'b', 'c'] });
    cluster.elect('a');
    cluster.propose('a', 2);
    cluster.stabilize();
    cluster.isolate('a');
    cluster.tick('b', electionTicks); // b's lease runs out
    cluster.heal();
    const b = cluster.node('b');
    const staleTerm = cluster.step('b', { type: 'vote', from: 'c', to: 'b', term: 2, lastIndex: 1, lastTerm: 0, transfer: false });
    assert.equal(sentOf(staleTerm, 'voteResponse')[0]?.reason, VoteReject.StaleLogTerm);
    const short = cluster.step('b', { type: 'vote', from: 'c', to: 'b', term: 3, lastIndex: 2, lastTerm: 1, transfer: false });
    assert.equal(sentOf(short, 'voteResponse')[0]?.reason, VoteReject.ShortLog);
    const granted = cluster.step('b', { type: 'vote', from: 'c', to: 'b', term: 3, lastIndex: 3, lastTerm: 1, transfer: false });
    assert.equal(sentOf(granted, 'voteResponse')[0]?.granted, true);
    const again = cluster.step('b', { type: 'vote', from: 'a', to: 'b', term: 3, lastIndex: 9, lastTerm: 1, transfer: false });
    assert.equal(sentOf(again, 'voteResponse')[0]?.reason, VoteReject.AlreadyVoted);
    const repeat = cluster.step('b', { type: 'vote', from: 'c', to: 'b', term: 3, lastIndex: 3, lastTerm: 1, transfer: false });
    assert.equal(sentOf(repeat, 'voteResponse')[0]?.granted, true, 'a repeated request from the same candidate');
    assert.equal(b.hardState.votedFor, 'c');
  });

  test('a stale leader is told the newer term and steps down', () => {
    const cluster = new Cluster({ voters: ['a', 'b', 'c'] });
    cluster.elect('a');
    cluster.isolate('a');
    for (let i = 0; i < 4 * electionTicks; i++) {
      cluster.tickAll();
      cluster.stabilize();
    }
    const newLeader = cluster.leaderOf();
    assert(newLeader !== null && newLeader.id !== 'a' && newLeader.core.term > 1);
    assert.equal(cluster.node('a').core.isLeader, false, 'check-quorum already deposed it');
    cluster.heal();
    // Even a leader that still believes it leads learns the new term from a stale-term answer.
    const answer = cluster.step(newLeader.id, { type: 'heartbeat', from: 'a', to: newLeader.id, term: 1, commit: 0 });
    assert.equal(sentOf(answer, 'appendResponse')[0]?.term, newLeader.core.term);
  });

  test('election timeouts are randomized from the injected PRNG and reproducible', () => {
    const first = new Cluster({ voters: ['a', 'b', 'c'], seed: 7 });
    const second = new Cluster({ voters: ['a', 'b', 'c'], seed: 7 });
    const fired = (cluster: Cluster) => {
      const when: number[] = [];
      for (const id of ['a', 'b', 'c']) {
        let tick = 0;
        while (cluster.node(id).status().preVotesStarted === 0 && tick < 3 * electionTicks) {
          cluster.tick(id);
          tick++;
        }
        when.push(tick);
      }
      return when;
    };
    const timesFirst = fired(first);
    assert.deepEqual(timesFirst, fired(second));
    for (const tick of timesFirst) assert(tick >= electionTicks && tick < 2 * electionTicks);
  });

  test('learners and removed nodes never campaign', () => {
    const cluster = new Cluster({ voters: ['a', 'b', 'c'], spares: ['d'] });
    cluster.tick('d', 5 * electionTicks);
    assert.equal(cluster.node('d').status().preVotesStarted, 0);
    assert.equal(cluster.node('d').core.term, 0);
  });
});
