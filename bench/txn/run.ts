// Transaction benchmark: transactional sends (half message + a trivial local COMMIT + END_TRANSACTION) next to plain
// sync sends, in the same run, against `ledgermq dev --nodes 1` started here on free loopback ports with its data in
// a temp dir. Two modes per kind:
//   seq     one at a time (latency-bound)
//   window  --window operations in flight
// Phases alternate (plain, txn, plain, txn, ...) for --rounds rounds so drift on a shared machine hits both kinds
// alike; every figure is the median of the rounds. Each phase is bounded by a count and by --phase-seconds.
// Prints a table and ends with ONE JSON line holding every figure and the txn/plain ratios.
// Usage: node dist/bench/txn/run.js [--quick] [--rounds 3] [--seq-count 2000] [--window-count 20000] [--window 64]
//        [--size 128] [--phase-seconds 8] [--echo] [--keep]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Admin, Producer, TransactionProducer, type Message } from '../../client/index.js';
import { LedgermqDev } from '../e2e/ledgermq-dev.js';

const TOPIC = 'BenchTxn';

// ---------- options ----------
const argv = process.argv.slice(2);
const has = (name: string): boolean => argv.includes(`--${name}`);
const num = (name: string, fallback: number): number => {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const n = Number(argv[i + 1]);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got ${argv[i + 1]}`);
  return n;
};
const quick = has('quick');
const rounds = Math.round(num('rounds', quick ? 1 : 3));
const seqCount = Math.round(num('seq-count', quick ? 300 : 2000));
const windowCount = Math.round(num('window-count', quick ? 2000 : 20_000));
const window = Math.round(num('window', 64));
const size = Math.round(num('size', 128));
const phaseMs = num('phase-seconds', quick ? 3 : 8) * 1000;
const echo = has('echo');
const keep = has('keep');

// ---------- the cluster ----------
// `ledgermq dev --nodes 1` on free ports, as bench:e2e starts it (its exit handler kills what dev started).
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));

// ---------- measuring ----------
interface PhaseFigures {
  ops: number;
  seconds: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  failures: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Runs `op` up to `count` times with `inFlight` at once, stopping early after `capMs`. */
async function phase(count: number, inFlight: number, capMs: number, op: (i: number) => Promise<boolean>): Promise<PhaseFigures> {
  const latencies: number[] = [];
  let next = 0;
  let failures = 0;
  const started = performance.now();
  const deadline = started + capMs;
  const worker = async (): Promise<void> => {
    while (next < count && performance.now() < deadline) {
      const i = next++;
      const t0 = performance.now();
      let ok = false;
      try {
        ok = await op(i);
      } catch {
        ok = false;
      }
      latencies.push(performance.now() - t0);
      if (!ok) failures++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, worker));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { ops: latencies.length, seconds: round(seconds, 3), opsPerSec: round(latencies.length / seconds, 1), p50Ms: round(percentile(latencies, 50), 3), p99Ms: round(percentile(latencies, 99), 3), failures };
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function medianFigures(list: PhaseFigures[]): PhaseFigures {
  return {
    ops: Math.round(median(list.map((f) => f.ops))),
    seconds: round(median(list.map((f) => f.seconds)), 3),
    opsPerSec: round(median(list.map((f) => f.opsPerSec)), 1),
    p50Ms: round(median(list.map((f) => f.p50Ms)), 3),
    p99Ms: round(median(list.map((f) => f.p99Ms)), 3),
    failures: list.reduce((a, f) => a + f.failures, 0),
  };
}

// ---------- the run ----------
type Kind = 'plain' | 'txn';
type Mode = 'seq' | 'window';

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgermq-bench-txn-'));
  const dev = await LedgermqDev.start({ nodes: 1, dataDir: path.join(root, 'dev'), echo });
  const quiet = { warn: (m: string) => echo && console.error(m) };
  const admin = new Admin({ namesrv: dev.namesrv, logger: quiet });
  const producer = new Producer({ namesrv: dev.namesrv, group: 'PG_bench_plain', logger: quiet });
  let checks = 0;
  const txnProducer = new TransactionProducer({ namesrv: dev.namesrv, group: 'PG_bench_txn', logger: quiet, checker: () => (checks++, 'COMMIT') });
  const body = Buffer.alloc(size, 'x');
  const message = (i: number): Message => ({ topic: TOPIC, body, keys: `k${i}` });
  const results: Record<Mode, Record<Kind, PhaseFigures[]>> = { seq: { plain: [], txn: [] }, window: { plain: [], txn: [] } };
  const started = Date.now();
  try {
    await admin.start();
    await admin.createTopic(TOPIC, { queues: 8 });
    await producer.start();
    await txnProducer.start();
    const ops: Record<Kind, (i: number) => Promise<boolean>> = {
      plain: async (i) => (await producer.send(message(i))).status === 'SEND_OK',
      txn: async (i) => (await txnProducer.sendMessageInTransaction(message(i), () => 'COMMIT')).ended,
    };
    // Warm-up: connections, routes, JIT, the half topic.
    await phase(300, 16, 10_000, ops.plain);
    await phase(300, 16, 10_000, ops.txn);
    for (let round = 0; round < rounds; round++) {
      for (const mode of ['seq', 'window'] as const) {
        for (const kind of ['plain', 'txn'] as const) {
          const f = mode === 'seq' ? await phase(seqCount, 1, phaseMs, ops[kind]) : await phase(windowCount, window, phaseMs, ops[kind]);
          results[mode][kind].push(f);
          if (echo) console.log(`  round ${round + 1} ${mode} ${kind}: ${f.opsPerSec} ops/s p50 ${f.p50Ms} ms p99 ${f.p99Ms} ms (${f.ops} ops, ${f.failures} failures)`);
        }
      }
    }
  } finally {
    await txnProducer.shutdown().catch(() => undefined);
    await producer.shutdown().catch(() => undefined);
    await admin.shutdown().catch(() => undefined);
    await dev.stop();
    if (!keep) fs.rmSync(root, { recursive: true, force: true });
  }

  const figures = {
    seq: { plain: medianFigures(results.seq.plain), txn: medianFigures(results.seq.txn) },
    window: { plain: medianFigures(results.window.plain), txn: medianFigures(results.window.txn) },
  };
  const ratio = {
    seqThroughput: round(figures.seq.txn.opsPerSec / figures.seq.plain.opsPerSec, 3),
    windowThroughput: round(figures.window.txn.opsPerSec / figures.window.plain.opsPerSec, 3),
    seqP50Latency: round(figures.seq.txn.p50Ms / figures.seq.plain.p50Ms, 3),
  };
  const rows: Array<[string, string, PhaseFigures]> = [
    ['seq (1 in flight)', 'plain sync send', figures.seq.plain],
    ['seq (1 in flight)', 'transaction', figures.seq.txn],
    [`window (${window} in flight)`, 'plain sync send', figures.window.plain],
    [`window (${window} in flight)`, 'transaction', figures.window.txn],
  ];
  console.log(`\nledgermq transactions vs plain sends: ledgermq dev --nodes 1, ${size}-byte bodies, median of ${rounds} round(s), ${Math.round((Date.now() - started) / 1000)} s`);
  console.log(`${'mode'.padEnd(22)}${'kind'.padEnd(18)}${'ops/s'.padStart(10)}${'p50 ms'.padStart(10)}${'p99 ms'.padStart(10)}${'ops'.padStart(8)}${'fail'.padStart(6)}`);
  for (const [mode, kind, f] of rows) {
    console.log(`${mode.padEnd(22)}${kind.padEnd(18)}${f.opsPerSec.toFixed(1).padStart(10)}${f.p50Ms.toFixed(3).padStart(10)}${f.p99Ms.toFixed(3).padStart(10)}${String(f.ops).padStart(8)}${String(f.failures).padStart(6)}`);
  }
  console.log(`txn/plain throughput: seq ${ratio.seqThroughput}, window ${ratio.windowThroughput}; back-checks answered: ${checks}`);
  console.log(JSON.stringify({ bench: 'txn', system: 'ledgermq dev --nodes 1', bodyBytes: size, rounds, window, seqCount, windowCount, phaseSeconds: phaseMs / 1000, figures, ratio, checks }));
}

main().catch((error) => {
  console.error(`bench:txn failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
  process.exitCode = 1;
});
