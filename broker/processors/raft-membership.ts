// RAFT_MEMBERSHIP (ledgermq admin): one server at a time. `add`: the node joins as a learner, is caught up (log
// replication, or a segment install when the leader no longer keeps old entries), then promoted to voter.
// `remove`: the node leaves (the leader cannot remove itself: transfer leadership first).
import { ResponseCode, createResponse, type Processor } from '../../remoting/index.js';
import { Header, guarded } from '../headers.js';
import type { BrokerContext } from '../context.js';
import { refuseUnlessLeader } from '../not-leader.js';
import { ConfChangeRefusedError } from '../../dledger/node.js';
import { ConfChangeReject } from '../../dledger/core/index.js';

const CATCH_UP_WAIT_MS_DEFAULT = 600_000;
const CATCH_UP_POLL_MS = 100;

export const raftMembership = (ctx: BrokerContext, onChanged: () => void): Processor =>
  guarded(async (request) => {
    const h = new Header(request);
    const change = h.str('change');
    const node = h.str('node');
    const refusal = refuseUnlessLeader(ctx, request);
    if (refusal) return refusal;
    const raft = ctx.raft;
    try {
      if (change === 'add') {
        const address = h.str('address');
        if (!/^[^:]+:\d+$/.test(address)) return createResponse(request, ResponseCode.INVALID_PARAMETER, `address must be host:port, got ${address}`);
        const m = raft.core.activeMembership();
        if (m.voters.includes(node)) return createResponse(request, ResponseCode.SUCCESS, `${node} is already a voter`);
        if (!m.learners.includes(node)) await raft.proposeConfChange({ type: 'addLearner', node }, address);
        onChanged();
        const deadline = Date.now() + h.optLong('timeoutMs', CATCH_UP_WAIT_MS_DEFAULT);
        for (;;) {
          let lag = raft.learnerReadiness(node);
          while (lag !== null && Date.now() < deadline) {
            await new Promise((r) => setTimeout(r, CATCH_UP_POLL_MS));
            lag = raft.learnerReadiness(node);
          }
          if (lag !== null) return createResponse(request, ResponseCode.SYSTEM_ERROR, `${node} joined as a learner but did not catch up in time (${lag}); retry to promote it`);
          try {
            await raft.proposeConfChange({ type: 'promote', node });
            break;
          } catch (err) {
            // Under load the learner can fall behind again between the check and the proposal: wait again.
            if (!(err instanceof ConfChangeRefusedError && err.reason === ConfChangeReject.LearnerLagging)) throw err;
          }
        }
        onChanged();
        return createResponse(request, ResponseCode.SUCCESS, `${node} (${address}) added to ${ctx.config.brokerName} as a voter`);
      }
      if (change === 'remove') {
        if (node === ctx.config.raftId) return createResponse(request, ResponseCode.SYSTEM_ERROR, `${node} leads ${ctx.config.brokerName}: transfer leadership first, then remove it`);
        await raft.proposeConfChange({ type: 'remove', node });
        onChanged();
        return createResponse(request, ResponseCode.SUCCESS, `${node} removed from ${ctx.config.brokerName}`);
      }
      return createResponse(request, ResponseCode.INVALID_PARAMETER, `change must be add or remove, got ${change}`);
    } catch (err) {
      return createResponse(request, ResponseCode.SYSTEM_ERROR, `membership change failed: ${(err as Error).message}`);
    }
  });
