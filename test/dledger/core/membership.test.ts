import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { applyConfChange, invalidMembership, isSingleStep, makeMembership } from '../../../dledger/core/membership.js';
import { ConfChangeReject, LearnerLag } from '../../../dledger/core/reasons.js';
import { actionsOf, Cluster } from './harness.js';

describe('membership values', () => {
  test('single-server changes', () => {
    const base = makeMembership(['a', 'b', 'c']);
    const withLearner = applyConfChange(base, { type: 'addLearner', node: 'd' });
    assert.deepEqual(withLearner, { voters: ['a', 'b', 'c'], learners: ['d'] });
    assert.equal(applyConfChange(base, { type: 'addLearner', node: 'a' }), ConfChangeReject.AlreadyMember);
    assert.equal(applyConfChange(base, { type: 'promote', node: 'a' }), ConfChangeReject.NotLearner);
    assert.equal(applyConfChange(base, { type: 'remove', node: 'z' }), ConfChangeReject.NotMember);
    assert.equal(applyConfChange(makeMembership(['a']), { type: 'remove', node: 'a' }), ConfChangeReject.LastVoter);
    assert(typeof withLearner !== 'string');
    const promoted = applyConfChange(withLearner, { type: 'promote', node: 'd' });
    assert.deepEqual(promoted, { voters: ['a', 'b', 'c', 'd'], learners: [] });
    assert(isSingleStep(base, withLearner));
    assert(typeof promoted !== 'string' && isSingleStep(withLearner, promoted));
    assert(typeof promoted !== 'string' && !isSingleStep(base, promoted), 'add and promote at once is two steps');
    assert(!isSingleStep(base, makeMembership(['a'])), 'two removals');
    assert(!isSingleStep(base, makeMembership(['a', 'b', 'c', 'd'])), 'a new voter must start as a learner');
  });

  test('validation names the problem', () => {
    assert.equal(invalidMembership({ voters: [], learners: [] }), 'no voters');
    assert.equal(invalidMembership({ voters: ['b', 'a'], learners: [] }), 'ids must be sorted and unique');
    assert.equal(invalidMembership({ voters: ['a'], learners: ['a'] }), 'a is both voter and learner');
    assert.equal(invalidMembership({ voters: ['a', 'b'], learners: ['c'] }), null);
  });
});

describe('membership changes', () => {
  test('add a learner, promote it once caught up, then it votes and counts', () => {
    const cluster = new Cluster({ voters: ['a', 'b', 'c'], spares: ['d'], config: { learnerCatchUpLagEntries: 2 } });
    cluster.elect('a');
    cluster.propose('a', 5);
    cluster.stabilize();
    assert.equal(cluster.proposeConfChange('a', { type: 'addLearner', node: 'd' }), null);
    assert.equal(cluster.node('a').core.planConfChange({ type: 'promote', node: 'd' }).ok, false);
    cluster.stabilize();
    cluster.tick('a');
    cluster.stabilize();
    const d = cluster.node('d');
    assert.equal(d.status().role, 'learner');
    assert.equal(d.log.lastIndex(), cluster.node('a').log.lastIndex(), 'the learner receives the log');
    assert.equal(cluster.node('a').core.learnerReadiness('d'), null);
    assert.equal(cluster.proposeConfChange('a', { type: 'promote', node: 'd' }), null);
    cluster.stabilize();
    cluster.tick('a');
    cluster.stabilize();
    assert.equal(d.status().role, 'follower');
    assert.deepEqual(cluster.node('a').core.activeMembership().voters, ['a', 'b', 'c', 'd']);
    // With four voters a commit needs three: a and b alone no longer suffice.
    cluster.isolate('c');
    cluster.isolate('d');
    cluster.propose('a', 1);
    cluster.stabilize();
    assert.equal(cluster.node('a').core.commitIndex, cluster.node('a').log.lastIndex() - 1);
  });

  test('a learner far behind is reported lagging and cannot be promoted', () => {
    const cluster = new Cluster({ voters: ['a', 'b', 'c'], spares: ['d'], config: { learnerCatchUpLagEntries: 2 } });
    cluster.elect('a');
    cluster.stabilize();
    cluster.proposeConfChange('a', { type: 'addLearner', node: 'd' });
    cluster.cut('a', 'd');
    cluster.propose('a', 10);
    cluster.stabilize();
    assert.notEqual(cluster.node('a').core.learnerReadiness('d'), null);
    const plan = cluster.node('a').core.planConfChange({ type: 'promote', node: 'd' });
    assert.deepEqual(plan, { ok: false, reason: ConfChangeReject.LearnerLagging });
    assert.equal(cluster.node('a').core.learnerReadiness('b'), LearnerLag.NotLearner);
  });

  test('one change at a time, and only after the leader committed an entry of its term', () => {
    const cluster = new Cluster({ voters: ['a', 'b', 'c'], spares: ['d', 'e'] });
    cluster.step('a', { type: 'campaign' });
    const a = cluster.node('a');
    for (let round = 0; round < 10 && !a.core.isLeader; round++) cluster.deliver();
    // a leads, but its no-op is not committed yet (the answers are still in flight).
    assert.equal(a.core.isLeader, true);
    assert.equal(a.core.commitIndex, 0);
    assert.deepEqual(a.core.planConfChange({ type: 'addLearner', node: 'd' }), { ok: false, reason: ConfChangeReject.TermNotCommitted });
    cluster.stabilize();
    assert.equal(cluster.proposeConfChange('a', { type: 'addLearner', node: 'd' }), null);
    assert.deepEqual(a.core.planConfChange({ type: 'addLearner', node: 'e' }), { ok: false, reason: ConfChangeReject.ConfChangePending });
    cluster.stabilize();
    assert.equal(cluster.proposeConfChange('a', { type: 'addLearner', node: 'e' }), null);
    assert.deepEqual(a.core.planConfChange({ type: 'remove', node: 'a' }), { ok: false, reason: ConfChangeReject.ConfChangePending });
  });

  test('removing the leader is refused: transfer first, then remove it from the new leader', () => {
    const cluster = new Cluster({ voters: ['a', 'b', 'c'] });
    cluster.elect('a');
    assert.deepEqual(cluster.node('a').core.planConfChange({ type: 'remove', node: 'a' }), { ok: false, reason: ConfChangeReject.RemovingLeader });
    cluster.step('a', { type: 'transferLeadership', to: 'b' });
    cluster.stabilize();
    assert.equal(cluster.node('b').core.isLeader, true);
    assert.equal(cluster.proposeConfChange('b', { type: 'remove', node: 'a' }), null);
    cluster.stabilize();
    const b = cluster.node('b');
    assert.deepEqual(b.core.activeMembership().voters, ['b', 'c']);
    assert.deepEqual(b.status().progress.map((progress) => progress.id), ['c']);
    // The leader kept replicating to a until the removal committed, so a knows and never campaigns.
    assert.deepEqual(cluster.node('a').core.activeMembership().voters, ['b', 'c']);
    const preVotes = cluster.node('a').status().preVotesStarted;
    cluster.tick('a', 50);
    assert.equal(cluster.node('a').status().preVotesStarted, preVotes);
  });

  test('a configuration takes effect on append and is undone when its entry is truncated', () => {
    const cluster = new Cluster({ voters: ['a', 'b', 'c', 'd', 'e'], spares: ['f'], config: { checkQuorum: false } });
    cluster.elect('a');
    cluster.proposeConfChange('a', { type: 'addLearner', node: 'f' });
    // Only b receives the configuration entry.
    cluster.deliver((message) => message.to === 'b' && message.type === 'append');
    cluster.take();
    assert.deepEqual(cluster.node('b').core.activeMembership().learners, ['f'], 'in effect once in the log');
    cluster.isolate('a');
    cluster.isolate('b');
    cluster.elect('c'); // with d and e, which never saw the entry either
    cluster.heal();
    cluster.isolate('a');
    cluster.tick('c');
    cluster.stabilize();
    assert.deepEqual(actionsOf(cluster.node('b').history, 'truncate'), [{ type: 'truncate', fromIndex: 2 }]);
    assert.deepEqual(cluster.node('b').core.activeMembership().learners, [], 'truncated away');
  });
});
