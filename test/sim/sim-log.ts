// An in-memory Raft log implementing the core's LogView, with segment boundaries every
// `segmentEntries` indexes so that batches are cut the way the mapped-file store cuts them.
// Used by the simulator's disks and by the core's unit tests.

import assert from 'node:assert/strict';

import type { LogView } from '../../dledger/core/log-view.js';
import type { ConfEntry, Membership, MembershipState } from '../../dledger/core/types.js';

export interface SimEntry {
  readonly index: number;
  readonly term: number;
  /** Unique content id: proposals `p<n>`, no-ops `noop:<term>:<node>`, configuration changes `conf:<n>`. */
  readonly id: string;
  readonly bytes: number;
  readonly conf: Membership | null;
}

/** What a segment install transfers: a committed prefix of the leader's log. */
export interface LogImage {
  readonly first: number;
  readonly baseTerm: number;
  readonly baseMembership: Membership;
  readonly entries: readonly SimEntry[];
}

export class SimLog implements LogView {
  private first = 1;
  private baseTerm = 0;
  /** Membership in effect at first-1. */
  private baseMembership: Membership;
  private entries: SimEntry[] = [];
  /** Positions (indexes) of configuration entries in `entries`, ascending. */
  private confIndexes: number[] = [];

  constructor(
    initialMembership: Membership,
    readonly segmentEntries = 64,
  ) {
    assert(segmentEntries >= 1);
    this.baseMembership = initialMembership;
  }

  firstIndex(): number {
    return this.first;
  }

  lastIndex(): number {
    return this.first + this.entries.length - 1;
  }

  term(index: number): number | undefined {
    if (index === this.first - 1) return this.baseTerm;
    if (index < this.first || index > this.lastIndex()) return undefined;
    return (this.entries[index - this.first] as SimEntry).term;
  }

  batchEnd(from: number, maxBytes: number): number {
    const lastIndex = this.lastIndex();
    assert(from >= this.first && from <= lastIndex, `batchEnd(${from}) outside ${this.first}..${lastIndex}`);
    const segment = Math.floor((from - 1) / this.segmentEntries);
    let bytes = (this.entries[from - this.first] as SimEntry).bytes;
    let end = from;
    while (end < lastIndex) {
      const next = this.entries[end + 1 - this.first] as SimEntry;
      if (Math.floor(end / this.segmentEntries) !== segment) break; // index end+1 starts another segment
      if (bytes + next.bytes > maxBytes) break;
      bytes += next.bytes;
      end++;
    }
    return end;
  }

  entry(index: number): SimEntry | undefined {
    if (index < this.first || index > this.lastIndex()) return undefined;
    return this.entries[index - this.first];
  }

  /** Entries from..to (inclusive), shared (entries are immutable). */
  slice(from: number, to: number): SimEntry[] {
    assert(from >= this.first && to <= this.lastIndex(), `slice ${from}..${to} outside the log`);
    return this.entries.slice(from - this.first, to - this.first + 1);
  }

  append(entries: readonly SimEntry[]): void {
    let expected = this.lastIndex() + 1;
    let previousTerm = this.term(this.lastIndex()) as number;
    for (const entry of entries) {
      assert(entry.index === expected, `append at ${entry.index}, expected ${expected}`);
      assert(entry.term >= previousTerm, 'terms never decrease in a log');
      this.entries.push(entry);
      if (entry.conf !== null) this.confIndexes.push(entry.index);
      expected++;
      previousTerm = entry.term;
    }
  }

  truncateFrom(fromIndex: number): void {
    assert(fromIndex >= this.first && fromIndex <= this.lastIndex() + 1, `truncate from ${fromIndex}`);
    this.entries.length = fromIndex - this.first;
    while (this.confIndexes.length > 0 && (this.confIndexes[this.confIndexes.length - 1] as number) >= fromIndex) {
      this.confIndexes.pop();
    }
  }

  /** Retention: drop entries through `index` (<= lastIndex). */
  compactThrough(index: number): void {
    if (index < this.first) return;
    assert(index <= this.lastIndex());
    this.baseMembership = this.membershipAt(index);
    this.baseTerm = this.term(index) as number;
    this.entries = this.entries.slice(index + 1 - this.first);
    this.first = index + 1;
    this.confIndexes = this.confIndexes.filter((conf) => conf > index);
  }

  /** The membership in effect at `index` (>= first-1). */
  membershipAt(index: number): Membership {
    let membership = this.baseMembership;
    for (const conf of this.confIndexes) {
      if (conf > index) break;
      membership = (this.entries[conf - this.first] as SimEntry).conf as Membership;
    }
    return membership;
  }

  activeMembership(): Membership {
    const last = this.confIndexes[this.confIndexes.length - 1];
    if (last === undefined) return this.baseMembership;
    return (this.entries[last - this.first] as SimEntry).conf as Membership;
  }

  /** What the core needs at construction (R10). */
  membershipState(): MembershipState {
    const entries: ConfEntry[] = this.confIndexes.map((index) => ({
      index,
      membership: (this.entries[index - this.first] as SimEntry).conf as Membership,
    }));
    return { base: { index: this.first - 1, membership: this.baseMembership }, entries };
  }

  /** The committed prefix through `index`, for a segment install. */
  image(index: number): LogImage {
    assert(index >= this.first - 1 && index <= this.lastIndex());
    return {
      first: this.first,
      baseTerm: this.baseTerm,
      baseMembership: this.baseMembership,
      entries: this.entries.slice(0, index - this.first + 1),
    };
  }

  install(image: LogImage): void {
    this.first = image.first;
    this.baseTerm = image.baseTerm;
    this.baseMembership = image.baseMembership;
    this.entries = [...image.entries];
    this.confIndexes = this.entries.filter((entry) => entry.conf !== null).map((entry) => entry.index);
  }

  clone(): SimLog {
    const copy = new SimLog(this.baseMembership, this.segmentEntries);
    copy.install(this.image(this.lastIndex()));
    return copy;
  }
}
