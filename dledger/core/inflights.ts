// Append batches sent to one follower and not yet acknowledged: a ring bounded by count and bytes.

import assert from 'node:assert/strict';

export class Inflights {
  private readonly lastIndexes: number[];
  private readonly sizes: number[];
  private start = 0;
  private count = 0;
  private bytesTotal = 0;

  constructor(
    readonly batchesMax: number,
    readonly bytesMax: number,
  ) {
    assert(Number.isSafeInteger(batchesMax) && batchesMax > 0);
    assert(Number.isSafeInteger(bytesMax) && bytesMax > 0);
    this.lastIndexes = new Array<number>(batchesMax).fill(0);
    this.sizes = new Array<number>(batchesMax).fill(0);
  }

  get batches(): number {
    return this.count;
  }

  get bytes(): number {
    return this.bytesTotal;
  }

  /** Full by count, or by bytes. An empty window always admits one batch, however big. */
  full(): boolean {
    return this.count === this.batchesMax || (this.count > 0 && this.bytesTotal >= this.bytesMax);
  }

  /** Bytes that may still be sent before the window is full by bytes. */
  bytesAvailable(): number {
    return Math.max(0, this.bytesMax - this.bytesTotal);
  }

  add(lastIndex: number, bytes: number): void {
    assert(!this.full(), 'inflight window overflow');
    assert(bytes >= 0);
    if (this.count > 0) {
      const newest = this.lastIndexes[(this.start + this.count - 1) % this.batchesMax] as number;
      assert(lastIndex > newest, 'inflight batches must ascend');
    }
    const slot = (this.start + this.count) % this.batchesMax;
    this.lastIndexes[slot] = lastIndex;
    this.sizes[slot] = bytes;
    this.count++;
    this.bytesTotal += bytes;
  }

  /** Frees every batch that ends at or below `index` (acknowledged). */
  freeTo(index: number): void {
    while (this.count > 0) {
      const slot = this.start;
      if ((this.lastIndexes[slot] as number) > index) break;
      this.bytesTotal -= this.sizes[slot] as number;
      this.start = (this.start + 1) % this.batchesMax;
      this.count--;
    }
    if (this.count === 0) {
      this.start = 0;
      this.bytesTotal = 0;
    }
    assert(this.bytesTotal >= 0);
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
    this.bytesTotal = 0;
  }
}
