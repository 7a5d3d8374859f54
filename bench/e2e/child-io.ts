// What the bench's producer and consumer processes share: flag parsing, the line protocol with the orchestrator
// (`READY`, then one `RESULT {json}`; the orchestrator writes `EXPECT n` to a consumer's stdin once the producer is
// done), the numbered message bodies, and the bitmap that checks every number arrived.
import readline from 'node:readline';

export function flags(argv: string[] = process.argv.slice(2)): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const eq = a.indexOf('=');
    if (eq > 0) {
      out.set(a.slice(2, eq), a.slice(eq + 1)); // --name=value, for values that start with --
      continue;
    }
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) out.set(a.slice(2), 'true');
    else {
      out.set(a.slice(2), next);
      i++;
    }
  }
  return out;
}

export function required(f: Map<string, string>, name: string): string {
  const v = f.get(name);
  if (v === undefined) throw new Error(`--${name} is required`);
  return v;
}

export function intFlag(f: Map<string, string>, name: string, fallback: number): number {
  const v = f.get(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got ${v}`);
  return n;
}

export function sendLine(line: string): void {
  process.stdout.write(line + '\n');
}

export function sendResult(result: object): void {
  sendLine(`RESULT ${JSON.stringify(result)}`);
}

/** Calls `onExpect(n)` when the orchestrator writes `EXPECT n`. */
export function listenForExpect(onExpect: (n: number) => void): void {
  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    const m = /^EXPECT (\d+)$/.exec(line.trim());
    if (m) onExpect(Number(m[1]));
  });
}

export const SEQ_BYTES = 4;

/** Bodies of `size` bytes whose first 4 bytes are the message number (big-endian). A fresh buffer per message
 *  (from Node's slab pool below 4 KiB) because clients keep a reference to the body until it is written. */
export class BodyFactory {
  private readonly template: Buffer;
  constructor(readonly size: number) {
    if (size < SEQ_BYTES) throw new Error(`body size must be at least ${SEQ_BYTES} bytes`);
    this.template = Buffer.alloc(size, 0x78);
  }
  make(seq: number): Buffer {
    const b = Buffer.allocUnsafe(this.size);
    this.template.copy(b);
    b.writeUInt32BE(seq, 0);
    return b;
  }
}

/** Which message numbers in [0, capacity) arrived, and how often a number arrived again. */
export class SeqTracker {
  private readonly bits: Uint8Array;
  unique = 0;
  duplicates = 0;
  outOfRange = 0;
  wrongSize = 0;
  constructor(readonly capacity: number) {
    this.bits = new Uint8Array(Math.ceil(capacity / 8));
  }
  /** True when `seq` is new. */
  add(seq: number): boolean {
    if (seq >= this.capacity) {
      this.outOfRange += 1;
      return false;
    }
    const byte = seq >>> 3;
    const mask = 1 << (seq & 7);
    if ((this.bits[byte]! & mask) !== 0) {
      this.duplicates += 1;
      return false;
    }
    this.bits[byte]! |= mask;
    this.unique += 1;
    return true;
  }
  /** Numbers below `n` that never arrived (count, and the first one). */
  missingBelow(n: number): { missing: number; firstMissing: number | null } {
    let missing = 0;
    let firstMissing: number | null = null;
    for (let seq = 0; seq < Math.min(n, this.capacity); seq++) {
      if ((this.bits[seq >>> 3]! & (1 << (seq & 7))) === 0) {
        missing += 1;
        firstMissing ??= seq;
      }
    }
    return { missing, firstMissing };
  }
}

export interface ProducerResult {
  system: string;
  mode: 'sync' | 'async' | 'rate';
  bodyBytes: number;
  window: number;
  /** Sends issued (message numbers 0..issued-1). */
  issued: number;
  acked: number;
  failed: number;
  firstError?: string;
  elapsedMs: number;
  msgsPerSec: number;
  mbPerSec: number;
  timeCapped: boolean;
  /** Send requests on the wire (fewer than messages when the client batches sends by itself); absent = one per message. */
  requests?: number;
  /** CPU time (user + system) this process spent from the first send to the last acknowledgement. */
  cpuMs: number;
  /** Send latency; in rate mode from each send's scheduled release (so a producer that falls behind shows). */
  latencyMs: import('./histogram.js').LatencySummary;
  /** Rate mode: the target rate (msgs/s), the rate achieved (acked / (last ack - start)), and whether every message
   *  was acknowledged at >= 98% of the target rate. */
  targetRate?: number;
  /** Rate mode: the first milliseconds of the schedule, left out of the latency figures. */
  warmupMs?: number;
  achievedRate?: number;
  sustained?: boolean;
  /** Rate mode: how late sends were issued after their scheduled release, and latency from the actual send call. */
  issueLagMs?: import('./histogram.js').LatencySummary;
  serviceLatencyMs?: import('./histogram.js').LatencySummary;
  /** Rate mode: the largest latency (ms) of the sends scheduled in each second of the run. */
  maxLatencyBySecondMs?: number[];
}

export interface ConsumerResult {
  system: string;
  mode: string;
  received: number;
  unique: number;
  duplicates: number;
  outOfRange: number;
  wrongSize: number;
  expected: number;
  missing: number;
  firstMissing: number | null;
  /** First to last new message. */
  elapsedMs: number;
  msgsPerSec: number;
  mbPerSec: number;
  /** CPU time (user + system) this process spent from the first message to the end. */
  cpuMs: number;
  timedOut: boolean;
}

export function rate(count: number, ms: number): number {
  return ms > 0 ? Math.round(count / (ms / 1000)) : 0;
}

export function mbRate(bytes: number, ms: number): number {
  return ms > 0 ? Math.round((bytes / (1024 * 1024) / (ms / 1000)) * 100) / 100 : 0;
}
