// Shared helpers of the end-to-end tests: real clusters torn down after each test, deadline-bounded waits,
// a collector of consumed messages, a recording logger, and Prometheus text scraping.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { TestContext } from 'node:test';
import type { ConsumeStatus, Logger, MessageExt, MessageListener } from '../../client/index.js';
import { RemotingClient, RequestCode, ResponseCode, createRequest } from '../../remoting/index.js';
import { TestCluster, type ClusterOptions } from '../harness/cluster.js';

export type Cleanup = (fn: () => unknown) => void;

/**
 * Starts a cluster that is stopped (every child killed, data removed) when the test ends, pass or fail. Pass the
 * test's cleanup stack: the cluster then stops after the clients registered later have shut down (while the
 * broker can still take their final offset commits and unregistrations).
 */
export async function startCluster(cleanup: Cleanup, options: ClusterOptions = {}): Promise<TestCluster> {
  const cluster = await TestCluster.start(options);
  cleanup(() => cluster.stop());
  return cluster;
}

/** Registers `fn` to run when the test ends (in reverse order of registration, errors ignored). */
export function cleanupStack(t: TestContext): Cleanup {
  const stack: Array<() => unknown> = [];
  t.after(async () => {
    for (const fn of stack.reverse()) {
      try {
        await fn();
      } catch {
        // best effort: the next cleanup still runs
      }
    }
  });
  return (fn) => void stack.push(fn);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `condition` until it holds; fails with `what` (and `detail()`, if given) after `timeoutMs`. */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
  detail?: () => string,
  intervalMs = 20,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() >= deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}${detail ? `: ${detail()}` : ''}`);
    await sleep(intervalMs);
  }
}

/** A logger that keeps what clients warn about (shown when a test fails) instead of printing it. */
export function recordingLogger(max = 500): Logger & { lines: string[] } {
  const lines: string[] = [];
  const keep = (m: string): void => {
    lines.push(m);
    if (lines.length > max) lines.shift();
  };
  return { lines, warn: keep };
}

export interface Delivery {
  member: string;
  msgId: string;
  topic: string;
  queueId: number;
  queueOffset: number;
  reconsumeTimes: number;
  keys: string | undefined;
  body: string;
  at: number;
  /** The topic of the queue it was pulled from (a retried message comes from %RETRY%group). */
  fromTopic: string;
}

/** Records every message a group's listeners are handed, per member, in the order the listener saw them. */
export class Collector {
  readonly deliveries: Delivery[] = [];
  private readonly byId = new Map<string, number>();

  constructor(private readonly max = 1_000_000) {}

  /** A listener for `member`; `decide` may ask for a message to be consumed again. */
  listener(member: string, decide?: (m: MessageExt) => ConsumeStatus): MessageListener {
    return (msgs, ctx) => {
      let status: ConsumeStatus = 'CONSUME_SUCCESS';
      for (const m of msgs) {
        assert(this.deliveries.length < this.max, 'collector overflow: more deliveries than the test can expect');
        this.deliveries.push({
          member,
          msgId: m.msgId,
          topic: m.topic,
          queueId: m.queueId,
          queueOffset: m.queueOffset,
          reconsumeTimes: m.reconsumeTimes,
          keys: m.keys,
          body: m.body.toString('utf8'),
          at: Date.now(),
          fromTopic: ctx.queue.topic,
        });
        this.byId.set(m.msgId, (this.byId.get(m.msgId) ?? 0) + 1);
        if (decide && decide(m) === 'RECONSUME_LATER') status = 'RECONSUME_LATER';
      }
      return status;
    };
  }

  get uniqueCount(): number {
    return this.byId.size;
  }

  count(msgId: string): number {
    return this.byId.get(msgId) ?? 0;
  }

  has(msgId: string): boolean {
    return this.byId.has(msgId);
  }

  /** msgIds delivered more than once. */
  duplicates(): string[] {
    return [...this.byId].filter(([, n]) => n > 1).map(([id]) => id);
  }

  /** Of `expected`, the ids never delivered. */
  missing(expected: Iterable<string>): string[] {
    const out: string[] = [];
    for (const id of expected) if (!this.byId.has(id)) out.push(id);
    return out;
  }

  /** Pairs (queue, offset) seen out of order by one member: each member must see a queue's offsets strictly increasing. */
  orderViolations(topic: string): string[] {
    const last = new Map<string, number>();
    const out: string[] = [];
    for (const d of this.deliveries) {
      if (d.fromTopic !== topic) continue;
      const key = `${d.member}/${d.queueId}`;
      const prev = last.get(key);
      if (prev !== undefined && d.queueOffset <= prev) out.push(`${key}: ${d.queueOffset} after ${prev}`);
      last.set(key, d.queueOffset);
    }
    return out;
  }
}

/** GET http://127.0.0.1:<port><path> as text (bounded: 5 s, 8 MiB). */
export function httpGet(port: number, path = '/metrics'): Promise<{ status: number; contentType: string; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        if (bytes > 8 * 1024 * 1024) req.destroy(new Error('metrics response over 8 MiB'));
        else chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET :${port}${path} timed out`)));
    req.on('error', reject);
  });
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format (samples only; HELP/TYPE lines are returned as metric families). */
export function parseMetrics(text: string): { samples: Sample[]; families: Map<string, string> } {
  const samples: Sample[] = [];
  const families = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice(7).split(' ');
      families.set(name!, type!);
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[4]) });
  }
  return { samples, families };
}

/** The value of the one sample of `name` whose labels include `labels`, or undefined. */
export function sampleValue(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const hits = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert(hits.length <= 1, `${hits.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return hits[0]?.value;
}

/** Runs async `fn` over `items` with at most `window` in flight; returns results in item order. */
export async function inWindows<T, R>(items: readonly T[], window: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(window, items.length) }, worker));
  return out;
}

/** Raw broker queries that do not join any group (a PullConsumer of the group would count as a member). */
export class BrokerProbe {
  readonly client = new RemotingClient({ logger: { warn: () => undefined } });

  /** The group's committed offset, or -1 when the broker has none. */
  async committedOffset(addr: string, group: string, topic: string, queueId: number): Promise<number> {
    const r = await this.client.invoke(addr, createRequest(RequestCode.QUERY_CONSUMER_OFFSET, { consumerGroup: group, topic, queueId: String(queueId) }), 3000);
    if (r.code === ResponseCode.QUERY_NOT_FOUND) return -1;
    assert.equal(r.code, ResponseCode.SUCCESS, `QUERY_CONSUMER_OFFSET: ${r.remark}`);
    return Number(r.extFields?.['offset']);
  }

  async maxOffset(addr: string, topic: string, queueId: number): Promise<number> {
    const r = await this.client.invoke(addr, createRequest(RequestCode.GET_MAX_OFFSET, { topic, queueId: String(queueId) }), 3000);
    assert.equal(r.code, ResponseCode.SUCCESS, `GET_MAX_OFFSET: ${r.remark}`);
    return Number(r.extFields?.['offset']);
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
