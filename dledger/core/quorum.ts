// Majority arithmetic over a set of voters. Pure functions; property-tested against a naive version.

import assert from 'node:assert/strict';

import type { NodeId } from './types.js';

export function quorumSize(voterCount: number): number {
  assert(Number.isSafeInteger(voterCount) && voterCount > 0, 'a configuration has at least one voter');
  return Math.floor(voterCount / 2) + 1;
}

/**
 * The highest index that a majority of voters has matched: the quorumSize-th largest match.
 * Learners are never passed in (only voters count toward commit).
 */
export function quorumMatchIndex(voters: readonly NodeId[], matchOf: (id: NodeId) => number): number {
  assert(voters.length > 0);
  const matches = voters.map(matchOf);
  matches.sort((left, right) => right - left);
  const index = matches[quorumSize(voters.length) - 1];
  assert(index !== undefined && index >= 0);
  return index;
}

export const VoteOutcome = { Won: 'won', Lost: 'lost', Pending: 'pending' } as const;
export type VoteOutcome = (typeof VoteOutcome)[keyof typeof VoteOutcome];

/** Counts answers from voters only; answers from non-voters are ignored. */
export function voteOutcome(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteOutcome {
  let granted = 0;
  let rejected = 0;
  for (const voter of voters) {
    const vote = votes.get(voter);
    if (vote === true) granted++;
    else if (vote === false) rejected++;
  }
  const quorum = quorumSize(voters.length);
  if (granted >= quorum) return VoteOutcome.Won;
  if (rejected > voters.length - quorum) return VoteOutcome.Lost;
  return VoteOutcome.Pending;
}

/** How many voters have been heard from (check-quorum), the caller counting itself as active. */
export function hasActiveQuorum(voters: readonly NodeId[], isActive: (id: NodeId) => boolean): boolean {
  let active = 0;
  for (const voter of voters) if (isActive(voter)) active++;
  return active >= quorumSize(voters.length);
}
