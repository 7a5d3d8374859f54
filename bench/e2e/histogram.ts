// Latency histogram with bounded memory: microsecond values in log-linear buckets (exact below 256 us, then 128
// buckets per power of two, so every reported percentile is within 1% of the true value). Values above ~35 min
// land in the last bucket.
const SUB_BITS = 7;
const SUB = 1 << SUB_BITS; // 128 buckets per power of two
const LINEAR = 2 * SUB; // values below this are counted exactly
const MAX_SHIFT = 24; // covers values up to 2^31 us
const BUCKETS = LINEAR + MAX_SHIFT * SUB;

export interface LatencySummary {
  count: number;
  /** milliseconds */
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKETS);
  private total = 0;
  private sumUs = 0;
  private maxUs = 0;

  /** Records one latency given in milliseconds (performance.now() differences). */
  recordMs(ms: number): void {
    const us = Math.max(0, Math.round(ms * 1000));
    this.counts[bucketOf(us)]! += 1;
    this.total += 1;
    this.sumUs += us;
    if (us > this.maxUs) this.maxUs = us;
  }

  /** Value (ms) at quantile q in [0, 1]: the middle of the bucket holding the q-th value. */
  quantileMs(q: number): number {
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(midpointOf(i), this.maxUs) / 1000;
    }
    return this.maxUs / 1000;
  }

  summary(): LatencySummary {
    const r = (ms: number): number => Math.round(ms * 1000) / 1000;
    return {
      count: this.total,
      mean: this.total === 0 ? 0 : r(this.sumUs / this.total / 1000),
      p50: r(this.quantileMs(0.5)),
      p90: r(this.quantileMs(0.9)),
      p99: r(this.quantileMs(0.99)),
      p999: r(this.quantileMs(0.999)),
      max: r(this.maxUs / 1000),
    };
  }
}

function bucketOf(us: number): number {
  if (us < LINEAR) return us;
  const v = Math.min(us, 2 ** 31 - 1);
  const msb = 31 - Math.clz32(v);
  const shift = msb - SUB_BITS; // >= 1 here
  return LINEAR + (shift - 1) * SUB + ((v >>> shift) - SUB);
}

function midpointOf(index: number): number {
  if (index < LINEAR) return index;
  const shift = Math.floor((index - LINEAR) / SUB) + 1;
  const low = ((index - LINEAR) % SUB + SUB) * 2 ** shift;
  return low + 2 ** (shift - 1);
}
