// The driver's log as the core sees it (read-only, synchronous), and pure searches over it.
// Raft logs have non-decreasing terms, and two logs that share (index, term) share every earlier
// entry; both facts make the searches below binary searches instead of scans.

import assert from 'node:assert/strict';

import type { TermRun } from './types.js';

export interface LogView {
  /** First index still stored (after retention or a snapshot); lastIndex()+1 when empty. */
  firstIndex(): number;
  /** 0 when the log was never written. */
  lastIndex(): number;
  /** Defined for firstIndex()-1 .. lastIndex() (term(0) = 0); undefined when compacted or beyond the end. */
  term(index: number): number | undefined;
  /**
   * Last index of a batch starting at `from` (from <= lastIndex()): at least one entry, at most
   * maxBytes in total unless the first entry alone is bigger, never crossing a segment boundary.
   */
  batchEnd(from: number, maxBytes: number): number;
}

export function termAt(log: LogView, index: number): number {
  const term = log.term(index);
  assert(term !== undefined, `log term at ${index} is not available`);
  return term;
}

export function lastTermOf(log: LogView): number {
  return termAt(log, log.lastIndex());
}

/**
 * The largest index in [firstIndex-1, atMost] whose term is <= maxTerm, with that term.
 * If even firstIndex-1 has a bigger term, returns firstIndex-1 and its term.
 */
export function lastIndexWithTermAtMost(log: LogView, atMost: number, maxTerm: number): { index: number; term: number } {
  let low = log.firstIndex() - 1;
  let high = Math.min(atMost, log.lastIndex());
  assert(high >= low, 'search below the stored log');
  if (termAt(log, low) > maxTerm) return { index: low, term: termAt(log, low) };
  while (low < high) {
    const middle = low + Math.ceil((high - low) / 2);
    if (termAt(log, middle) <= maxTerm) low = middle;
    else high = middle - 1;
  }
  return { index: low, term: termAt(log, low) };
}

/**
 * Term runs of entries `from .. to` in `log`, cut after `runsMax` runs. Returns the runs and the
 * (possibly lower) last index they cover.
 */
export function termRunsOf(log: LogView, from: number, to: number, runsMax: number): { runs: TermRun[]; lastIndex: number } {
  assert(from <= to && runsMax >= 1);
  const runs: TermRun[] = [];
  let start = from;
  while (start <= to && runs.length < runsMax) {
    const term = termAt(log, start);
    // Largest index in [start, to] with this term (terms never decrease).
    let low = start;
    let high = to;
    while (low < high) {
      const middle = low + Math.ceil((high - low) / 2);
      if (termAt(log, middle) === term) low = middle;
      else high = middle - 1;
    }
    runs.push([start, term]);
    start = low + 1;
  }
  return { runs, lastIndex: start - 1 };
}

/** The term of `index` according to `runs` (index must be inside the runs' span). */
export function runTermAt(runs: readonly TermRun[], index: number): number {
  let low = 0;
  let high = runs.length - 1;
  assert(high >= 0 && index >= (runs[0] as TermRun)[0], 'index before the first run');
  while (low < high) {
    const middle = (low + high + 1) >>> 1;
    if ((runs[middle] as TermRun)[0] <= index) low = middle;
    else high = middle - 1;
  }
  return (runs[low] as TermRun)[1];
}

/**
 * The largest index in [prevIndex, throughIndex] where `log` agrees with the leader's entries
 * (prevIndex is known to agree). Agreement is prefix-closed (log matching), so this is a binary search.
 */
export function lastAgreeingIndex(log: LogView, prevIndex: number, runs: readonly TermRun[], throughIndex: number): number {
  let low = prevIndex;
  let high = throughIndex;
  assert(high <= log.lastIndex());
  while (low < high) {
    const middle = low + Math.ceil((high - low) / 2);
    if (termAt(log, middle) === runTermAt(runs, middle)) low = middle;
    else high = middle - 1;
  }
  return low;
}
