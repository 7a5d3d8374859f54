// One bench phase, shared by bench:e2e and bench:replicated: a consumer process, then a producer process that sends
// while the consumer drains; the orchestrator tells the consumer how many messages to expect once the producer is
// done, and measures the servers' CPU time and read/write system calls over the phase (/proc/PID/stat and io).
// Also the small statistics helpers both reports use.
import fs from 'node:fs';
import type { ConsumerResult, ProducerResult } from './child-io.js';
import { Child } from './procs.js';

const CLOCK_TICKS_PER_SEC = 100; // Linux USER_HZ, what /proc/PID/stat counts in

export interface PhaseSpec {
  system: string;
  /** The producer's --mode: sync, async or rate. */
  mode: string;
  size: number;
  count: number;
  capMs: number;
  /** Sends in flight (async), or the cap on sends in flight (rate). */
  window: number;
  producerArgs: string[];
  consumerArgs: string[];
  producerScript: string;
  consumerScript: string;
  /** Server processes whose CPU time and system calls are measured. */
  serverPids: number[];
  producerNodeArgs?: string[];
  consumerNodeArgs?: string[];
  echo?: boolean;
  log: (line: string) => void;
}

export interface PhaseResult {
  producer: ProducerResult;
  consumer: ConsumerResult;
  /** CPU time of the server processes (broker + name server, or nats-server) from producer start to consumer end. */
  serverCpuMs: number;
  /** The same, per server process, in the order of PhaseSpec.serverPids. */
  serverCpuMsEach?: number[];
  /** Read and write system calls of the server processes over the same span (/proc/PID/io syscr, syscw). */
  serverReadCalls: number;
  serverWriteCalls: number;
  complete: boolean;
}

/** CPU time (ms) a process has used so far; 0 when it is gone. */
export function processCpuMs(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SEC; // utime, stime
  } catch {
    return 0;
  }
}

export const serverCpu = (pids: number[]): number => pids.reduce((sum, pid) => sum + processCpuMs(pid), 0);

/** Read and write system calls a process has made so far (socket and file I/O alike). */
export function processSyscalls(pid: number): { reads: number; writes: number } {
  try {
    const io = fs.readFileSync(`/proc/${pid}/io`, 'utf8');
    return { reads: Number(/syscr: (\d+)/.exec(io)?.[1] ?? 0), writes: Number(/syscw: (\d+)/.exec(io)?.[1] ?? 0) };
  } catch {
    return { reads: 0, writes: 0 };
  }
}

export const serverSyscalls = (pids: number[]): { reads: number; writes: number } =>
  pids.map(processSyscalls).reduce((a, b) => ({ reads: a.reads + b.reads, writes: a.writes + b.writes }), { reads: 0, writes: 0 });

export async function runPhase(p: PhaseSpec): Promise<PhaseResult> {
  const label = `${p.system} ${p.mode} ${p.size} B`;
  const common = ['--size', String(p.size)];
  const echo = p.echo ?? false;
  const consumer = new Child(`${p.system}-consumer`, process.execPath, [
    ...(p.consumerNodeArgs ?? []),
    p.consumerScript,
    ...common,
    '--capacity', String(p.count),
    '--time-cap-ms', String(Math.round(p.capMs * 2 + 60_000)),
    ...p.consumerArgs,
  ], { echo });
  let producer: Child | null = null;
  try {
    await consumer.waitForLine(/^READY$/, 30_000);
    producer = new Child(`${p.system}-producer`, process.execPath, [
      ...(p.producerNodeArgs ?? []),
      p.producerScript,
      ...common,
      '--mode', p.mode,
      '--count', String(p.count),
      '--window', String(p.window),
      '--time-cap-ms', String(Math.round(p.capMs)),
      ...p.producerArgs,
    ], { echo });
    const cpuBefore = p.serverPids.map(processCpuMs);
    const ioBefore = serverSyscalls(p.serverPids);
    const pm = await producer.waitForLine(/^RESULT (.*)$/, p.capMs + 60_000);
    const prod = JSON.parse(pm[1]!) as ProducerResult;
    consumer.write(`EXPECT ${prod.issued}`);
    const cm = await consumer.waitForLine(/^RESULT (.*)$/, p.capMs * 2 + 90_000);
    const cons = JSON.parse(cm[1]!) as ConsumerResult;
    const serverCpuMsEach = p.serverPids.map((pid, i) => Math.round(processCpuMs(pid) - cpuBefore[i]!));
    const serverCpuMs = serverCpuMsEach.reduce((a, b) => a + b, 0);
    const ioAfter = serverSyscalls(p.serverPids);
    await Promise.all([producer.join(15_000), consumer.join(20_000)]);
    const complete = prod.failed === 0 && cons.missing === 0 && cons.wrongSize === 0 && cons.outOfRange === 0 && prod.acked === prod.issued;
    const rateInfo =
      prod.targetRate !== undefined
        ? ` rate ${fmtInt(prod.achievedRate ?? 0)}/${fmtInt(prod.targetRate)} msgs/s${prod.sustained ? ' sustained' : ' NOT sustained'} p999 ${prod.latencyMs.p999} ms max issue lag ${prod.issueLagMs?.max ?? '-'} ms;`
        : '';
    p.log(
      `  ${label.padEnd(22)} producer ${fmtInt(prod.msgsPerSec)} msgs/s ${prod.mbPerSec} MB/s p50 ${prod.latencyMs.p50} ms p99 ${prod.latencyMs.p99} ms` +
        ` (${prod.acked}/${prod.issued} acked${prod.timeCapped ? ', time cap' : ''}${prod.failed ? `, ${prod.failed} failed: ${prod.firstError}` : ''});${rateInfo}` +
        ` consumer ${fmtInt(cons.msgsPerSec)} msgs/s, ${cons.unique}/${cons.expected} received${cons.duplicates ? `, ${cons.duplicates} duplicates` : ''}` +
        `${cons.missing ? `, ${cons.missing} MISSING (first ${cons.firstMissing})` : ''}${cons.timedOut ? ', consumer timed out' : ''};` +
        ` CPU us/msg producer ${perMsg(prod.cpuMs, prod.acked)} server ${perMsg(serverCpuMs, prod.acked)} consumer ${perMsg(cons.cpuMs, cons.unique)}`,
    );
    return { producer: prod, consumer: cons, serverCpuMs, serverCpuMsEach, serverReadCalls: ioAfter.reads - ioBefore.reads, serverWriteCalls: ioAfter.writes - ioBefore.writes, complete };
  } catch (error) {
    if (producer) p.log(producer.tail());
    p.log(consumer.tail());
    throw error;
  } finally {
    await Promise.all([producer?.stop(3000), consumer.stop(3000)]);
  }
}

/** CPU microseconds per message. */
export function perMsg(cpuMs: number, msgs: number): number {
  return msgs > 0 ? Math.round((cpuMs * 1000) / msgs) : 0;
}

export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function ratio(a: number | null, b: number | null): number | null {
  if (a === null || b === null || b === 0) return null;
  return Math.round((a / b) * 100) / 100;
}

export function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : Math.round(((sorted[mid - 1]! + sorted[mid]!) / 2) * 1000) / 1000;
}
