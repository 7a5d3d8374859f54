// End-to-end benchmark: ledgermq (`ledgermq dev --nodes 1`) against NATS JetStream (one server, one replica, file
// storage), with the producer and the consumer in processes of their own, for each body size:
//   sync   one send at a time (bounded by --sync-count and --sync-seconds)
//   async  --window sends in flight (bounded by --count and --async-seconds)
// while a consumer drains the topic/stream concurrently and checks that every message number arrived.
// Every process's CPU time is measured too (producer, broker or nats-server, consumer), as CPU microseconds per
// message, and the servers' read/write system calls per message. The whole sequence runs --rounds times (default 5,
// each on a fresh cluster and server) while the run fits
// in --budget-seconds (default 270); every figure is the median of the rounds, because the machine is shared and noisy.
// Prints both systems side by side with the ratios ledgermq/NATS, and ends with one JSON line holding every figure.
// Usage: node dist/bench/e2e/run.js [--sizes 128,1024] [--count N] [--window 512] [--quick] [--rounds 5]
//        [--budget-seconds 270] [--phases sync,async]
//        [--sync-count 10000] [--sync-seconds 10] [--async-seconds 60] [--systems ledgermq,nats]
//        [--nats-consumer pull-ackall|ordered|pull-explicit|pull-none] [--nats-batch 1000] [--nats-publisher raw|js]
//        [--ledgermq-auto-batch default|off] [--pull-batch 32] [--consume-batch 32] [--queues 8] [--nodes 1] [--segment-mb N] [--flush-mode ASYNC_FLUSH]
//        [--producer-node-args="--cpu-prof --cpu-prof-dir=/tmp/p"] [--consumer-node-args=...]
//        [--broker-node-options="--cpu-prof --cpu-prof-dir=/tmp/p"] (NODE_OPTIONS of `ledgermq dev` and its children)
//        [--cpu-prof-dir DIR] (profiles of producer, consumer, dev's name server and brokers; nats-server is not profiled)
//        [--echo] [--dir DIR] [--keep]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, StorageType, type NatsConnection } from 'nats';
import { Admin } from '../../client/index.js';
import { ensureNatsServer, NatsServer, natsServerVersion } from '../nats/nats-server.js';
import { flags } from './child-io.js';
import { LedgermqDev } from './ledgermq-dev.js';
import { runBench } from './bench-run.js';
import { fmtInt, median, perMsg, ratio, runPhase as runSharedPhase, type PhaseResult, type PhaseSpec as SharedPhaseSpec } from './phase.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const NATS_DIR = path.join(HERE, '..', 'nats');

// ---------- options ----------
const f = flags();
const quick = f.has('quick');
const num = (name: string, fallback: number): number => {
  const v = f.get(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got ${v}`);
  return n;
};
const sizes = (f.get('sizes') ?? '128,1024').split(',').map((s) => {
  const n = Number(s.trim().replace(/k(i?b)?$/i, '')) * (/k(i?b)?$/i.test(s.trim()) ? 1024 : 1);
  if (!Number.isSafeInteger(n) || n < 4) throw new Error(`bad size ${s}: sizes are byte counts >= 4 (or 1k)`);
  return n;
});
const asyncCountFor = (size: number): number => Math.round(num('count', quick ? 5000 : size <= 128 ? 200_000 : 100_000));
const syncCount = Math.round(num('sync-count', quick ? 500 : 10_000));
const syncCapMs = num('sync-seconds', quick ? 5 : 10) * 1000;
const asyncCapMs = num('async-seconds', quick ? 20 : 60) * 1000;
const window = Math.round(num('window', 512));
const phases = new Set((f.get('phases') ?? 'sync,async').split(',').map((s) => s.trim()));
const systems = new Set((f.get('systems') ?? 'ledgermq,nats').split(',').map((s) => s.trim()));
const natsConsumer = f.get('nats-consumer') ?? 'pull-ackall';
const natsBatch = Math.round(num('nats-batch', 1000));
const natsPublisher = f.get('nats-publisher') ?? 'raw';
if (!['raw', 'js'].includes(natsPublisher)) throw new Error(`--nats-publisher must be raw or js, got ${natsPublisher}`);
if (!['pull-ackall', 'ordered', 'pull-explicit', 'pull-none'].includes(natsConsumer)) throw new Error(`--nats-consumer must be pull-ackall, ordered, pull-explicit or pull-none, got ${natsConsumer}`);
for (const s of systems) if (s !== 'ledgermq' && s !== 'nats') throw new Error(`--systems takes ledgermq and/or nats, got ${s}`);
for (const p of phases) if (p !== 'sync' && p !== 'async') throw new Error(`--phases takes sync and/or async, got ${p}`);
const lmqAutoBatch = f.get('ledgermq-auto-batch') ?? 'default';
if (lmqAutoBatch !== 'default' && lmqAutoBatch !== 'off') throw new Error(`--ledgermq-auto-batch must be default or off, got ${lmqAutoBatch}`);
const pullBatch = Math.round(num('pull-batch', 32));
const consumeBatch = Math.round(num('consume-batch', 32));
const queues = Math.round(num('queues', 8));
const nodes = Math.round(num('nodes', 1));
const echo = f.has('echo');
const splitArgs = (s: string | undefined): string[] => (s ? s.split(' ').filter(Boolean) : []);
const producerNodeArgs = splitArgs(f.get('producer-node-args'));
const consumerNodeArgs = splitArgs(f.get('consumer-node-args'));
const cpuProfDir = f.get('cpu-prof-dir') ? path.resolve(f.get('cpu-prof-dir')!) : undefined;
if (cpuProfDir) {
  producerNodeArgs.push('--cpu-prof', `--cpu-prof-dir=${path.join(cpuProfDir, 'producer')}`);
  consumerNodeArgs.push('--cpu-prof', `--cpu-prof-dir=${path.join(cpuProfDir, 'consumer')}`);
}
const brokerNodeOptions = cpuProfDir
  ? `${f.get('broker-node-options') ?? ''} --import=${path.join(HERE, 'cpu-prof-preload.js')}`.trim()
  : f.get('broker-node-options');
if (cpuProfDir) process.env['LEDGERMQ_CPU_PROF_DIR'] = path.join(cpuProfDir, 'server');
const flushMode = f.get('flush-mode') ?? 'ASYNC_FLUSH';
const rounds = Math.round(num('rounds', quick ? 1 : 5));
const budgetMs = num('budget-seconds', 270) * 1000;
const segmentMb = f.has('segment-mb') ? num('segment-mb', 64) : undefined;

type Mode = 'sync' | 'async';
type SystemResults = Partial<Record<Mode, PhaseResult>>;
/** Per size, per system: one entry per round. */
const results = new Map<number, { ledgermq: SystemResults[]; nats: SystemResults[] }>();
for (const s of sizes) results.set(s, { ledgermq: [], nats: [] });

const log = (line: string): void => void process.stdout.write(`${line}\n`);
const runId = Date.now().toString(36);

// ---------- one phase: a consumer process, then a producer process (phase.ts) ----------
type PhaseSpec = Omit<SharedPhaseSpec, 'window' | 'log' | 'echo' | 'producerNodeArgs' | 'consumerNodeArgs'> & { mode: Mode };
const runPhase = (p: PhaseSpec): Promise<PhaseResult> => runSharedPhase({ ...p, window, log, echo, producerNodeArgs, consumerNodeArgs });

function phasePlan(): Array<{ size: number; mode: Mode; count: number; capMs: number }> {
  const plan: Array<{ size: number; mode: Mode; count: number; capMs: number }> = [];
  for (const size of sizes) {
    if (phases.has('sync')) plan.push({ size, mode: 'sync', count: syncCount, capMs: syncCapMs });
    if (phases.has('async')) plan.push({ size, mode: 'async', count: asyncCountFor(size), capMs: asyncCapMs });
  }
  return plan;
}

// ---------- ledgermq ----------
async function runLedgermq(root: string, round: number): Promise<void> {
  log(`ledgermq: starting \`ledgermq dev --nodes ${nodes}\` (${flushMode})`);
  const env = brokerNodeOptions ? { ...process.env, NODE_OPTIONS: `${process.env['NODE_OPTIONS'] ?? ''} ${brokerNodeOptions}`.trim() } : undefined;
  const prevEnv = process.env['NODE_OPTIONS'];
  if (env) process.env['NODE_OPTIONS'] = env['NODE_OPTIONS'];
  let dev: LedgermqDev;
  try {
    dev = await LedgermqDev.start({ nodes, dataDir: path.join(root, `ledgermq-r${round}`), flushMode, ...(segmentMb ? { segmentMb } : {}), echo });
  } finally {
    if (env) {
      if (prevEnv === undefined) delete process.env['NODE_OPTIONS'];
      else process.env['NODE_OPTIONS'] = prevEnv;
    }
  }
  const admin = new Admin({ namesrv: dev.namesrv, logger: { warn: () => undefined } });
  try {
    await admin.start();
    log(`ledgermq: ready, name server ${dev.namesrv}`);
    const cluster = dev.cluster();
    const serverPids = cluster ? [cluster.namesrv.pid, ...cluster.brokers.map((b) => b.pid)] : [];
    const rs = new Map<number, SystemResults>();
    for (const step of phasePlan()) {
      const topic = `E2E_${runId}_r${round}_${step.size}_${step.mode}`;
      await admin.createTopic(topic, { queues });
      const r = await runPhase({
        system: 'ledgermq',
        ...step,
        producerScript: path.join(HERE, 'ledgermq-producer.js'),
        consumerScript: path.join(HERE, 'ledgermq-consumer.js'),
        serverPids,
        producerArgs: ['--namesrv', dev.namesrv, '--topic', topic, '--group', `P_${runId}_${step.size}_${step.mode}`, '--auto-batch', lmqAutoBatch],
        consumerArgs: ['--namesrv', dev.namesrv, '--topic', topic, '--group', `C_${runId}_r${round}_${step.size}_${step.mode}`, '--pull-batch', String(pullBatch), '--consume-batch', String(consumeBatch)],
      });
      if (!rs.has(step.size)) rs.set(step.size, {});
      rs.get(step.size)![step.mode] = r;
    }
    for (const [size, r] of rs) results.get(size)!.ledgermq.push(r);
  } catch (error) {
    log(dev.child.tail(40));
    throw error;
  } finally {
    await admin.shutdown().catch(() => undefined);
    log('ledgermq: stopping');
    await dev.stop();
    if (!f.has('keep')) fs.rmSync(dev.dataDir, { recursive: true, force: true });
  }
}

// ---------- NATS JetStream ----------
let natsVersion = 'not run';
async function runNats(root: string, round: number, bin: string): Promise<void> {
  log(`nats: starting ${natsVersion} with JetStream (file store, 1 replica)`);
  const storeDir = path.join(root, `nats-r${round}`);
  const server = await NatsServer.start(bin, storeDir, echo);
  let nc: NatsConnection | null = null;
  try {
    nc = await connect({ servers: server.url, name: 'bench-orchestrator' });
    const jsm = await nc.jetstreamManager();
    log(`nats: ready on ${server.url}`);
    const rs = new Map<number, SystemResults>();
    for (const step of phasePlan()) {
      const stream = `E2E_${runId}_r${round}_${step.size}_${step.mode}`;
      const subject = `e2e.${runId}.r${round}.${step.size}.${step.mode}`;
      await jsm.streams.add({ name: stream, subjects: [subject], storage: StorageType.File, num_replicas: 1 });
      const r = await runPhase({
        system: 'nats',
        ...step,
        producerScript: path.join(NATS_DIR, 'nats-producer.js'),
        consumerScript: path.join(NATS_DIR, 'nats-consumer.js'),
        serverPids: server.child.pid ? [server.child.pid] : [],
        producerArgs: ['--url', server.url, '--subject', subject, '--publisher', natsPublisher],
        consumerArgs: ['--url', server.url, '--stream', stream, '--durable', `C_${step.size}_${step.mode}`, '--mode', natsConsumer, '--batch', String(natsBatch)],
      });
      const info = await jsm.streams.info(stream);
      if (info.state.messages !== r.producer.acked) log(`  nats: stream ${stream} holds ${info.state.messages} messages, ${r.producer.acked} acked`);
      if (!rs.has(step.size)) rs.set(step.size, {});
      rs.get(step.size)![step.mode] = r;
    }
    for (const [size, r] of rs) results.get(size)!.nats.push(r);
  } catch (error) {
    log(server.child.tail(20));
    throw error;
  } finally {
    await nc?.close().catch(() => undefined);
    log('nats: stopping');
    await server.stop();
    if (!f.has('keep')) fs.rmSync(storeDir, { recursive: true, force: true });
  }
}

// ---------- report ----------
interface Row {
  key: string;
  label: string;
  get: (r: SystemResults) => number | undefined;
  lowerIsBetter?: boolean;
  noRatio?: boolean;
}

const cpu = (p: PhaseResult | undefined, part: 'producer' | 'server' | 'consumer'): number | undefined => {
  if (p === undefined) return undefined;
  if (part === 'producer') return perMsg(p.producer.cpuMs, p.producer.acked);
  if (part === 'server') return perMsg(p.serverCpuMs, p.producer.acked);
  return perMsg(p.consumer.cpuMs, p.consumer.unique);
};

const perMsgCalls = (p: PhaseResult | undefined, kind: 'reads' | 'writes'): number | undefined =>
  p === undefined || p.producer.acked === 0 ? undefined : Math.round(((kind === 'reads' ? p.serverReadCalls : p.serverWriteCalls) / p.producer.acked) * 100) / 100;

const ROWS: Row[] = [
  { key: 'syncMsgsPerSec', label: 'sync send msgs/s', get: (r) => r.sync?.producer.msgsPerSec },
  { key: 'syncP50Ms', label: 'sync send p50 ms', get: (r) => r.sync?.producer.latencyMs.p50, lowerIsBetter: true },
  { key: 'syncP99Ms', label: 'sync send p99 ms', get: (r) => r.sync?.producer.latencyMs.p99, lowerIsBetter: true },
  { key: 'asyncMsgsPerSec', label: `async send msgs/s (window ${window})`, get: (r) => r.async?.producer.msgsPerSec },
  { key: 'asyncMBPerSec', label: 'async send MB/s', get: (r) => r.async?.producer.mbPerSec },
  {
    key: 'asyncMsgsPerRequest',
    label: 'async msgs per send request',
    get: (r) => (r.async ? Math.round((r.async.producer.acked / Math.max(1, r.async.producer.requests ?? r.async.producer.acked)) * 10) / 10 : undefined),
    noRatio: true,
  },
  { key: 'asyncP50Ms', label: 'async send p50 ms', get: (r) => r.async?.producer.latencyMs.p50, lowerIsBetter: true },
  { key: 'asyncP99Ms', label: 'async send p99 ms', get: (r) => r.async?.producer.latencyMs.p99, lowerIsBetter: true },
  { key: 'consumerMsgsPerSec', label: 'consumer msgs/s (async phase)', get: (r) => r.async?.consumer.msgsPerSec },
  { key: 'consumerMBPerSec', label: 'consumer MB/s (async phase)', get: (r) => r.async?.consumer.mbPerSec },
  { key: 'syncConsumerMsgsPerSec', label: 'consumer msgs/s (sync phase)', get: (r) => r.sync?.consumer.msgsPerSec },
  { key: 'asyncProducerCpuUsPerMsg', label: 'CPU us/msg producer (async)', get: (r) => cpu(r.async, 'producer'), lowerIsBetter: true },
  { key: 'asyncServerCpuUsPerMsg', label: 'CPU us/msg server (async)', get: (r) => cpu(r.async, 'server'), lowerIsBetter: true },
  { key: 'asyncConsumerCpuUsPerMsg', label: 'CPU us/msg consumer (async)', get: (r) => cpu(r.async, 'consumer'), lowerIsBetter: true },
  { key: 'syncServerCpuUsPerMsg', label: 'CPU us/msg server (sync)', get: (r) => cpu(r.sync, 'server'), lowerIsBetter: true },
  { key: 'syncServerWritesPerMsg', label: 'server write syscalls/msg (sync)', get: (r) => perMsgCalls(r.sync, 'writes'), lowerIsBetter: true },
  { key: 'syncServerReadsPerMsg', label: 'server read syscalls/msg (sync)', get: (r) => perMsgCalls(r.sync, 'reads'), lowerIsBetter: true },
  { key: 'asyncServerWritesPerMsg', label: 'server write syscalls/msg (async)', get: (r) => perMsgCalls(r.async, 'writes'), lowerIsBetter: true },
  { key: 'asyncServerReadsPerMsg', label: 'server read syscalls/msg (async)', get: (r) => perMsgCalls(r.async, 'reads'), lowerIsBetter: true },
  { key: 'asyncMessages', label: 'async messages acked', get: (r) => r.async?.producer.acked, noRatio: true },
  { key: 'syncMessages', label: 'sync messages acked', get: (r) => r.sync?.producer.acked, noRatio: true },
];

function report(roundsRun: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const headline: Record<string, number | null> = {};
  const goals: Record<string, boolean | null> = {};
  let everyComplete = true;
  const w = [34, 16, 16, 10];
  const show = (v: number | null): string => (v === null ? '-' : Number.isInteger(v) && Math.abs(v) >= 1000 ? fmtInt(v) : String(v));
  for (const size of sizes) {
    const r = results.get(size)!;
    log('');
    log(`${size} B bodies${roundsRun > 1 ? ` (median of ${roundsRun} rounds)` : ''}`);
    log(`  ${'figure'.padEnd(w[0]!)}${'ledgermq'.padStart(w[1]!)}${'NATS JetStream'.padStart(w[2]!)}${'ratio'.padStart(w[3]!)}`);
    const figures: Record<string, unknown> = {};
    for (const row of ROWS) {
      const values = (list: SystemResults[]): number[] => list.map(row.get).filter((v): v is number => typeof v === 'number');
      const lv = values(r.ledgermq);
      const nv = values(r.nats);
      const a = median(lv);
      const b = median(nv);
      const rt = row.noRatio ? null : ratio(a, b);
      if (a === null && b === null) continue;
      log(`  ${row.label.padEnd(w[0]!)}${show(a).padStart(w[1]!)}${show(b).padStart(w[2]!)}${(rt === null ? '' : `${rt.toFixed(2)}${row.lowerIsBetter ? '*' : ''}`).padStart(w[3]!)}`);
      figures[row.key] = { ledgermq: a, nats: b, ratio: rt, ...(roundsRun > 1 ? { ledgermqRounds: lv, natsRounds: nv } : {}) };
    }
    const complete = (list: SystemResults[]): boolean | null =>
      list.length === 0 ? null : list.every((rr) => [rr.sync, rr.async].every((p) => p === undefined || p.complete));
    const lc = complete(r.ledgermq);
    const nc = complete(r.nats);
    const yes = (c: boolean | null): string => (c === null ? '-' : c ? 'yes' : 'NO');
    log(`  ${'consumer got every message'.padEnd(w[0]!)}${yes(lc).padStart(w[1]!)}${yes(nc).padStart(w[2]!)}`);
    if (lc === false || nc === false) everyComplete = false;
    figures['complete'] = { ledgermq: lc, nats: nc };
    const rt = (figures['asyncMsgsPerSec'] as { ratio: number | null } | undefined)?.ratio ?? null;
    headline[`asyncMsgsPerSecRatio${size}`] = rt;
    goals[`asyncMsgsPerSecAtLeastNats${size}`] = rt === null ? null : rt >= 1;
    out[String(size)] = { figures, rounds: { ledgermq: r.ledgermq, nats: r.nats } };
  }
  log('');
  log('  ratio = ledgermq / NATS (* = lower is better). Headline: async send msgs/s ratio, goal >= 1.0 for every size.');
  log(`  ledgermq producer: Producer defaults${lmqAutoBatch === 'off' ? ' but autoBatch off' : ''}; NATS producer: ${natsPublisher === 'raw' ? 'PUB + reply inbox, one PubAck per message' : 'js.publish()'}; NATS consumer: ${natsConsumer}.`);
  log('  CPU us/msg: CPU time of that process (user + system) per message; server = broker + name server, or nats-server.');
  log('');
  log('durability of an acknowledged send:');
  if (flushMode === 'ASYNC_FLUSH') {
    log('  ledgermq  ASYNC_FLUSH (default): the message is in the memory-mapped commit log (page cache) before the reply, and');
    log('            fsync runs every 500 ms in the background: survives a broker process crash, not a power loss or');
    log('            kernel crash within the flush interval.');
  } else {
    log('  ledgermq  SYNC_FLUSH: the reply waits for the group-commit fsync that covers the message: survives power loss.');
  }
  if (nodes > 1) log(`            Raft: the reply also waits for a majority of the ${nodes} nodes.`);
  log('  NATS      JetStream file store, 1 replica, default settings: the PubAck comes after the message is handed to the');
  log('            stream\'s block file; fsync only every sync_interval (default 2 min) and on block roll, never per write:');
  log('            survives a server process crash, not a power loss.');
  log('');
  log(`goals: ${JSON.stringify(goals)}; every consumer got every message: ${everyComplete}`);
  return {
    bench: 'e2e',
    node: process.version,
    at: new Date().toISOString(),
    quick,
    rounds: roundsRun,
    nodes,
    flushMode,
    window,
    queues,
    natsServer: natsVersion,
    natsPublisher,
    natsConsumer: `${natsConsumer} batch=${natsBatch}`,
    ledgermqAutoBatch: lmqAutoBatch,
    ledgermqConsumer: `PushConsumer pullBatch=${pullBatch} consumeBatch=${consumeBatch}`,
    cpus: os.cpus().length,
    headline,
    goals,
    everyComplete,
    sizes: out,
  };
}

// ---------- main ----------
let natsBin = '';
await runBench({
  name: 'e2e',
  dir: f.get('dir'),
  keep: f.has('keep'),
  rounds,
  budgetMs,
  log,
  prepare: (root) => {
    log(
      `e2e bench: sizes ${sizes.join(', ')} B; sync ${syncCount} msgs or ${syncCapMs / 1000} s; async ${sizes.map(asyncCountFor).join('/')} msgs or ` +
        `${asyncCapMs / 1000} s, window ${window}; up to ${rounds} round(s) within ${budgetMs / 1000} s; ${os.cpus().length} CPUs; data in ${root}`,
    );
    if (systems.has('nats')) {
      natsBin = ensureNatsServer(log);
      natsVersion = natsServerVersion(natsBin);
    }
  },
  round: async (root, round) => {
    if (systems.has('ledgermq')) await runLedgermq(root, round);
    if (systems.has('nats')) await runNats(root, round, natsBin);
  },
  finish: (roundsRun) => log(JSON.stringify(report(roundsRun))),
});
