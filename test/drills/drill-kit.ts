// What every failure drill runs and checks: a workload (ordered senders and a consumer group) against a
// TestCluster, a monitor of who claims leadership in which term, and the final report:
//  - every acknowledged message is consumed (zero loss);
//  - per-queue order: each sender owns one queue and numbers its messages, so in queue-offset order the numbers
//    never go down (a retried send may repeat a number: counted as a duplicate);
//  - duplicates counted; at most one leader per term;
//  - client-visible unavailability (longest gap between successful sends) and time to a new leader.
import { Admin, Producer, PushConsumer, type MessageExt, type MessageQueue } from '../../client/index.js';
import type { TestCluster } from '../harness/cluster.js';

export interface DrillReport {
  drill: string;
  acked: number;
  consumed: number;
  lost: number;
  duplicates: number;
  orderViolations: number;
  sendErrors: number;
  unavailabilityMs: number;
  timeToNewLeaderMs: number | null;
  leaderConflicts: string[];
  extra?: Record<string, unknown>;
}

/**
 * The drill clients' logger: silent, unless LEDGERMQ_DRILL_LOG=1, which prints their warnings and their re-balance
 * and offset debug lines with the milliseconds since the drill module loaded (to read a failed or slow drill).
 */
const DRILL_LOG = process.env.LEDGERMQ_DRILL_LOG === '1';
const loadedAt = Date.now();
const drillLine = (kind: string, m: string): void => console.log(`${kind} ${Date.now() - loadedAt} ${m}`);
const quiet = {
  warn: (m: string) => {
    if (DRILL_LOG) drillLine('warn', m);
  },
  info: () => undefined,
  debug: (m: string) => {
    if (DRILL_LOG && /releas|took|re-balance|offset/.test(m)) drillLine('debug', m);
  },
};

export class Workload {
  readonly topic: string;
  readonly group: string;
  private producer: Producer | null = null;
  private consumer: PushConsumer | null = null;
  private running = false;
  private senders: Promise<void>[] = [];
  /** sender -> acknowledged sequence numbers */
  readonly acked = new Map<number, Set<number>>();
  /** key -> times consumed */
  readonly consumedCount = new Map<string, number>();
  /** queue id -> sequence numbers in consumption (first delivery) order, with their queue offsets */
  readonly firstDeliveries = new Map<number, Array<{ offset: number; seq: number }>>();
  readonly ackTimes: number[] = [];
  sendErrors = 0;
  lastError = '';

  constructor(
    private readonly cluster: TestCluster,
    readonly name: string,
    private readonly senderCount = 4,
  ) {
    this.topic = `drill-${name}`;
    this.group = `drill-${name}-cg`;
  }

  async start(): Promise<void> {
    const namesrv = this.cluster.namesrvAddr;
    const admin = new Admin({ namesrv, logger: quiet });
    await admin.start();
    try {
      await admin.createTopic(this.topic, { queues: this.senderCount });
    } finally {
      await admin.shutdown();
    }
    this.consumer = new PushConsumer({ namesrv, group: this.group, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', logger: quiet, rebalanceIntervalMs: 2000, persistOffsetIntervalMs: 1000 });
    this.consumer.subscribe(this.topic, '*');
    this.consumer.onMessage((msgs: MessageExt[]) => {
      for (const m of msgs) this.record(m);
      return 'CONSUME_SUCCESS';
    });
    await this.consumer.start();
    this.producer = new Producer({ namesrv, group: `${this.group}-pg`, logger: quiet, sendTimeoutMs: 3000, retryTimesWhenSendFailed: 2 });
    await this.producer.start();
    this.running = true;
    for (let s = 0; s < this.senderCount; s++) {
      this.acked.set(s, new Set());
      this.senders.push(this.sendLoop(s));
    }
  }

  private record(m: MessageExt): void {
    const key = m.keys ?? '';
    const seen = this.consumedCount.get(key) ?? 0;
    this.consumedCount.set(key, seen + 1);
    if (seen > 0) return;
    const seq = Number(key.split('-')[1]);
    let list = this.firstDeliveries.get(m.queueId);
    if (!list) {
      list = [];
      this.firstDeliveries.set(m.queueId, list);
    }
    list.push({ offset: m.queueOffset, seq });
  }

  private async sendLoop(sender: number): Promise<void> {
    const producer = this.producer!;
    let seq = 0;
    const pick = (queues: MessageQueue[]): MessageQueue => queues.find((q) => q.queueId === sender) ?? queues[sender % queues.length]!;
    while (this.running) {
      const key = `s${sender}-${seq}`;
      try {
        await producer.send({ topic: this.topic, body: `drill ${key}`, keys: key }, { selector: pick });
        this.acked.get(sender)!.add(seq);
        this.ackTimes.push(Date.now());
        seq++;
      } catch (err) {
        this.sendErrors++;
        this.lastError = (err as Error).message;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  get ackedCount(): number {
    let n = 0;
    for (const s of this.acked.values()) n += s.size;
    return n;
  }

  /** Stops producing, waits (bounded) until everything acknowledged was consumed, stops the clients. */
  async stop(drainTimeoutMs = 30_000): Promise<void> {
    this.running = false;
    await Promise.all(this.senders);
    const deadline = Date.now() + drainTimeoutMs;
    while (Date.now() < deadline && this.missing().length > 0) await new Promise((r) => setTimeout(r, 100));
    await this.producer?.shutdown();
    await this.consumer?.shutdown();
  }

  missing(): string[] {
    const out: string[] = [];
    for (const [sender, seqs] of this.acked) for (const seq of seqs) if (!this.consumedCount.has(`s${sender}-${seq}`)) out.push(`s${sender}-${seq}`);
    return out;
  }

  /** Longest gap between successive acknowledgements (the client-visible unavailability). */
  longestGapMs(from = 0): number {
    const times = this.ackTimes.filter((t) => t >= from).sort((a, b) => a - b);
    let gap = 0;
    for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i]! - times[i - 1]!);
    return gap;
  }

  orderViolations(): number {
    let violations = 0;
    for (const list of this.firstDeliveries.values()) {
      const byOffset = [...list].sort((a, b) => a.offset - b.offset);
      for (let i = 1; i < byOffset.length; i++) if (byOffset[i]!.seq < byOffset[i - 1]!.seq) violations++;
    }
    return violations;
  }

  duplicates(): number {
    let d = 0;
    for (const n of this.consumedCount.values()) d += n - 1;
    return d;
  }
}

/** Polls every running node's Raft status: who claims leadership in which term, and when a new leader is ready. */
export class LeaderMonitor {
  private timer: NodeJS.Timeout | null = null;
  private readonly leadersByTerm = new Map<number, Set<string>>();
  private polling = false;
  samples = 0;

  constructor(private readonly cluster: TestCluster) {}

  start(): void {
    this.timer = setInterval(() => void this.poll(), 25);
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      for (const s of await this.cluster.statuses()) {
        if (s.role !== 'leader') continue;
        let set = this.leadersByTerm.get(s.term);
        if (!set) {
          set = new Set();
          this.leadersByTerm.set(s.term, set);
        }
        set.add(s.raftId);
      }
      this.samples++;
    } finally {
      this.polling = false;
    }
  }

  /** Terms in which more than one node claimed leadership. */
  conflicts(): string[] {
    const out: string[] = [];
    for (const [term, ids] of this.leadersByTerm) if (ids.size > 1) out.push(`term ${term}: ${[...ids].join(', ')}`);
    return out;
  }

  /** Waits for a ready leader other than `notThis` (and in a later term than `afterTerm`); returns ms taken. */
  async timeToNewLeader(since: number, notThis: string | null, afterTerm: number, timeoutMs = 20_000): Promise<{ ms: number; leader: string; term: number }> {
    const deadline = since + timeoutMs;
    while (Date.now() < deadline) {
      const leader = (await this.cluster.statuses()).find((s) => s.role === 'leader' && s.ready && s.raftId !== notThis && s.term > afterTerm);
      if (leader) return { ms: Date.now() - since, leader: leader.raftId, term: leader.term };
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`no new leader within ${timeoutMs} ms`);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

export function report(drill: string, w: Workload, monitor: LeaderMonitor, timeToNewLeaderMs: number | null, extra?: Record<string, unknown>): DrillReport {
  const consumed = w.consumedCount.size;
  return {
    drill,
    acked: w.ackedCount,
    consumed,
    lost: w.missing().length,
    duplicates: w.duplicates(),
    orderViolations: w.orderViolations(),
    sendErrors: w.sendErrors,
    unavailabilityMs: w.longestGapMs(),
    timeToNewLeaderMs,
    leaderConflicts: monitor.conflicts(),
    ...(extra ? { extra } : {}),
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until `node` has caught up with the leader (its last index reaches the leader's commit index). */
export async function waitCaughtUp(cluster: TestCluster, node: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const all = await cluster.statuses();
    const leader = all.find((s) => s.role === 'leader');
    const me = all.find((s) => s.raftId === node);
    if (leader && me && me.lastIndex >= leader.commitIndex && me.raftId !== leader.raftId) return;
    if (leader && me && me.raftId === leader.raftId) return;
    await sleep(50);
  }
  throw new Error(`${node} did not catch up within ${timeoutMs} ms`);
}
