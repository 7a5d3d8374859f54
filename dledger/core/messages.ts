// Validation of peer messages at the edge. Decoders call it once; the core calls it again on every
// step and ignores invalid input, so that inner code can assert instead of check.

import { CONF_ENTRIES_PER_APPEND_MAX, NODE_ID_LENGTH_MAX, TERM_RUNS_PER_APPEND_MAX } from './limits.js';
import { invalidMembership } from './membership.js';
import { AppendReject, VoteReject } from './reasons.js';
import type { AppendMessage, Message, TermRun } from './types.js';

const voteRejects: ReadonlySet<unknown> = new Set(Object.values(VoteReject));
const appendRejects: ReadonlySet<unknown> = new Set(Object.values(AppendReject));

function count(value: unknown): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function nodeId(value: unknown): boolean {
  return typeof value === 'string' && value.length > 0 && value.length <= NODE_ID_LENGTH_MAX;
}

/** Returns why `message` is malformed, or null. */
export function invalidMessage(message: Message): string | null {
  if (!nodeId(message.from) || !nodeId(message.to)) return 'bad node id';
  if (!count(message.term)) return 'bad term';
  switch (message.type) {
    case 'preVote':
    case 'vote':
      if (!count(message.lastIndex) || !count(message.lastTerm)) return 'bad last index or term';
      if (message.lastTerm > message.term) return 'last term above term';
      if (message.type === 'vote' && typeof message.transfer !== 'boolean') return 'bad transfer flag';
      return null;
    case 'preVoteResponse':
    case 'voteResponse':
      if (typeof message.granted !== 'boolean') return 'bad granted flag';
      if (message.granted ? message.reason !== null : !voteRejects.has(message.reason)) return 'bad vote reason';
      return null;
    case 'append':
      return invalidAppend(message);
    case 'appendResponse':
      if (typeof message.success !== 'boolean') return 'bad success flag';
      if (!count(message.index) || !count(message.hintIndex) || !count(message.hintTerm)) return 'bad index or hint';
      if (message.success ? message.reason !== null : !appendRejects.has(message.reason)) return 'bad append reason';
      return null;
    case 'heartbeat':
      return count(message.commit) ? null : 'bad commit';
    case 'heartbeatResponse':
    case 'timeoutNow':
      return null;
    case 'installSnapshot':
      if (!count(message.index) || !count(message.indexTerm)) return 'bad snapshot index or term';
      if (message.indexTerm > message.term) return 'snapshot term above term';
      return invalidMembership(message.membership);
    default:
      return 'unknown message type';
  }
}

function invalidAppend(message: AppendMessage): string | null {
  const { prevIndex, prevTerm, lastIndex, runs, confEntries } = message;
  if (!count(prevIndex) || !count(prevTerm) || !count(lastIndex) || !count(message.commit)) return 'bad indexes';
  if (prevTerm > message.term) return 'prev term above term';
  if (lastIndex < prevIndex) return 'last index below prev index';
  if (!Array.isArray(runs) || !Array.isArray(confEntries)) return 'bad runs or conf entries';
  if (lastIndex === prevIndex) {
    return runs.length === 0 && confEntries.length === 0 ? null : 'runs in an empty append';
  }
  const runsReason = invalidRuns(runs, prevIndex, prevTerm, lastIndex, message.term);
  if (runsReason !== null) return runsReason;
  if (confEntries.length > CONF_ENTRIES_PER_APPEND_MAX) return 'too many conf entries';
  let previous = prevIndex;
  for (const entry of confEntries) {
    if (!count(entry.index) || entry.index <= previous || entry.index > lastIndex) return 'conf entry out of range';
    const reason = invalidMembership(entry.membership);
    if (reason !== null) return `conf entry: ${reason}`;
    previous = entry.index;
  }
  return null;
}

function invalidRuns(runs: readonly TermRun[], prevIndex: number, prevTerm: number, lastIndex: number, term: number): string | null {
  if (runs.length === 0 || runs.length > TERM_RUNS_PER_APPEND_MAX) return 'bad run count';
  let previousIndex = prevIndex;
  let previousTerm = prevTerm;
  for (let i = 0; i < runs.length; i++) {
    const run = runs[i] as TermRun;
    if (!Array.isArray(run) || run.length !== 2 || !count(run[0]) || !count(run[1])) return 'bad run';
    const [firstIndex, runTerm] = run;
    if (i === 0 ? firstIndex !== prevIndex + 1 : firstIndex <= previousIndex) return 'runs out of order';
    if (firstIndex > lastIndex) return 'run beyond last index';
    if (runTerm < previousTerm || runTerm > term || runTerm === 0) return 'run terms out of order';
    previousIndex = firstIndex;
    previousTerm = runTerm;
  }
  return null;
}
