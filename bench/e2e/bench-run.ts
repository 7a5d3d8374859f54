// What every comparative bench does around its rounds: a temp root for the data, SIGINT/SIGTERM killing every
// child (servers, dev clusters, clients) and removing the root, rounds run while the next one still fits the time
// budget, and the final clean-up. The bench supplies its start line, its round and its report.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { killAllDevs } from './ledgermq-dev.js';
import { killAll } from './procs.js';

export interface BenchRun {
  /** Names the temp root and the failure line, e.g. "e2e". */
  name: string;
  /** Parent of the temp root (default: the OS temp dir). */
  dir?: string;
  /** Leave the data after the run. */
  keep: boolean;
  rounds: number;
  budgetMs: number;
  log: (line: string) => void;
  /** Once, before the rounds (start line, installing servers). */
  prepare: (root: string) => Promise<void> | void;
  round: (root: string, round: number) => Promise<void>;
  /** After the rounds: the report (its JSON line included). */
  finish: (roundsRun: number, elapsedMs: number) => void;
}

/** Runs the bench and exits the process (1 if it failed). */
export async function runBench(b: BenchRun): Promise<never> {
  const root = fs.mkdtempSync(path.join(b.dir ?? os.tmpdir(), `ledgermq-${b.name}-`));
  let interrupted = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (interrupted) return;
      interrupted = true;
      b.log(`\n${sig}: stopping every child process`);
      killAll();
      killAllDevs(); // dev was SIGKILLed above, so its name server and brokers are killed by pid
      fs.rmSync(root, { recursive: true, force: true });
      process.exit(130);
    });
  }
  let failed = false;
  try {
    await b.prepare(root);
    const started = performance.now();
    let roundsRun = 0;
    for (let round = 1; round <= b.rounds; round++) {
      const elapsed = performance.now() - started;
      // Another round of the average length (plus 10%) must still fit the budget.
      if (round > 1 && elapsed + (elapsed / (round - 1)) * 1.1 > b.budgetMs) {
        b.log(`round ${round} skipped: it would not fit in the ${b.budgetMs / 1000} s budget`);
        break;
      }
      if (b.rounds > 1) b.log(`round ${round}/${b.rounds}`);
      await b.round(root, round);
      roundsRun = round;
    }
    b.finish(roundsRun, performance.now() - started);
  } catch (error) {
    failed = true;
    console.error(`${b.name} bench failed: ${(error as Error).stack ?? String(error)}`);
  } finally {
    killAll();
    killAllDevs();
    if (!b.keep) fs.rmSync(root, { recursive: true, force: true });
    else b.log(`data kept in ${root}`);
  }
  process.exit(failed ? 1 : 0);
}
