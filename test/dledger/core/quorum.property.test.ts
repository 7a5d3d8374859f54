// The quorum arithmetic against deliberately naive versions (etcd's quorum/quick_test.go idea).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import fc from 'fast-check';

import { hasActiveQuorum, quorumMatchIndex, quorumSize, VoteOutcome, voteOutcome } from '../../../dledger/core/quorum.js';

/** The largest index that at least a strict majority of voters has reached, by trying every candidate. */
function naiveCommitIndex(matches: readonly number[]): number {
  let best = 0;
  for (const candidate of matches) {
    const reached = matches.filter((match) => match >= candidate).length;
    if (reached * 2 > matches.length && candidate > best) best = candidate;
  }
  return best;
}

function naiveOutcome(granted: number, rejected: number, voters: number): VoteOutcome {
  if (granted * 2 > voters) return VoteOutcome.Won;
  // Lost when even all outstanding answers granting could not make a majority.
  if ((voters - rejected) * 2 <= voters) return VoteOutcome.Lost;
  return VoteOutcome.Pending;
}

const matchesArbitrary = fc.array(fc.nat({ max: 1000 }), { minLength: 1, maxLength: 9 });

describe('quorum', () => {
  test('quorum sizes', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map(quorumSize), [1, 2, 2, 3, 3, 4, 4]);
  });

  test('the commit index is the largest index a majority has matched (property)', () => {
    fc.assert(
      fc.property(matchesArbitrary, (matches) => {
        const voters = matches.map((_, i) => `n${i}`);
        const match = (id: string) => matches[Number(id.slice(1))] as number;
        assert.equal(quorumMatchIndex(voters, match), naiveCommitIndex(matches));
      }),
      { numRuns: 20_000 },
    );
  });

  test('raising a single match never lowers the commit index (property)', () => {
    fc.assert(
      fc.property(matchesArbitrary, fc.nat({ max: 8 }), fc.nat({ max: 500 }), (matches, position, raise) => {
        const voters = matches.map((_, i) => `n${i}`);
        const before = quorumMatchIndex(voters, (id) => matches[Number(id.slice(1))] as number);
        const raised = [...matches];
        const at = position % raised.length;
        raised[at] = (raised[at] as number) + raise;
        const after = quorumMatchIndex(voters, (id) => raised[Number(id.slice(1))] as number);
        assert(after >= before);
      }),
      { numRuns: 5_000 },
    );
  });

  test('vote outcomes count voters only and agree with the naive tally (property)', () => {
    const answer = fc.constantFrom<boolean | undefined>(true, false, undefined);
    fc.assert(
      fc.property(fc.array(answer, { minLength: 1, maxLength: 9 }), fc.array(fc.boolean(), { maxLength: 4 }), (answers, outsiders) => {
        const voters = answers.map((_, i) => `v${i}`);
        const votes = new Map<string, boolean>();
        answers.forEach((vote, i) => {
          if (vote !== undefined) votes.set(`v${i}`, vote);
        });
        outsiders.forEach((vote, i) => votes.set(`x${i}`, vote)); // learners, removed nodes: ignored
        const granted = answers.filter((vote) => vote === true).length;
        const rejected = answers.filter((vote) => vote === false).length;
        assert.equal(voteOutcome(voters, votes), naiveOutcome(granted, rejected, voters.length));
      }),
      { numRuns: 20_000 },
    );
  });

  test('check-quorum counts active voters (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 9 }), (active) => {
        const voters = active.map((_, i) => `n${i}`);
        const expected = active.filter(Boolean).length * 2 > active.length;
        assert.equal(hasActiveQuorum(voters, (id) => active[Number(id.slice(1))] === true), expected);
      }),
      { numRuns: 5_000 },
    );
  });
});
