// Seeded pseudo-random numbers. The core only needs `nextInt`; simulators and tests use the rest.
// The generator is xoshiro128** (Blackman and Vigna), seeded through a splitmix32-style mixer so
// that neighbouring seeds give unrelated streams.

import assert from 'node:assert/strict';

/** What the Raft core needs: a uniform integer in [0, maxExclusive). */
export interface Prng {
  nextInt(maxExclusive: number): number;
}

function mix32(state: number): number {
  let z = state | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export class SeededPrng implements Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    assert(Number.isSafeInteger(seed), 'seed must be a safe integer');
    const low = seed >>> 0;
    const high = Math.floor(seed / 0x1_0000_0000) >>> 0;
    let s = (low ^ Math.imul(high, 0x9e3779b9)) | 0;
    s = (s + 0x9e3779b9) | 0;
    this.a = mix32(s);
    s = (s + 0x9e3779b9) | 0;
    this.b = mix32(s);
    s = (s + 0x9e3779b9) | 0;
    this.c = mix32(s);
    s = (s + 0x9e3779b9) | 0;
    this.d = mix32(s ^ high);
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1; // the all-zero state is a fixed point
  }

  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  nextInt(maxExclusive: number): number {
    assert(Number.isSafeInteger(maxExclusive) && maxExclusive > 0 && maxExclusive <= 0x1_0000_0000);
    // Rejection sampling keeps the distribution exactly uniform.
    const limit = 0x1_0000_0000 - (0x1_0000_0000 % maxExclusive);
    for (let attempt = 0; attempt < 64; attempt++) {
      const value = this.nextU32();
      if (value < limit) return value % maxExclusive;
    }
    return this.nextU32() % maxExclusive; // 2^-64 odds; bounded loop per the style rules
  }

  /** Uniform integer in [min, max]. */
  between(min: number, max: number): number {
    assert(min <= max);
    return min + this.nextInt(max - min + 1);
  }

  /** Uniform float in [0, 1). */
  nextFloat(): number {
    return this.nextU32() / 0x1_0000_0000;
  }

  chance(probability: number): boolean {
    return this.nextFloat() < probability;
  }

  pick<T>(items: readonly T[]): T {
    assert(items.length > 0, 'pick from an empty list');
    return items[this.nextInt(items.length)] as T;
  }
}

function rotl(value: number, shift: number): number {
  return (value << shift) | (value >>> (32 - shift));
}
