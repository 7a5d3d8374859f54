// Byte accounting for a leader that never sees entry bytes. The driver reports the bytes of each
// `appended` event; a mark records the cumulative bytes through that event's last index. The bytes
// of an index range are exact when the range starts and ends on marks, and interpolated in
// proportion to entry counts inside an event (an estimate: exact when every event is one entry or
// entries are of equal size). Ranges outside the marks (entries of earlier terms, or marks dropped
// at the cap) are unknown and the caller falls back to the byte budget a batch was cut with.

import assert from 'node:assert/strict';

export class ByteMarks {
  private indexes: number[] = [];
  private cumulative: number[] = [];
  private total = 0;

  constructor(readonly marksMax: number) {
    assert(Number.isSafeInteger(marksMax) && marksMax >= 2);
  }

  /** Starts a new leadership: nothing is known about entries up to `lastIndex`. */
  reset(lastIndex: number): void {
    this.indexes = [lastIndex];
    this.cumulative = [0];
    this.total = 0;
  }

  record(lastIndex: number, bytes: number): void {
    assert(Number.isSafeInteger(bytes) && bytes >= 0, 'appended bytes must be a non-negative integer');
    const newest = this.indexes[this.indexes.length - 1];
    assert(newest !== undefined, 'reset() before record()');
    assert(lastIndex > newest, 'appended marks must ascend');
    this.total += bytes;
    this.indexes.push(lastIndex);
    this.cumulative.push(this.total);
    if (this.indexes.length > this.marksMax) this.dropOldest(this.indexes.length - this.marksMax);
  }

  /** Bytes of entries `afterIndex+1 .. throughIndex`, or null when the range is not covered by marks. */
  bytesBetween(afterIndex: number, throughIndex: number): number | null {
    assert(afterIndex < throughIndex);
    const through = this.cumulativeAt(throughIndex);
    const after = this.cumulativeAt(afterIndex);
    if (through === null || after === null) return null;
    return Math.ceil(through - after);
  }

  /** Bytes appended in this leadership above `index` (all of them when `index` is below the marks). */
  bytesAfter(index: number): number {
    if (this.indexes.length === 0) return 0;
    const first = this.indexes[0] as number;
    const at = this.cumulativeAt(Math.max(index, first));
    return at === null ? 0 : Math.ceil(this.total - at);
  }

  /** Forgets marks that no range query at or above `index` needs any more. */
  trimBelow(index: number): void {
    const keep = this.lastAtOrBelow(index);
    if (keep > 0) this.dropOldest(keep);
  }

  get size(): number {
    return this.indexes.length;
  }

  /** Cumulative bytes through `index`, interpolated between the surrounding marks; null outside them. */
  private cumulativeAt(index: number): number | null {
    const lower = this.lastAtOrBelow(index);
    if (lower < 0) return null;
    const lowerIndex = this.indexes[lower] as number;
    const lowerBytes = this.cumulative[lower] as number;
    if (lowerIndex === index) return lowerBytes;
    const upper = lower + 1;
    if (upper >= this.indexes.length) return null;
    const upperIndex = this.indexes[upper] as number;
    const upperBytes = this.cumulative[upper] as number;
    return lowerBytes + ((upperBytes - lowerBytes) * (index - lowerIndex)) / (upperIndex - lowerIndex);
  }

  private dropOldest(count: number): void {
    this.indexes.splice(0, count);
    this.cumulative.splice(0, count);
  }

  /** Position of the largest mark <= index, or -1. */
  private lastAtOrBelow(index: number): number {
    let low = 0;
    let high = this.indexes.length - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if ((this.indexes[middle] as number) <= index) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found;
  }
}
