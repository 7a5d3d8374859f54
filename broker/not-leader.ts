// The answer a node gives to writes it cannot take: SERVICE_NOT_AVAILABLE (which RocketMQ producers retry on
// another broker, refreshing the route), with the current leader's address in the remark and in the ext field
// `leaderAddr` so clients can go there at once; SYSTEM_BUSY when the leader is only applying backpressure.
import { ResponseCode, createResponse, type RemotingCommand } from '../remoting/index.js';
import { NotWritableError } from '../dledger/node.js';
import { ProposeReject } from '../dledger/core/index.js';
import type { BrokerContext } from './context.js';

export function notWritableResponse(ctx: BrokerContext, request: RemotingCommand, err?: NotWritableError): RemotingCommand {
  const reason = err?.reason ?? ctx.raft.writeRefusal() ?? 'notLeader';
  const leader = ctx.leaderBrokerAddr();
  if (reason === 'notLeader' || reason === 'noLeader' || reason === 'leaderNotReady') {
    const text = leader && leader !== ctx.brokerAddr ? `not the leader of ${ctx.config.brokerName}; the leader is ${leader}` : `not the leader of ${ctx.config.brokerName}; no leader is ready yet`;
    return createResponse(request, ResponseCode.SERVICE_NOT_AVAILABLE, text, leader ? { leaderAddr: leader } : null);
  }
  // Backpressure (the node's proposal queue, or the Raft core's uncommitted-entry/byte limits): the same leader
  // takes the write once it catches up, so SYSTEM_BUSY, not a reroute.
  if (reason === 'busy' || reason === ProposeReject.UncommittedEntriesFull || reason === ProposeReject.UncommittedBytesFull) {
    return createResponse(request, ResponseCode.SYSTEM_BUSY, `[PCBUSY_CLEAN_QUEUE] broker busy (${reason}), try again later`);
  }
  return createResponse(request, ResponseCode.SERVICE_NOT_AVAILABLE, `broker ${ctx.config.brokerName} cannot accept writes now: ${reason}`);
}

/** null when this node may take writes now; else the response to give. */
export function refuseUnlessLeader(ctx: BrokerContext, request: RemotingCommand): RemotingCommand | null {
  return ctx.raft.writeRefusal() === null ? null : notWritableResponse(ctx, request);
}
