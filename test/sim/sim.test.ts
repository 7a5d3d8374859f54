// Deterministic simulation of the Raft core (see simulate.ts for what a seed does and checks).
//
// Default: LEDGERMQ_SIM_SEEDS seeds (5000 when unset) from LEDGERMQ_SIM_SEED_FROM (0), a mix of 3-
// and 5-voter groups, in chunks of 500. A failing seed prints one line that replays it exactly:
//   node dist/test/sim/replay.js --seed <n> --trace
// Opt-in long run, e.g.:
//   LEDGERMQ_SIM_SEEDS=100000 node scripts/run-tests.mjs sim
//   LEDGERMQ_SIM_SEEDS=20000 LEDGERMQ_SIM_SEED_FROM=1000000 node scripts/run-tests.mjs sim

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { describeFailure } from './replay.js';
import { simulate, type SimStats } from './simulate.js';

const SEEDS_DEFAULT = 5000;
const CHUNK_SEEDS = 500;

function envInteger(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  assert(Number.isSafeInteger(value) && value >= 0, `${name} must be a non-negative integer`);
  return value;
}

const seedCount = envInteger('LEDGERMQ_SIM_SEEDS', SEEDS_DEFAULT);
const seedFrom = envInteger('LEDGERMQ_SIM_SEED_FROM', 0);
const totals: SimStats & { seeds: number; threeVoters: number; fiveVoters: number; seconds: number } = {
  seeds: 0,
  threeVoters: 0,
  fiveVoters: 0,
  seconds: 0,
  ticks: 0,
  elections: 0,
  committed: 0,
  crashes: 0,
  messagesSent: 0,
  messagesDropped: 0,
  snapshots: 0,
  membershipChanges: 0,
  transfers: 0,
};

describe('raft simulation', () => {
  for (let chunkFrom = seedFrom; chunkFrom < seedFrom + seedCount; chunkFrom += CHUNK_SEEDS) {
    const chunkTo = Math.min(chunkFrom + CHUNK_SEEDS, seedFrom + seedCount);
    test(`seeds ${chunkFrom}..${chunkTo - 1}`, () => {
      const started = performance.now();
      const failures: string[] = [];
      for (let seed = chunkFrom; seed < chunkTo; seed++) {
        const result = simulate(seed);
        totals.seeds++;
        if (result.options.voterCount === 3) totals.threeVoters++;
        else totals.fiveVoters++;
        for (const key of Object.keys(result.stats) as Array<keyof SimStats>) totals[key] += result.stats[key];
        if (!result.ok) failures.push(describeFailure(result));
      }
      totals.seconds += (performance.now() - started) / 1000;
      assert.equal(failures.length, 0, `\n${failures.join('\n')}`);
    });
  }

  test('the swarm exercised every fault and feature', () => {
    if (totals.seeds < 1000) return; // too few seeds to expect everything
    assert(totals.threeVoters > 0 && totals.fiveVoters > 0);
    assert(totals.crashes > 0 && totals.messagesDropped > 0);
    assert(totals.snapshots > 0, 'segment installs');
    assert(totals.membershipChanges > 0, 'membership changes');
    assert(totals.transfers > 0, 'leadership transfers');
    assert(totals.elections > totals.seeds, 'leader churn');
    const rate = totals.seeds / Math.max(totals.seconds, 0.001);
    process.stdout.write(`# sim: ${totals.seeds} seeds in ${totals.seconds.toFixed(1)} s (${rate.toFixed(0)} seeds/s) ${JSON.stringify(totals)}\n`);
  });

  test('a seed replays exactly', () => {
    const lines = (seed: number) => {
      const trace: string[] = [];
      const result = simulate(seed, { trace: (line) => trace.push(line) });
      return { result, trace };
    };
    for (const seed of [1, 2, 3]) {
      const first = lines(seed);
      const second = lines(seed);
      assert.deepEqual(first.result, second.result);
      assert.deepEqual(first.trace, second.trace);
      assert(first.trace.length > 100);
      // Tracing must not change the run.
      assert.deepEqual(simulate(seed).stats, first.result.stats);
    }
  });
});
