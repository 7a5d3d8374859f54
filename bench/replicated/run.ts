// Replicated end-to-end benchmark: the bench:e2e workload against three-replica setups, side by side:
//   ledgermq   `ledgermq dev --nodes 3` (one Raft group of 3 brokers + a name server), Producer defaults
//              (autoBatch on), PushConsumer
//   JetStream  3 nats-servers clustered on loopback, a file-storage stream with num_replicas 3, the raw publisher
//              (PUB + reply inbox, one PubAck per message) and a durable pull consumer (AckPolicy.All)
//   RabbitMQ   3 rabbitmq-server nodes clustered with rabbitmqctl, a quorum queue with 3 members, an amqplib
//              confirm channel and a consumer with prefetch 1000 acking every 100th delivery (multiple)
// For each body size (128 B and 1 KiB by default), two phases, each on a fresh topic / stream / queue, with a
// producer and a consumer process of their own (the consumer drains while the producer sends, and checks that every
// message number arrived):
//   async  --window (512) sends in flight, bounded by --count and --async-seconds
//   rate   open loop at --rate msgs/s (10,000) for --rate-seconds (8): sends released on a --tick-ms (1 ms) tick,
//          latency from each send's scheduled release to its acknowledgement, leaving out the first
//          --rate-warmup-seconds (1); "sustained" = every message acknowledged at >= 98% of the target rate;
//          issuing stops 4 s after the end of the schedule when it fell behind
// Clients connect to the leader (ledgermq: the group's master via the name server; JetStream: the stream leader's
// server; RabbitMQ: the queue leader's node). Every system runs on a fresh cluster per round; --rounds (3) rounds
// while they fit in --budget-seconds; every figure is the median of the rounds. Prints a table with the ratios
// ledgermq/JetStream and ledgermq/RabbitMQ, the durability each side had, and ends with one JSON line.
// Usage: node dist/bench/replicated/run.js [--quick] [--systems ledgermq,nats,rabbitmq] [--sizes 128,1024]
//        [--phases async,rate] [--count N] [--window 512] [--async-seconds 15] [--rate 10000] [--rate-seconds 8]
//        [--rate-warmup-seconds 1] [--tick-ms 1] [--rate-window 20000] [--rounds 3] [--budget-seconds 480] [--nodes 3]
//        [--flush-mode ASYNC_FLUSH|SYNC_FLUSH] [--queues 8] [--pull-batch 32] [--consume-batch 32]
//        [--nats-batch 1000] [--prefetch 1000] [--cpu-prof-dir DIR] [--echo] [--keep] [--dir DIR]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import amqp from 'amqplib';
import { connect, StorageType, type JetStreamManager, type NatsConnection } from 'nats';
import { Admin } from '../../client/index.js';
import { flags } from '../e2e/child-io.js';
import { RATE_SUSTAINED_SHARE } from '../e2e/drive.js';
import { LedgermqDev } from '../e2e/ledgermq-dev.js';
import { runBench } from '../e2e/bench-run.js';
import { fmtInt, median, perMsg, ratio, runPhase, type PhaseResult } from '../e2e/phase.js';
import { NatsCluster } from '../nats/nats-cluster.js';
import { ensureNatsServer, natsServerVersion } from '../nats/nats-server.js';
import { ensureRabbitmq, RabbitCluster } from '../rabbitmq/rabbitmq-cluster.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const E2E_DIR = path.join(HERE, '..', 'e2e');
const NATS_DIR = path.join(HERE, '..', 'nats');
const RABBIT_DIR = path.join(HERE, '..', 'rabbitmq');

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
const list = (name: string, fallback: string, allowed: string[]): string[] => {
  const items = (f.get(name) ?? fallback).split(',').map((s) => s.trim()).filter(Boolean);
  for (const it of items) if (!allowed.includes(it)) throw new Error(`--${name} takes ${allowed.join(', ')}; got ${it}`);
  return items;
};
const SYSTEMS = ['ledgermq', 'nats', 'rabbitmq'] as const;
type System = (typeof SYSTEMS)[number];
const systems = list('systems', SYSTEMS.join(','), [...SYSTEMS]) as System[];
const phases = new Set(list('phases', 'async,rate', ['async', 'rate']));
const sizes = (f.get('sizes') ?? '128,1024').split(',').map((s) => {
  const k = /k(i?b)?$/i.test(s.trim());
  const n = Number(s.trim().replace(/k(i?b)?$/i, '')) * (k ? 1024 : 1);
  if (!Number.isSafeInteger(n) || n < 4) throw new Error(`bad size ${s}: sizes are byte counts >= 4 (or 1k)`);
  return n;
});
const asyncCountFor = (size: number): number => Math.round(num('count', quick ? 5000 : size <= 128 ? 50_000 : 25_000));
const asyncCapMs = num('async-seconds', quick ? 10 : 15) * 1000;
const window = Math.round(num('window', 512));
const rate = Math.round(num('rate', 10_000));
const rateSeconds = num('rate-seconds', quick ? 2 : 8);
const rateWarmupMs = f.get('rate-warmup-seconds') === '0' ? 0 : num('rate-warmup-seconds', quick ? 0.5 : 1) * 1000;
if (rateWarmupMs >= rateSeconds * 1000) throw new Error('--rate-warmup-seconds must be shorter than --rate-seconds');
const tickMs = Math.round(num('tick-ms', 1));
const rateWindow = Math.round(num('rate-window', 20_000));
const rounds = Math.round(num('rounds', quick ? 1 : 3));
const budgetMs = num('budget-seconds', quick ? 300 : 480) * 1000;
const nodes = Math.round(num('nodes', 3));
const flushMode = f.get('flush-mode') ?? 'ASYNC_FLUSH';
if (flushMode !== 'ASYNC_FLUSH' && flushMode !== 'SYNC_FLUSH') throw new Error(`--flush-mode must be ASYNC_FLUSH or SYNC_FLUSH, got ${flushMode}`);
const queues = Math.round(num('queues', 8));
const pullBatch = Math.round(num('pull-batch', 32));
const consumeBatch = Math.round(num('consume-batch', 32));
const natsBatch = Math.round(num('nats-batch', 1000));
const prefetch = Math.round(num('prefetch', 1000));
const echo = f.has('echo');
const keep = f.has('keep');
const cpuProfDir = f.get('cpu-prof-dir') ? path.resolve(f.get('cpu-prof-dir')!) : undefined;

/** How long past the fixed-rate schedule a producer that fell behind may keep issuing. */
const RATE_OVERRUN_MS = 4000;

const log = (line: string): void => void process.stdout.write(`${line}\n`);
const loadAtStart = os.loadavg().map((l) => Math.round(l * 10) / 10);
const runId = Date.now().toString(36);

type Mode = 'async' | 'rate';
type SystemResults = Partial<Record<Mode, PhaseResult>>;
/** Per size, per system: one entry per round. */
const results = new Map<number, Record<System, SystemResults[]>>();
for (const s of sizes) results.set(s, { ledgermq: [], nats: [], rabbitmq: [] });
const versions: Record<System, string> = { ledgermq: `ledgermq ${packageVersion()}, Node ${process.version}`, nats: 'not run', rabbitmq: 'not run' };

function packageVersion(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(HERE, '..', '..', '..', 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

interface Step {
  size: number;
  mode: Mode;
  count: number;
  capMs: number;
  window: number;
  extraProducerArgs: string[];
}

function plan(): Step[] {
  const steps: Step[] = [];
  for (const size of sizes) {
    if (phases.has('async')) steps.push({ size, mode: 'async', count: asyncCountFor(size), capMs: asyncCapMs, window, extraProducerArgs: [] });
    if (phases.has('rate')) {
      steps.push({
        size,
        mode: 'rate',
        count: Math.round(rate * rateSeconds),
        capMs: rateSeconds * 1000 + RATE_OVERRUN_MS, // issuing stops here when the schedule fell behind (not sustained)
        window: rateWindow,
        extraProducerArgs: ['--rate', String(rate), '--tick-ms', String(tickMs), '--warmup-ms', String(Math.round(rateWarmupMs))],
      });
    }
  }
  return steps;
}

/** What a started system offers the phase loop. */
interface Target {
  serverPids: number[];
  /** Creates the topic / stream / queue of one phase; returns the client processes' scripts and arguments. */
  prepare(step: Step, name: string): Promise<{ producerScript: string; consumerScript: string; producerArgs: string[]; consumerArgs: string[]; nodeArgs?: { producer: string[]; consumer: string[] } }>;
  check?(step: Step, name: string, r: PhaseResult): Promise<void>;
  tail(): string;
  stop(): Promise<void>;
}

async function runSystem(system: System, round: number, start: () => Promise<Target>): Promise<void> {
  const t0 = performance.now();
  const target = await start();
  const secondsSince = (t: number): string => ((performance.now() - t) / 1000).toFixed(1);
  log(`${system}: up after ${secondsSince(t0)} s`);
  try {
    const rs = new Map<number, SystemResults>();
    for (const step of plan()) {
      const tp = performance.now();
      const name = `R${runId}_r${round}_${step.size}_${step.mode}`;
      const spec = await target.prepare(step, name);
      const r = await runPhase({
        system,
        mode: step.mode,
        size: step.size,
        count: step.count,
        capMs: step.capMs,
        window: step.window,
        producerScript: spec.producerScript,
        consumerScript: spec.consumerScript,
        producerArgs: [...spec.producerArgs, ...step.extraProducerArgs],
        consumerArgs: spec.consumerArgs,
        serverPids: target.serverPids,
        ...(spec.nodeArgs ? { producerNodeArgs: spec.nodeArgs.producer, consumerNodeArgs: spec.nodeArgs.consumer } : {}),
        echo,
        log,
      });
      await target.check?.(step, name, r);
      if (echo) log(`  (phase took ${secondsSince(tp)} s)`);
      if (!rs.has(step.size)) rs.set(step.size, {});
      rs.get(step.size)![step.mode] = r;
    }
    for (const [size, r] of rs) results.get(size)![system].push(r);
  } catch (error) {
    log(target.tail());
    throw error;
  } finally {
    log(`${system}: stopping`);
    await target.stop();
    log(`${system}: round ${round} took ${secondsSince(t0)} s (load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')})`);
  }
}

// ---------- ledgermq ----------
async function startLedgermq(root: string, round: number): Promise<Target> {
  log(`ledgermq: starting \`ledgermq dev --nodes ${nodes} --flush-mode ${flushMode}\``);
  const dataDir = path.join(root, `ledgermq-r${round}`);
  const nodeArgs = cpuProfDir
    ? { producer: ['--cpu-prof', `--cpu-prof-dir=${path.join(cpuProfDir, 'producer')}`], consumer: ['--cpu-prof', `--cpu-prof-dir=${path.join(cpuProfDir, 'consumer')}`] }
    : undefined;
  const env = cpuProfDir
    ? {
        ...process.env,
        NODE_OPTIONS: `${process.env['NODE_OPTIONS'] ?? ''} --import=${path.join(E2E_DIR, 'cpu-prof-preload.js')}`.trim(),
        LEDGERMQ_CPU_PROF_DIR: path.join(cpuProfDir, 'server'),
      }
    : undefined;
  const dev = await LedgermqDev.start({ nodes, dataDir, flushMode, echo, ...(env ? { env } : {}) });
  const admin = new Admin({ namesrv: dev.namesrv, logger: { warn: () => undefined } });
  try {
    await admin.start();
  } catch (error) {
    await dev.stop();
    throw error;
  }
  const cluster = dev.cluster();
  const serverPids = cluster ? [cluster.namesrv.pid, ...cluster.brokers.map((b) => b.pid)] : [];
  if (cluster) log(`ledgermq: ready, name server ${dev.namesrv}; pids: name server ${cluster.namesrv.pid}, ${cluster.brokers.map((b) => `${b.raftId} ${b.pid}`).join(', ')}`);
  return {
    serverPids,
    async prepare(step, name) {
      await admin.createTopic(name, { queues });
      return {
        producerScript: path.join(E2E_DIR, 'ledgermq-producer.js'),
        consumerScript: path.join(E2E_DIR, 'ledgermq-consumer.js'),
        producerArgs: ['--namesrv', dev.namesrv, '--topic', name, '--group', `P_${name}`],
        consumerArgs: ['--namesrv', dev.namesrv, '--topic', name, '--group', `C_${name}`, '--pull-batch', String(pullBatch), '--consume-batch', String(consumeBatch)],
        ...(nodeArgs ? { nodeArgs } : {}),
      };
    },
    tail: () => dev.child.tail(40),
    async stop() {
      await admin.shutdown().catch(() => undefined);
      await dev.stop();
      if (!keep) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

// ---------- NATS JetStream, clustered ----------
async function startNats(root: string, round: number, bin: string): Promise<Target> {
  log(`nats: starting ${nodes} clustered servers (${versions.nats}) with JetStream`);
  const dir = path.join(root, `nats-r${round}`);
  const cluster = await NatsCluster.start(bin, dir, { nodes, echo });
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  try {
    nc = await connect({ servers: cluster.urls, name: 'bench-orchestrator' });
    jsm = await nc.jetstreamManager();
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  log(`nats: ready, meta leader elected; servers ${cluster.urls.join(', ')}; pids ${cluster.pids.join(', ')}`);
  return {
    serverPids: cluster.pids,
    async prepare(step, name) {
      const subject = `replicated.${name}`;
      await jsm.streams.add({ name, subjects: [subject], storage: StorageType.File, num_replicas: nodes });
      let info = await jsm.streams.info(name);
      const deadline = performance.now() + 10_000;
      while (!info.cluster?.leader && performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        info = await jsm.streams.info(name);
      }
      const replicas = 1 + (info.cluster?.replicas?.length ?? 0);
      if (!info.cluster?.leader || replicas !== nodes) throw new Error(`nats: stream ${name} has leader ${info.cluster?.leader ?? 'none'} and ${replicas} replicas, expected ${nodes}`);
      const url = cluster.urlOf(info.cluster.leader);
      return {
        producerScript: path.join(NATS_DIR, 'nats-producer.js'),
        consumerScript: path.join(NATS_DIR, 'nats-consumer.js'),
        producerArgs: ['--url', url, '--subject', subject, '--publisher', 'raw'],
        consumerArgs: ['--url', url, '--stream', name, '--durable', `C_${name}`, '--mode', 'pull-ackall', '--batch', String(natsBatch)],
      };
    },
    async check(_step, name, r) {
      const info = await jsm.streams.info(name);
      if (info.state.messages !== r.producer.acked) log(`  nats: stream ${name} holds ${info.state.messages} messages, ${r.producer.acked} acked`);
    },
    tail: () => cluster.tail(),
    async stop() {
      await nc.close().catch(() => undefined);
      await cluster.stop();
      if (!keep) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------- RabbitMQ quorum queues ----------
async function startRabbit(root: string, round: number, binDir: string): Promise<Target> {
  log(`rabbitmq: starting ${nodes} nodes and clustering them with rabbitmqctl`);
  const dir = path.join(root, `rabbitmq-r${round}`);
  const t0 = performance.now();
  const cluster = await RabbitCluster.start(binDir, dir, { nodes, echo, log });
  versions.rabbitmq = cluster.version;
  let conn: amqp.ChannelModel;
  let ch: amqp.Channel;
  try {
    conn = await amqp.connect(cluster.amqpUrl());
    ch = await conn.createChannel();
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  log(`rabbitmq: ready in ${Math.round((performance.now() - t0) / 1000)} s (${cluster.version}); nodes ${cluster.nodes.map((n) => `${n.name} amqp ${n.amqpPort} pid ${n.child.pid}`).join(', ')}`);
  return {
    serverPids: cluster.pids,
    async prepare(step, name) {
      await ch.assertQueue(name, { durable: true, arguments: { 'x-queue-type': 'quorum', 'x-quorum-initial-group-size': nodes } });
      const info = await cluster.queueInfo(name);
      if (!info || info.type !== 'quorum' || info.members.length !== nodes) throw new Error(`rabbitmq: queue ${name} is ${JSON.stringify(info)}, expected a quorum queue with ${nodes} members`);
      const url = cluster.amqpUrl(info.leader);
      return {
        producerScript: path.join(RABBIT_DIR, 'rabbit-producer.js'),
        consumerScript: path.join(RABBIT_DIR, 'rabbit-consumer.js'),
        producerArgs: ['--url', url, '--queue', name],
        consumerArgs: ['--url', url, '--queue', name, '--prefetch', String(prefetch)],
      };
    },
    tail: () => cluster.tail(),
    async stop() {
      await conn.close().catch(() => undefined);
      await cluster.stop();
      if (!keep) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------- report ----------
const NAMES: Record<System, string> = { ledgermq: 'ledgermq', nats: 'JetStream R3', rabbitmq: 'RabbitMQ QQ' };

interface Row {
  key: string;
  label: string;
  get: (r: SystemResults) => number | undefined;
  lowerIsBetter?: boolean;
  noRatio?: boolean;
  /** Shown as "rounds with 1 / rounds" instead of the median. */
  countOfRounds?: boolean;
}

const serverPerMsg = (p: PhaseResult | undefined): number | undefined => (p === undefined ? undefined : perMsg(p.serverCpuMs, p.producer.acked));
const busiestPerMsg = (p: PhaseResult | undefined): number | undefined =>
  p === undefined || !p.serverCpuMsEach ? undefined : perMsg(Math.max(...p.serverCpuMsEach), p.producer.acked);
const yesNo = (b: boolean | undefined): number | undefined => (b === undefined ? undefined : b ? 1 : 0);

const ROWS: Row[] = [
  { key: 'asyncMsgsPerSec', label: `async send msgs/s (window ${window})`, get: (r) => r.async?.producer.msgsPerSec },
  { key: 'asyncMBPerSec', label: 'async send MB/s', get: (r) => r.async?.producer.mbPerSec },
  { key: 'asyncP50Ms', label: 'async send p50 ms', get: (r) => r.async?.producer.latencyMs.p50, lowerIsBetter: true },
  { key: 'asyncP99Ms', label: 'async send p99 ms', get: (r) => r.async?.producer.latencyMs.p99, lowerIsBetter: true },
  { key: 'consumerMsgsPerSec', label: 'consumer msgs/s (async phase)', get: (r) => r.async?.consumer.msgsPerSec },
  { key: 'asyncProducerCpuUsPerMsg', label: 'CPU us/msg producer (async)', get: (r) => (r.async ? perMsg(r.async.producer.cpuMs, r.async.producer.acked) : undefined), lowerIsBetter: true },
  { key: 'asyncServerCpuUsPerMsg', label: 'CPU us/msg all servers (async)', get: (r) => serverPerMsg(r.async), lowerIsBetter: true },
  { key: 'asyncBusiestServerCpuUsPerMsg', label: 'CPU us/msg busiest server (async)', get: (r) => busiestPerMsg(r.async), lowerIsBetter: true },
  { key: 'asyncConsumerCpuUsPerMsg', label: 'CPU us/msg consumer (async)', get: (r) => (r.async ? perMsg(r.async.consumer.cpuMs, r.async.consumer.unique) : undefined), lowerIsBetter: true },
  { key: 'asyncMessages', label: 'async messages acked', get: (r) => r.async?.producer.acked, noRatio: true },
  { key: 'rateAchievedMsgsPerSec', label: `fixed rate: achieved msgs/s (of ${fmtInt(rate)})`, get: (r) => r.rate?.producer.achievedRate, noRatio: true },
  { key: 'rateSustained', label: 'fixed rate: sustained (rounds)', get: (r) => yesNo(r.rate?.producer.sustained), noRatio: true, countOfRounds: true },
  { key: 'rateP50Ms', label: 'fixed rate: p50 ms', get: (r) => r.rate?.producer.latencyMs.p50, lowerIsBetter: true },
  { key: 'rateP99Ms', label: 'fixed rate: p99 ms', get: (r) => r.rate?.producer.latencyMs.p99, lowerIsBetter: true },
  { key: 'rateP999Ms', label: 'fixed rate: p999 ms', get: (r) => r.rate?.producer.latencyMs.p999, lowerIsBetter: true },
  { key: 'rateMaxMs', label: 'fixed rate: max ms', get: (r) => r.rate?.producer.latencyMs.max, lowerIsBetter: true },
  { key: 'rateIssueLagP99Ms', label: 'fixed rate: send issue lag p99 ms', get: (r) => r.rate?.producer.issueLagMs?.p99, noRatio: true },
  { key: 'rateServerCpuUsPerMsg', label: 'CPU us/msg all servers (rate)', get: (r) => serverPerMsg(r.rate), lowerIsBetter: true },
  { key: 'rateBusiestServerCpuUsPerMsg', label: 'CPU us/msg busiest server (rate)', get: (r) => busiestPerMsg(r.rate), lowerIsBetter: true },
];

function report(roundsRun: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const goals: Record<string, boolean | null> = {};
  const headline: Record<string, number | null> = {};
  let everyComplete = true;
  const shown = SYSTEMS.filter((s) => systems.includes(s));
  const others = shown.filter((s) => s !== 'ledgermq');
  const ratioCols = shown.includes('ledgermq') ? others : [];
  const w0 = 38;
  const wc = 14;
  const show = (v: number | null): string => (v === null ? '-' : Math.abs(v) >= 1000 ? fmtInt(v) : Math.abs(v) >= 100 ? String(Math.round(v)) : String(Math.round(v * 100) / 100));
  for (const size of sizes) {
    const r = results.get(size)!;
    log('');
    log(`${size} B bodies${roundsRun > 1 ? ` (median of ${roundsRun} rounds)` : ''}`);
    log(`  ${'figure'.padEnd(w0)}${shown.map((s) => NAMES[s].padStart(wc)).join('')}${ratioCols.map((s) => `lmq/${s === 'nats' ? 'JS' : 'RMQ'}`.padStart(10)).join('')}`);
    const figures: Record<string, unknown> = {};
    for (const row of ROWS) {
      const values = (s: System): number[] => r[s].map(row.get).filter((v): v is number => typeof v === 'number');
      const med = Object.fromEntries(shown.map((s) => [s, median(values(s))])) as Record<System, number | null>;
      if (shown.every((s) => med[s] === null)) continue;
      const ratios = Object.fromEntries(ratioCols.map((s) => [s, row.noRatio ? null : ratio(med.ledgermq, med[s])])) as Record<System, number | null>;
      const cell = (s: System): string => (row.countOfRounds ? (values(s).length === 0 ? '-' : `${values(s).filter((v) => v === 1).length}/${values(s).length}`) : show(med[s]));
      log(
        `  ${row.label.padEnd(w0)}${shown.map((s) => cell(s).padStart(wc)).join('')}` +
          ratioCols.map((s) => (ratios[s] === null ? '' : `${ratios[s]!.toFixed(2)}${row.lowerIsBetter ? '*' : ''}`).padStart(10)).join(''),
      );
      figures[row.key] = {
        ...med,
        ...(ratioCols.includes('nats') ? { ratioNats: ratios.nats } : {}),
        ...(ratioCols.includes('rabbitmq') ? { ratioRabbitmq: ratios.rabbitmq } : {}),
        ...(roundsRun > 1 ? { rounds: Object.fromEntries(shown.map((s) => [s, values(s)])) } : {}),
      };
    }
    const complete = (s: System): boolean | null =>
      r[s].length === 0 ? null : r[s].every((rr) => [rr.async, rr.rate].every((p) => p === undefined || p.complete));
    const comp = Object.fromEntries(shown.map((s) => [s, complete(s)])) as Record<System, boolean | null>;
    log(`  ${'consumer got every message'.padEnd(w0)}${shown.map((s) => (comp[s] === null ? '-' : comp[s] ? 'yes' : 'NO').padStart(wc)).join('')}`);
    if (shown.some((s) => comp[s] === false)) everyComplete = false;
    figures['complete'] = comp;
    const fig = (key: string): Record<string, number | null> | undefined => figures[key] as Record<string, number | null> | undefined;
    const tput = fig('asyncMsgsPerSec');
    const p99 = fig('rateP99Ms');
    for (const s of others) {
      const tag = s === 'nats' ? 'Nats' : 'Rabbitmq';
      headline[`asyncMsgsPerSecRatio${tag}${size}`] = tput?.[`ratio${tag}`] ?? null;
      headline[`rateP99RatioLowerIsBetter${tag}${size}`] = p99?.[`ratio${tag}`] ?? null;
    }
    if (shown.includes('ledgermq') && shown.includes('nats')) {
      const rt = tput?.['ratioNats'] ?? null;
      goals[`asyncMsgsPerSecAtLeast2xJetStreamR3_${size}`] = rt === null ? null : rt >= 2;
      const a = p99?.['ledgermq'] ?? null;
      const b = p99?.['nats'] ?? null;
      goals[`rateP99BelowJetStreamR3_${size}`] = a === null || b === null ? null : a < b;
    }
    if (shown.includes('ledgermq') && phases.has('rate')) {
      goals[`rateSustainedLedgermq_${size}`] = r.ledgermq.length === 0 ? null : r.ledgermq.every((x) => x.rate?.producer.sustained === true);
    }
    out[String(size)] = { figures, rounds: Object.fromEntries(shown.map((s) => [s, r[s]])) };
  }
  log('');
  log(`  columns: medians; lmq/X = ledgermq / X (* = lower is better). Goal: async msgs/s >= 2x JetStream R3 for every size,`);
  log(`  and a lower p99 than JetStream R3 at the fixed rate. Fixed rate: ${fmtInt(rate)} msgs/s open loop for ${rateSeconds} s, released`);
  log(`  every ${tickMs} ms (at most ${fmtInt(rateWindow)} in flight), latency from the scheduled release to the acknowledgement, the first`);
  log(`  ${rateWarmupMs / 1000} s left out; sustained = all acknowledged at >= ${RATE_SUSTAINED_SHARE * 100}% of the rate.`);
  log(`  CPU us/msg: user + system CPU per acknowledged message; all servers = every node (and ledgermq's name server),`);
  log(`  busiest server = the node that used most CPU (the leader). ${os.cpus().length} CPUs, shared by servers and clients.`);
  log('');
  log('durability of an acknowledged send:');
  if (flushMode === 'ASYNC_FLUSH') {
    log(`  ledgermq      ASYNC_FLUSH (default): the reply waits until the entry is committed by Raft, i.e. in the page cache`);
    log(`                (memory-mapped commit log) of a majority of the ${nodes} nodes; fsync every 500 ms in the background.`);
    log('                Survives kill -9 of any minority; a power loss of a majority can lose the last ~500 ms.');
  } else {
    log(`  ledgermq      SYNC_FLUSH: the reply waits until the entry is fsynced (group commit) on a majority of the ${nodes} nodes.`);
    log('                Survives power loss of any minority, and of all nodes for what was acknowledged.');
  }
  if (systems.includes('nats')) {
    log(`  JetStream R3  nats-server defaults, file store, num_replicas ${nodes}: the PubAck follows the stream's Raft commit, i.e.`);
    log(`                a quorum of the ${nodes} servers has written the message to its log files (page cache); no fsync per write`);
    log('                (sync_interval 2 min, and on block roll). Same class as ledgermq ASYNC_FLUSH.');
  }
  if (systems.includes('rabbitmq')) {
    log(`  RabbitMQ QQ   quorum queue, ${nodes} members (Ra): the publisher confirm follows the Raft commit, and Ra counts an entry`);
    log('                as written only after its shared WAL fdatasync()ed the batch holding it (fsync batching): an');
    log('                acknowledged message is on disk on a majority. Same class as ledgermq SYNC_FLUSH, not ASYNC_FLUSH.');
  }
  if (flushMode === 'ASYNC_FLUSH' && systems.includes('rabbitmq')) log('                (--flush-mode SYNC_FLUSH runs ledgermq at the same durability.)');
  if (flushMode === 'SYNC_FLUSH' && systems.includes('rabbitmq')) log('  => lmq/RMQ is the durability-matched ratio.');
  if (flushMode === 'SYNC_FLUSH' && systems.includes('nats')) log('  => lmq/JS compares fsync on a majority (ledgermq) with page cache on a majority (JetStream).');
  log('');
  log(`goals: ${JSON.stringify(goals)}; every consumer got every message: ${everyComplete}`);
  return {
    bench: 'replicated',
    node: process.version,
    at: new Date().toISOString(),
    quick,
    rounds: roundsRun,
    nodes,
    flushMode,
    window,
    rate,
    rateSeconds,
    rateWarmupMs,
    tickMs,
    rateWindow,
    queues,
    cpus: os.cpus().length,
    loadAverage: { atStart: loadAtStart, atEnd: os.loadavg().map((l) => Math.round(l * 10) / 10) },
    versions,
    clients: {
      ledgermq: `Producer defaults (autoBatch), maxOutstandingSends=window; PushConsumer pullBatch=${pullBatch} consumeBatch=${consumeBatch}`,
      nats: `raw publisher (PUB + reply inbox, one PubAck per message); durable pull consumer AckPolicy.All batch=${natsBatch}`,
      rabbitmq: `amqplib confirm channel, persistent + mandatory; consumer prefetch=${prefetch} ack every 100 (multiple)`,
    },
    headline,
    goals,
    everyComplete,
    sizes: out,
  };
}

// ---------- main ----------
let natsBin = '';
let rabbitBin = '';
await runBench({
  name: 'replicated',
  dir: f.get('dir'),
  keep,
  rounds,
  budgetMs,
  log,
  prepare: (root) => {
    log(
      `replicated bench: ${systems.join(', ')} with ${nodes} replicas; sizes ${sizes.join(', ')} B; phases ${[...phases].join(', ')}; ` +
        `async ${sizes.map(asyncCountFor).join('/')} msgs or ${asyncCapMs / 1000} s, window ${window}; rate ${fmtInt(rate)} msgs/s for ${rateSeconds} s; ` +
        `up to ${rounds} round(s) within ${budgetMs / 1000} s; ${os.cpus().length} CPUs, load average ${loadAtStart.join(' ')}; data in ${root}`,
    );
    if (systems.includes('nats')) {
      natsBin = ensureNatsServer(log);
      versions.nats = natsServerVersion(natsBin);
    }
    if (systems.includes('rabbitmq')) rabbitBin = ensureRabbitmq(log);
  },
  round: async (root, round) => {
    // nats-servers, RabbitMQ nodes (beam.smp), epmd, dev, producers and consumers are all killed on a signal.
    for (const system of systems) {
      if (system === 'ledgermq') await runSystem(system, round, () => startLedgermq(root, round));
      if (system === 'nats') await runSystem(system, round, () => startNats(root, round, natsBin));
      if (system === 'rabbitmq') await runSystem(system, round, () => startRabbit(root, round, rabbitBin));
    }
  },
  finish: (roundsRun, elapsedMs) => {
    log(`(${Math.round(elapsedMs / 1000)} s)`);
    log(JSON.stringify(report(roundsRun)));
  },
});
