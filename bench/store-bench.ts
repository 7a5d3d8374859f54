// Store benchmark: append, dispatch and sequential read of 1,000,000 messages with 128-byte bodies and 200,000
// with 1 KiB bodies, next to a raw baseline measured in the same run (the same number of bytes written with
// fs.writeSync in 1 MiB batches). Ends with one JSON line holding every figure.
// Each workload runs --rounds times (default 3) on a fresh store and every figure is the median of the rounds,
// because the machine is shared and noisy.
// Usage: node dist/bench/store-bench.js [--dir DIR] [--scale 0.1] [--rounds 3]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MessageStore } from '../store/message-store.js';
import { encodeProperties } from '../common/properties.js';
import { UniqueIdGenerator } from '../common/message-id.js';
import type { MessageDraft } from '../common/message.js';

const args = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const scale = Number(arg('scale') ?? 1);
const root = fs.mkdtempSync(path.join(arg('dir') ?? os.tmpdir(), 'ledgermq-bench-'));
const QUEUES = 8;
const ROUNDS = Math.max(1, Number(arg('rounds') ?? 3));

interface Figures {
  messages: number;
  bodyBytes: number;
  logBytes: number;
  appendMsgsPerSec: number;
  appendMBPerSec: number;
  dispatchMsgsPerSec: number;
  readMsgsPerSec: number;
  readMBPerSec: number;
  rawMBPerSec: number;
  appendVsRaw: number;
}

function mbps(bytes: number, ms: number): number {
  return bytes / (1024 * 1024) / (ms / 1000);
}

function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

async function runWorkload(count: number, bodyBytes: number): Promise<Figures> {
  const dir = path.join(root, `store-${bodyBytes}`);
  const store = MessageStore.open({ dir, log: () => undefined });
  const topic = 'BenchTopic';
  const topicBytes = Buffer.from(topic);
  const body = Buffer.alloc(bodyBytes, 0x61);
  const ids = new UniqueIdGenerator();
  const propsHead = encodeProperties({ TAGS: 'bench' }) + 'UNIQ_KEY\u0001';
  const propsTail = '\u0002' + encodeProperties({ WAIT: 'true' });
  const host = { ip: 0x7f000001, port: 10911 };
  const makeDraft = (i: number): MessageDraft => ({
    topic,
    topicBytes,
    queueId: i % QUEUES,
    flag: 0,
    sysFlag: 0,
    bornTimestamp: Date.now(),
    bornHost: host,
    storeHost: host,
    reconsumeTimes: 0,
    preparedTransactionOffset: 0,
    body,
    // what a producer's send header carries: tag, a fresh unique id, WAIT
    properties: `${propsHead}${ids.next()}${propsTail}`,
  });
  // allocate the first segment outside the timed loop (later segments are prepared in the background)
  store.appendMessages(1, [makeDraft(0)]);
  // ...and let the background zero-fill of the next segment finish: it is amortized over a whole segment in
  // production, but would compete with a run this short.
  await store.commitLog.whenNextSegmentPrepared();
  const startOffset = store.commitLog.writeOffset;

  let t0 = performance.now();
  let last = 0;
  for (let i = 1; i <= count; i++) last = store.appendMessages(1, [makeDraft(i)]).index;
  const appendMs = performance.now() - t0;
  const logBytes = store.commitLog.writeOffset - startOffset;

  store.setCommitIndex(last);
  t0 = performance.now();
  store.dispatchAll();
  const dispatchMs = performance.now() - t0;

  t0 = performance.now();
  let read = 0;
  let readBytes = 0;
  for (let q = 0; q < QUEUES; q++) {
    for (let offset = 0; ; ) {
      const r = store.getMessages(topic, q, offset, 32);
      if (r.messages.length === 0) break;
      read += r.messages.length;
      readBytes += r.totalBytes;
      offset = r.nextBeginOffset;
      r.release();
    }
  }
  const readMs = performance.now() - t0;
  if (read !== count + 1) throw new Error(`read ${read} messages, expected ${count + 1}`);
  store.abandon();

  // raw baseline: the same number of bytes with fs.writeSync in 1 MiB batches
  const rawPath = path.join(root, `raw-${bodyBytes}`);
  const fd = fs.openSync(rawPath, 'w');
  const chunk = Buffer.alloc(1024 * 1024, 0x62);
  t0 = performance.now();
  for (let written = 0; written < logBytes; written += chunk.length) fs.writeSync(fd, chunk, 0, Math.min(chunk.length, logBytes - written));
  const rawMs = performance.now() - t0;
  fs.closeSync(fd);
  fs.rmSync(rawPath);
  fs.rmSync(dir, { recursive: true, force: true });

  const appendMBPerSec = mbps(logBytes, appendMs);
  const rawMBPerSec = mbps(logBytes, rawMs);
  return {
    messages: count,
    bodyBytes,
    logBytes,
    appendMsgsPerSec: Math.round(count / (appendMs / 1000)),
    appendMBPerSec: round(appendMBPerSec),
    dispatchMsgsPerSec: Math.round(count / (dispatchMs / 1000)),
    readMsgsPerSec: Math.round(read / (readMs / 1000)),
    readMBPerSec: round(mbps(readBytes, readMs)),
    rawMBPerSec: round(rawMBPerSec),
    appendVsRaw: round(appendMBPerSec / rawMBPerSec, 2),
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function medianOfRounds(count: number, bodyBytes: number): Promise<Figures> {
  const runs: Figures[] = [];
  for (let i = 0; i < ROUNDS; i++) runs.push(await runWorkload(count, bodyBytes));
  const out = { ...runs[0]! };
  for (const key of Object.keys(out) as (keyof Figures)[]) out[key] = median(runs.map((r) => r[key]));
  return out;
}

try {
  const small = await medianOfRounds(Math.round(1_000_000 * scale), 128);
  const large = await medianOfRounds(Math.round(200_000 * scale), 1024);
  for (const f of [small, large]) {
    console.log(
      `${String(f.bodyBytes).padStart(5)} B x ${f.messages}: append ${f.appendMsgsPerSec.toLocaleString()} msgs/s (${f.appendMBPerSec} MB/s), ` +
        `dispatch ${f.dispatchMsgsPerSec.toLocaleString()} msgs/s, read ${f.readMsgsPerSec.toLocaleString()} msgs/s (${f.readMBPerSec} MB/s); ` +
        `raw writeSync ${f.rawMBPerSec} MB/s; append/raw ${f.appendVsRaw}`,
    );
  }
  const goals = {
    append128MsgsPerSecAtLeast500k: small.appendMsgsPerSec >= 500_000,
    append1KiBAtLeast60PctOfRaw: large.appendVsRaw >= 0.6,
  };
  console.log(`goals: ${JSON.stringify(goals)}`);
  console.log(JSON.stringify({ bench: 'store', node: process.version, at: new Date().toISOString(), rounds: ROUNDS, small, large, goals }));
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
