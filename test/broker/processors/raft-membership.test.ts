// RAFT_MEMBERSHIP add: the learner is promoted once caught up. Under load it can fall behind again between the
// readiness check and the promotion; the core then refuses the promotion (learnerLagging), and the request waits
// and tries again within its timeout instead of failing the whole add.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfChangeRefusedError } from '../../../dledger/node.js';
import { ConfChangeReject, type ConfChange } from '../../../dledger/core/index.js';
import { RAFT_MEMBERSHIP_CODE } from '../../../dledger/limits.js';
import { ResponseCode, createRequest, type RequestContext } from '../../../remoting/index.js';
import { raftMembership } from '../../../broker/processors/raft-membership.js';
import type { BrokerContext } from '../../../broker/context.js';

function fakeContext(promoteRefusals: string[]): { ctx: BrokerContext; proposed: ConfChange[] } {
  const proposed: ConfChange[] = [];
  const learners: string[] = [];
  const ctx = {
    config: { brokerName: 'broker-a', raftId: 'n0' },
    raft: {
      writeRefusal: () => null,
      core: { activeMembership: () => ({ voters: ['n0', 'n1', 'n2'], learners }) },
      learnerReadiness: () => null,
      proposeConfChange: (change: ConfChange) => {
        proposed.push(change);
        if (change.type === 'addLearner') learners.push(change.node);
        if (change.type === 'promote' && promoteRefusals.length > 0) return Promise.reject(new ConfChangeRefusedError(promoteRefusals.shift()!));
        return Promise.resolve({ index: proposed.length, term: 1 });
      },
    },
  } as unknown as BrokerContext;
  return { ctx, proposed };
}

const addN3 = () => createRequest(RAFT_MEMBERSHIP_CODE, { change: 'add', node: 'n3', address: '127.0.0.1:20914', timeoutMs: '5000' });

test('a promotion refused because the learner fell behind again is retried', async () => {
  const { ctx, proposed } = fakeContext([ConfChangeReject.LearnerLagging, ConfChangeReject.LearnerLagging]);
  const r = await raftMembership(ctx, () => undefined)(addN3(), {} as RequestContext);
  assert.equal(r?.code, ResponseCode.SUCCESS, r?.remark ?? '');
  assert.deepEqual(proposed.map((c) => c.type), ['addLearner', 'promote', 'promote', 'promote']);
});

test('other refusals of the promotion fail the request at once', async () => {
  const { ctx, proposed } = fakeContext([ConfChangeReject.ConfChangePending]);
  const r = await raftMembership(ctx, () => undefined)(addN3(), {} as RequestContext);
  assert.equal(r?.code, ResponseCode.SYSTEM_ERROR);
  assert.match(r?.remark ?? '', /membership change refused: confChangePending/);
  assert.deepEqual(proposed.map((c) => c.type), ['addLearner', 'promote']);
});
