// RAFT_TRANSFER (ledgermq admin): hand leadership to another voter: it is caught up, then campaigns at once.
// Answers once a new leader is known, or with the reason the transfer could not happen.
import { ResponseCode, createResponse, type Processor } from '../../remoting/index.js';
import { Header, guarded } from '../headers.js';
import type { BrokerContext } from '../context.js';
import { refuseUnlessLeader } from '../not-leader.js';

const TRANSFER_WAIT_MS = 10_000;

export const raftTransfer = (ctx: BrokerContext): Processor =>
  guarded(async (request) => {
    const to = new Header(request).str('to');
    const refusal = refuseUnlessLeader(ctx, request);
    if (refusal) return refusal;
    if (to === ctx.config.raftId) return createResponse(request, ResponseCode.SUCCESS, `${to} already leads ${ctx.config.brokerName}`);
    const reason = ctx.raft.transferLeadership(to);
    if (reason) return createResponse(request, ResponseCode.SYSTEM_ERROR, `cannot transfer leadership to ${to}: ${reason}`);
    const moved = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        ctx.raft.off('role', onRole);
        resolve(false);
      }, TRANSFER_WAIT_MS);
      const onRole = (_role: string, _term: number, leaderId: string | null): void => {
        if (leaderId && leaderId !== ctx.config.raftId) {
          clearTimeout(timer);
          ctx.raft.off('role', onRole);
          resolve(leaderId === to);
        }
      };
      ctx.raft.on('role', onRole);
    });
    if (!moved) return createResponse(request, ResponseCode.SYSTEM_ERROR, `leadership did not move to ${to} within ${TRANSFER_WAIT_MS} ms (leader now: ${ctx.raft.leaderId ?? 'none'})`);
    return createResponse(request, ResponseCode.SUCCESS, `leadership of ${ctx.config.brokerName} transferred to ${to}`);
  });
