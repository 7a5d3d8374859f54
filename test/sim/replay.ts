// Replays simulator seeds exactly.
//   node dist/test/sim/replay.js --seed 1234            one seed, prints the result and options
//   node dist/test/sim/replay.js --seed 1234 --trace    ... with one line per event
//   node dist/test/sim/replay.js --from 0 --count 5000  a range of seeds, prints failures and seeds/s

import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { simulate, type SimResult } from './simulate.js';

export function replayCommand(seed: number): string {
  return `node dist/test/sim/replay.js --seed ${seed}`;
}

export function describeFailure(result: SimResult): string {
  return `SEED=${result.seed} FAILED ${result.error}\n  replay: ${replayCommand(result.seed)} --trace\n  options: ${JSON.stringify(result.options)}`;
}

function main(): void {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string' },
      from: { type: 'string' },
      count: { type: 'string' },
      trace: { type: 'boolean', default: false },
    },
  });
  if (values.seed !== undefined) {
    const seed = Number(values.seed);
    const trace = values.trace ? (line: string) => process.stdout.write(`${line}\n`) : undefined;
    const result = simulate(seed, trace === undefined ? {} : { trace });
    process.stdout.write(`${result.ok ? `SEED=${seed} ok` : describeFailure(result)}\n`);
    process.stdout.write(`stats: ${JSON.stringify(result.stats)}\n`);
    if (!result.ok) process.exitCode = 1;
    return;
  }
  const from = Number(values.from ?? '0');
  const count = Number(values.count ?? '1000');
  const started = performance.now();
  let failures = 0;
  for (let seed = from; seed < from + count; seed++) {
    const result = simulate(seed);
    if (!result.ok) {
      failures++;
      process.stdout.write(`${describeFailure(result)}\n`);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(`${count} seeds, ${failures} failed, ${seconds.toFixed(1)} s, ${(count / seconds).toFixed(1)} seeds/s\n`);
  if (failures > 0) process.exitCode = 1;
}

const invokedDirectly = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) main();
