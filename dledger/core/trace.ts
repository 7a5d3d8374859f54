// One-line renderings of inputs and actions, for drivers' debug logs and simulator traces.

import type { Action, Input, Message, TermRun } from './types.js';

function runs(list: readonly TermRun[]): string {
  return list.map(([index, term]) => `${index}@${term}`).join(',');
}

export function formatMessage(message: Message): string {
  const head = `${message.from}->${message.to} ${message.type} t${message.term}`;
  switch (message.type) {
    case 'preVote':
    case 'vote':
      return `${head} last=${message.lastIndex}@${message.lastTerm}${message.type === 'vote' && message.transfer ? ' transfer' : ''}`;
    case 'preVoteResponse':
    case 'voteResponse':
      return `${head} ${message.granted ? 'granted' : `rejected:${message.reason}`}`;
    case 'append': {
      const confs = message.confEntries.length > 0 ? ` conf=${message.confEntries.map((c) => c.index).join(',')}` : '';
      return `${head} prev=${message.prevIndex}@${message.prevTerm} last=${message.lastIndex} runs=[${runs(message.runs)}] commit=${message.commit}${confs}`;
    }
    case 'appendResponse':
      return message.success
        ? `${head} ok index=${message.index}`
        : `${head} rejected:${message.reason} index=${message.index} hint=${message.hintIndex}@${message.hintTerm}`;
    case 'heartbeat':
      return `${head} commit=${message.commit}`;
    case 'installSnapshot':
      return `${head} index=${message.index}@${message.indexTerm} voters=${message.membership.voters.join(',')}`;
    case 'heartbeatResponse':
    case 'timeoutNow':
      return head;
  }
}

export function formatInput(input: Input): string {
  switch (input.type) {
    case 'appended':
      return `appended last=${input.lastIndex} bytes=${input.bytes}${input.confChange ? ` conf voters=${input.confChange.membership.voters.join(',')} learners=${input.confChange.membership.learners.join(',')}` : ''}`;
    case 'persisted':
      return `persisted ${input.index}@${input.term}`;
    case 'snapshotStatus':
      return `snapshotStatus to=${input.to} ${input.ok ? 'ok' : 'failed'}`;
    case 'transferLeadership':
    case 'unreachable':
      return `${input.type} to=${input.to}`;
    case 'campaign':
      return 'campaign';
    default:
      return formatMessage(input);
  }
}

export function formatAction(action: Action): string {
  switch (action.type) {
    case 'persistHardState':
      return `persistHardState t${action.term} vote=${action.votedFor ?? '-'}`;
    case 'truncate':
      return `truncate from=${action.fromIndex}`;
    case 'appendEntries':
      return `appendEntries ${action.fromIndex}..${action.lastIndex}`;
    case 'installSnapshot':
      return `installSnapshot ${action.index}@${action.term}`;
    case 'send':
      return `send${action.afterPersist ? '(afterPersist)' : ''} ${formatMessage(action.message)}`;
    case 'sendSnapshot':
      return `sendSnapshot ${formatMessage(action.message)}`;
    case 'commit':
      return `commit ${action.index}`;
    case 'roleChanged':
      return `roleChanged ${action.role} t${action.term} leader=${action.leaderId ?? '-'}`;
    case 'ignored':
      return `ignored ${action.input}${action.from ? ` from=${action.from}` : ''}: ${action.reason}`;
  }
}
