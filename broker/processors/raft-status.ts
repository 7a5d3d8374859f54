// RAFT_STATUS (ledgermq admin): this node's view of its Raft group, as JSON, for `ledgermq raft status`.
import { ResponseCode, createResponse, type Processor } from '../../remoting/index.js';
import type { BrokerContext } from '../context.js';

export interface RaftStatusBody {
  brokerName: string;
  brokerAddr: string;
  raftId: string;
  role: string;
  ready: boolean;
  term: number;
  leaderId: string | null;
  leaderBrokerAddr: string | null;
  lastIndex: number;
  commitIndex: number;
  appliedIndex: number;
  firstIndex: number;
  writeOffset: number;
  membership: { voters: readonly string[]; learners: readonly string[] };
  raftAddresses: Record<string, string>;
  followers: Array<{ id: string; match: number; next: number; state: string; lagEntries: number; recentActive: boolean }>;
}

export function raftStatusBody(ctx: BrokerContext): RaftStatusBody {
  const s = ctx.raft.status();
  return {
    brokerName: ctx.config.brokerName,
    brokerAddr: ctx.brokerAddr,
    raftId: ctx.config.raftId,
    role: s.role,
    ready: ctx.raft.isReadyLeader,
    term: s.term,
    leaderId: s.leaderId,
    leaderBrokerAddr: ctx.leaderBrokerAddr(),
    lastIndex: s.lastIndex,
    commitIndex: s.commitIndex,
    appliedIndex: ctx.raft.appliedIndex,
    firstIndex: s.firstIndex,
    writeOffset: ctx.store.commitLog.writeOffset,
    membership: s.membership,
    raftAddresses: Object.fromEntries(ctx.raft.peerAddresses()),
    followers: (s.progress ?? []).map((p) => ({ id: p.id, match: p.match, next: p.next, state: p.state, lagEntries: Math.max(0, s.lastIndex - p.match), recentActive: p.recentActive })),
  };
}

export const raftStatus = (ctx: BrokerContext): Processor => (request) =>
  createResponse(request, ResponseCode.SUCCESS, null, null, Buffer.from(JSON.stringify(raftStatusBody(ctx))));
