// Raft peer messages on the remoting wire: the fields travel as ext fields of a binary-header frame, the entry
// bytes of an append as its body, straight from the mapped commit log.
import { createRequest, type RemotingCommand } from '../remoting/index.js';
import type { AppendMessage, ConfEntry, Membership, Message, TermRun } from './core/index.js';
import { RAFT_MESSAGE_CODE } from './limits.js';

/** Entry bytes of an append: records prevIndex+1..lastIndex, and the log offset of the first one. */
export interface AppendPayload {
  offset: number;
  bytes: Buffer;
}

export class RaftWireError extends Error {
  constructor(reason: string) {
    super(`malformed raft message: ${reason}`);
    this.name = 'RaftWireError';
  }
}

function runsToText(runs: readonly TermRun[]): string {
  return runs.map(([i, t]) => `${i}:${t}`).join(',');
}

function runsFromText(text: string): TermRun[] {
  if (text === '') return [];
  return text.split(',').map((pair) => {
    const [i, t] = pair.split(':');
    return [num(i), num(t)] as const;
  });
}

function num(text: string | undefined): number {
  const n = Number(text);
  if (text === undefined || text === '' || !Number.isSafeInteger(n)) throw new RaftWireError(`not an integer: ${JSON.stringify(text)}`);
  return n;
}

export function encodeRaftMessage(m: Message): RemotingCommand {
  const ext: Record<string, string> = { t: m.type, f: m.from, o: m.to, m: String(m.term) };
  let body: Buffer | null = null;
  switch (m.type) {
    case 'preVote':
    case 'vote':
      ext.li = String(m.lastIndex);
      ext.lt = String(m.lastTerm);
      if (m.type === 'vote' && m.transfer) ext.tr = '1';
      break;
    case 'preVoteResponse':
    case 'voteResponse':
      ext.g = m.granted ? '1' : '0';
      if (m.reason) ext.r = m.reason;
      break;
    case 'append': {
      ext.pi = String(m.prevIndex);
      ext.pt = String(m.prevTerm);
      ext.li = String(m.lastIndex);
      ext.ci = String(m.commit);
      ext.ru = runsToText(m.runs);
      if (m.confEntries.length > 0) ext.ce = JSON.stringify(m.confEntries);
      const payload = m.payload as AppendPayload | undefined;
      if (payload) {
        ext.bo = String(payload.offset);
        body = payload.bytes;
      }
      break;
    }
    case 'appendResponse':
      ext.s = m.success ? '1' : '0';
      ext.ix = String(m.index);
      ext.hi = String(m.hintIndex);
      ext.ht = String(m.hintTerm);
      if (m.reason) ext.r = m.reason;
      break;
    case 'heartbeat':
      ext.ci = String(m.commit);
      break;
    case 'heartbeatResponse':
    case 'timeoutNow':
      break;
    case 'installSnapshot':
      ext.ix = String(m.index);
      ext.it = String(m.indexTerm);
      ext.mb = JSON.stringify(m.membership);
      break;
  }
  return createRequest(RAFT_MESSAGE_CODE, ext, body);
}

export function decodeRaftMessage(cmd: RemotingCommand): Message {
  const e = cmd.extFields;
  if (!e) throw new RaftWireError('no fields');
  const base = { from: e.f ?? '', to: e.o ?? '', term: num(e.m) };
  if (!base.from || !base.to) throw new RaftWireError('missing from/to');
  switch (e.t) {
    case 'preVote':
      return { type: 'preVote', ...base, lastIndex: num(e.li), lastTerm: num(e.lt) };
    case 'vote':
      return { type: 'vote', ...base, lastIndex: num(e.li), lastTerm: num(e.lt), transfer: e.tr === '1' };
    case 'preVoteResponse':
    case 'voteResponse':
      return { type: e.t, ...base, granted: e.g === '1', reason: (e.r ?? null) as never };
    case 'append': {
      const msg: AppendMessage = {
        type: 'append',
        ...base,
        prevIndex: num(e.pi),
        prevTerm: num(e.pt),
        lastIndex: num(e.li),
        commit: num(e.ci),
        runs: runsFromText(e.ru ?? ''),
        confEntries: e.ce ? (parseJson(e.ce) as ConfEntry[]) : [],
      };
      if (msg.lastIndex > msg.prevIndex) {
        const body = cmd.body;
        if (!Buffer.isBuffer(body) || body.length === 0) throw new RaftWireError('append without entry bytes');
        msg.payload = { offset: num(e.bo), bytes: body } satisfies AppendPayload;
      }
      return msg;
    }
    case 'appendResponse':
      return { type: 'appendResponse', ...base, success: e.s === '1', index: num(e.ix), hintIndex: num(e.hi), hintTerm: num(e.ht), reason: (e.r ?? null) as never };
    case 'heartbeat':
      return { type: 'heartbeat', ...base, commit: num(e.ci) };
    case 'heartbeatResponse':
      return { type: 'heartbeatResponse', ...base };
    case 'timeoutNow':
      return { type: 'timeoutNow', ...base };
    case 'installSnapshot':
      return { type: 'installSnapshot', ...base, index: num(e.ix), indexTerm: num(e.it), membership: parseJson(e.mb ?? '') as Membership };
    default:
      throw new RaftWireError(`unknown type ${JSON.stringify(e.t)}`);
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new RaftWireError('a JSON field does not parse');
  }
}
