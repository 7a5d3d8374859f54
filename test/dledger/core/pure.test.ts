// Unit tests of the core's pure helpers: follower append planning, log searches, flow-control
// bookkeeping, message and configuration validation, the PRNG.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import fc from 'fast-check';

import { ByteMarks } from '../../../dledger/core/byte-marks.js';
import { planFollowerAppend } from '../../../dledger/core/follower-append.js';
import { Inflights } from '../../../dledger/core/inflights.js';
import { invalidRaftConfig, RAFT_CONFIG_DEFAULT, resolveRaftConfig } from '../../../dledger/core/limits.js';
import { lastAgreeingIndex, lastIndexWithTermAtMost, runTermAt, termRunsOf } from '../../../dledger/core/log-view.js';
import { makeMembership } from '../../../dledger/core/membership.js';
import { invalidMessage } from '../../../dledger/core/messages.js';
import { Progress } from '../../../dledger/core/progress.js';
import { SeededPrng } from '../../../dledger/core/prng.js';
import { AppendReject } from '../../../dledger/core/reasons.js';
import type { AppendMessage, TermRun } from '../../../dledger/core/types.js';
import { SimLog } from '../../sim/sim-log.js';

/** A log whose entry i has terms[i-1]. */
function logOf(terms: readonly number[], segmentEntries = 1024): SimLog {
  const log = new SimLog(makeMembership(['a']), segmentEntries);
  log.append(terms.map((term, i) => ({ index: i + 1, term, id: `x${i + 1}`, bytes: 10, conf: null })));
  return log;
}

function runsOf(firstIndex: number, terms: readonly number[]): TermRun[] {
  const runs: TermRun[] = [];
  terms.forEach((term, i) => {
    if (i === 0 || terms[i - 1] !== term) runs.push([firstIndex + i, term]);
  });
  return runs;
}

function append(prevIndex: number, prevTerm: number, terms: readonly number[], commit = 0): AppendMessage {
  return {
    type: 'append',
    from: 'l',
    to: 'f',
    term: Math.max(prevTerm, ...terms, 1),
    prevIndex,
    prevTerm,
    lastIndex: prevIndex + terms.length,
    runs: runsOf(prevIndex + 1, terms),
    commit,
    confEntries: [],
  };
}

describe('planFollowerAppend', () => {
  test('appends after a matching prefix, skipping entries it already has', () => {
    const log = logOf([1, 1, 2]);
    assert.deepEqual(planFollowerAppend(log, 0, append(3, 2, [2, 2])), { kind: 'accept', truncateFrom: null, writeFrom: 4 });
    assert.deepEqual(planFollowerAppend(log, 0, append(1, 1, [1, 2, 2])), { kind: 'accept', truncateFrom: null, writeFrom: 4 });
    assert.deepEqual(planFollowerAppend(log, 0, append(1, 1, [1, 2])), { kind: 'accept', truncateFrom: null, writeFrom: null }, 'duplicate');
    assert.deepEqual(planFollowerAppend(log, 0, append(3, 2, [])), { kind: 'accept', truncateFrom: null, writeFrom: null }, 'heartbeat-like');
  });

  test('truncates from the first conflicting entry', () => {
    const log = logOf([1, 1, 2, 2, 2]);
    assert.deepEqual(planFollowerAppend(log, 1, append(2, 1, [3, 3])), { kind: 'accept', truncateFrom: 3, writeFrom: 3 });
    assert.deepEqual(planFollowerAppend(log, 1, append(2, 1, [2, 3])), { kind: 'accept', truncateFrom: 4, writeFrom: 4 });
  });

  test('rejects with hints', () => {
    const log = logOf([1, 1, 2, 2, 2]);
    assert.deepEqual(planFollowerAppend(log, 0, append(8, 3, [3])), {
      kind: 'reject',
      reason: AppendReject.PrevIndexBeyondEnd,
      hintIndex: 5,
      hintTerm: 2,
    });
    // Leader has term 1 at 4: our entries with term 2 above index 2 cannot match.
    assert.deepEqual(planFollowerAppend(log, 0, append(4, 1, [3])), {
      kind: 'reject',
      reason: AppendReject.PrevTermMismatch,
      hintIndex: 2,
      hintTerm: 1,
    });
  });

  test('an append below the commit index is answered with the commit index', () => {
    assert.deepEqual(planFollowerAppend(logOf([1, 1, 1]), 3, append(1, 1, [1])), { kind: 'belowCommit' });
  });

  test('agrees with a naive entry-by-entry comparison (property)', () => {
    // Two Raft logs: a common prefix, then suffixes written by different leaders. Their terms are
    // disjoint (each term has one leader), which is what makes log matching hold.
    const sorted = (max: number) => fc.array(fc.integer({ min: 1, max }), { maxLength: 8 }).map((terms) => [...terms].sort((a, b) => a - b));
    const histories = fc.tuple(sorted(3), sorted(4), sorted(4)).map(([prefix, leaderTail, followerTail]) => {
      const base = prefix[prefix.length - 1] ?? 0;
      return {
        leader: [...prefix, ...leaderTail.map((term) => base + 2 * term)],
        follower: [...prefix, ...followerTail.map((term) => base + 2 * term - 1)],
      };
    });
    fc.assert(
      fc.property(histories, fc.nat({ max: 20 }), ({ leader, follower }, prevRaw) => {
        if (leader.length === 0) return;
        const prevIndex = prevRaw % leader.length;
        const log = logOf(follower);
        const leaderTerm = (index: number) => (index === 0 ? 0 : (leader[index - 1] as number));
        const message = append(prevIndex, leaderTerm(prevIndex), leader.slice(prevIndex));
        const plan = planFollowerAppend(log, 0, message);
        if (prevIndex > log.lastIndex() || log.term(prevIndex) !== leaderTerm(prevIndex)) {
          assert.equal(plan.kind, 'reject');
          if (plan.kind === 'reject' && prevIndex <= log.lastIndex()) assert((log.term(plan.hintIndex) as number) <= message.prevTerm);
          return;
        }
        let agreed = prevIndex;
        while (agreed < message.lastIndex && agreed < log.lastIndex() && log.term(agreed + 1) === leaderTerm(agreed + 1)) agreed++;
        assert.equal(plan.kind, 'accept');
        if (plan.kind !== 'accept') return;
        assert.equal(plan.writeFrom, agreed === message.lastIndex ? null : agreed + 1);
        assert.equal(plan.truncateFrom, agreed < message.lastIndex && agreed < log.lastIndex() ? agreed + 1 : null);
      }),
      { numRuns: 10_000 },
    );
  });
});

describe('log searches', () => {
  test('lastIndexWithTermAtMost, termRunsOf, runTermAt, lastAgreeingIndex', () => {
    const log = logOf([1, 1, 2, 2, 2, 5, 5]);
    assert.deepEqual(lastIndexWithTermAtMost(log, 7, 4), { index: 5, term: 2 });
    assert.deepEqual(lastIndexWithTermAtMost(log, 4, 1), { index: 2, term: 1 });
    assert.deepEqual(lastIndexWithTermAtMost(log, 7, 0), { index: 0, term: 0 });
    const { runs, lastIndex } = termRunsOf(log, 2, 7, 64);
    assert.deepEqual(runs, [[2, 1], [3, 2], [6, 5]]);
    assert.equal(lastIndex, 7);
    assert.deepEqual(termRunsOf(log, 2, 7, 2), { runs: [[2, 1], [3, 2]], lastIndex: 5 }, 'cut after two runs');
    assert.equal(runTermAt(runs, 4), 2);
    assert.equal(runTermAt(runs, 7), 5);
    assert.equal(lastAgreeingIndex(log, 2, [[3, 2], [5, 3]], 7), 4);
  });

  test('batchEnd never crosses a segment and respects the byte budget', () => {
    const log = logOf([1, 1, 1, 1, 1, 1, 1, 1, 1, 1], 4);
    assert.equal(log.batchEnd(1, 1000), 4);
    assert.equal(log.batchEnd(3, 1000), 4);
    assert.equal(log.batchEnd(5, 25), 6);
    assert.equal(log.batchEnd(5, 5), 5, 'one entry even when it alone exceeds the budget');
  });
});

describe('flow control bookkeeping', () => {
  test('inflights are bounded by count and bytes and freed by acknowledgement', () => {
    const inflights = new Inflights(3, 100);
    inflights.add(5, 40);
    inflights.add(9, 40);
    assert.equal(inflights.full(), false);
    inflights.add(12, 40);
    assert.equal(inflights.full(), true);
    assert.throws(() => inflights.add(13, 1));
    inflights.freeTo(9);
    assert.equal(inflights.batches, 1);
    assert.equal(inflights.bytes, 40);
    const bytes = new Inflights(10, 100);
    bytes.add(1, 60);
    bytes.add(2, 60);
    assert.equal(bytes.full(), true, 'full by bytes');
    const empty = new Inflights(10, 100);
    empty.add(1, 500);
    assert.equal(empty.batches, 1, 'an empty window admits one oversized batch');
  });

  test('byte marks are exact on event boundaries and interpolate inside events', () => {
    const marks = new ByteMarks(16);
    marks.reset(10);
    marks.record(11, 100);
    marks.record(15, 400);
    assert.equal(marks.bytesBetween(10, 11), 100);
    assert.equal(marks.bytesBetween(11, 15), 400);
    assert.equal(marks.bytesBetween(11, 13), 200);
    assert.equal(marks.bytesBetween(5, 11), null, 'below the leadership start: unknown');
    assert.equal(marks.bytesBetween(14, 16), null, 'beyond the last mark: unknown');
    assert.equal(marks.bytesAfter(11), 400);
    assert.equal(marks.bytesAfter(3), 500);
    marks.trimBelow(15);
    assert.equal(marks.size, 1);
  });

  test('progress backs off on rejections and ignores stale ones', () => {
    const progress = new Progress(11, 4, 1000);
    progress.maybeUpdate(5);
    progress.becomeReplicate();
    progress.sent(8, 10);
    progress.sent(10, 10);
    assert.equal(progress.next, 11);
    assert.equal(progress.maybeBackOff(4, 1), false, 'rejected prevIndex at or below match is stale');
    assert.equal(progress.maybeBackOff(8, 1), true);
    assert.equal(progress.state, 'probe');
    assert.equal(progress.next, 6);
    assert.equal(progress.maybeBackOff(9, 1), false, 'not the probe we sent');
    assert.equal(progress.maybeBackOff(5, 3), true);
    assert.equal(progress.next, 6, 'never at or below match');
  });
});

describe('validation', () => {
  test('configuration relationships are validated with a reason', () => {
    assert.equal(invalidRaftConfig(RAFT_CONFIG_DEFAULT), null);
    assert.equal(invalidRaftConfig({ ...RAFT_CONFIG_DEFAULT, electionTicks: 2, heartbeatTicks: 2 }), 'electionTicks must be > heartbeatTicks');
    assert.equal(invalidRaftConfig({ ...RAFT_CONFIG_DEFAULT, inflightBytesMax: 10, batchBytesMax: 20 }), 'inflightBytesMax must be >= batchBytesMax');
    assert.equal(invalidRaftConfig({ ...RAFT_CONFIG_DEFAULT, electionTicks: 1.5 }), 'electionTicks must be a positive integer');
    assert.throws(() => resolveRaftConfig({ heartbeatTicks: 0 }), /heartbeatTicks must be a positive integer/);
  });

  test('malformed peer messages are named', () => {
    const good = append(2, 1, [1, 2]);
    assert.equal(invalidMessage(good), null);
    assert.equal(invalidMessage({ ...good, runs: [[4, 1]] }), 'runs out of order');
    assert.equal(invalidMessage({ ...good, runs: [[3, 2], [4, 1]] }), 'run terms out of order');
    assert.equal(invalidMessage({ ...good, lastIndex: 1 }), 'last index below prev index');
    assert.equal(invalidMessage({ ...good, term: -1 }), 'bad term');
    assert.equal(invalidMessage({ ...good, from: '' }), 'bad node id');
    assert.equal(invalidMessage({ ...good, confEntries: [{ index: 9, membership: makeMembership(['a']) }] }), 'conf entry out of range');
    assert.equal(
      invalidMessage({ type: 'voteResponse', from: 'a', to: 'b', term: 1, granted: false, reason: null }),
      'bad vote reason',
    );
    assert.equal(invalidMessage({ type: 'vote', from: 'a', to: 'b', term: 1, lastIndex: 3, lastTerm: 2, transfer: false }), 'last term above term');
  });

  test('the PRNG is deterministic per seed and uniform enough', () => {
    const first = new SeededPrng(42);
    const second = new SeededPrng(42);
    const values = Array.from({ length: 20 }, () => first.nextU32());
    assert.deepEqual(values, Array.from({ length: 20 }, () => second.nextU32()));
    assert.notDeepEqual(values, Array.from({ length: 20 }, () => new SeededPrng(43).nextU32()));
    const counts = new Array<number>(10).fill(0);
    const prng = new SeededPrng(7);
    for (let i = 0; i < 100_000; i++) counts[prng.nextInt(10)] = (counts[prng.nextInt(10)] as number) + 1;
    for (const count of counts) assert(count > 9_000 && count < 11_000);
  });
});
