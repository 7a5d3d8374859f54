// Crash test with real processes: a writer child appends messages of random sizes (ASYNC_FLUSH and SYNC_FLUSH),
// reporting what it appended and what is flushed; we SIGKILL it at random moments, recover the store here and
// check: every reported record is present and intact (kill -9 keeps the page cache, so that holds for appended
// records too, not only flushed ones), nothing is duplicated, the tail is clean, and consume queues agree with
// the log. Then the writer restarts on the same directory. CRASH_CYCLES (default 16 per flush mode) sets the count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageStore } from '../../store/message-store.js';
import { EntryType, RECORD_HEADER_BYTES } from '../../store/record.js';
import { decodeMessage } from '../../common/message.js';
import { crashStoreOptions, verifyBody } from './crash-shared.js';
import { tempDir, removeDir } from '../helpers/tmp.js';

const writer = path.join(path.dirname(fileURLToPath(import.meta.url)), 'crash-writer.js');
const CYCLES = Number(process.env.CRASH_CYCLES ?? 16);
const DEADLINE_MS = 150_000;

interface Reported {
  appended: Map<number, number>; // generation -> count appended
  flushed: Map<number, number>;
}

function runWriterUntilKilled(dir: string, mode: string, generation: number, seed: number, runMs: number, reported: Reported): Promise<void> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [writer, dir, mode, String(generation), String(seed)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buffered = '';
    let started = false;
    let timer: NodeJS.Timeout | null = null;
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const [kind, gen, n] = buffered.slice(0, nl).split(' ');
        buffered = buffered.slice(nl + 1);
        if (kind === 'R' && !started) {
          started = true;
          timer = setTimeout(() => child.kill('SIGKILL'), runMs);
        } else if (kind === 'A') reported.appended.set(Number(gen), Number(n));
        else if (kind === 'F') reported.flushed.set(Number(gen), Number(n));
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (signal === 'SIGKILL') resolve();
      else reject(new Error(`writer exited by itself (code ${code}, signal ${signal})`));
    });
    setTimeout(() => child.kill('SIGKILL'), runMs + 10_000).unref(); // never leave it behind
  });
}

function verifyStore(dir: string, reported: Reported): { messages: number; segments: number } {
  const store = MessageStore.open(crashStoreOptions(dir));
  try {
    const log = store.commitLog;
    store.setCommitIndex(log.lastIndex);
    store.dispatchAll();
    const seen = new Set<string>();
    const perQueue = new Map<string, number>();
    for (let index = log.firstIndex; index <= log.lastIndex; index++) {
      const entry = log.readEntry(index);
      assert.equal(entry.type, EntryType.MESSAGES);
      for (let pos = entry.position + RECORD_HEADER_BYTES; pos < entry.position + entry.size; ) {
        const m = decodeMessage(entry.buffer, pos);
        const id = verifyBody(m.body);
        assert.equal(m.keys, id);
        assert.ok(!seen.has(id), `message ${id} is duplicated`);
        seen.add(id);
        const key = `${m.topic}/${m.queueId}`;
        const expectedOffset = perQueue.get(key) ?? 0;
        assert.equal(m.queueOffset, expectedOffset, `queue offsets of ${key} are dense`);
        perQueue.set(key, expectedOffset + 1);
        pos += m.storeSize;
      }
    }
    for (const [gen, n] of reported.appended) {
      for (let i = 0; i < n; i++) assert.ok(seen.has(`${gen}-${i}`), `appended message ${gen}-${i} was lost`);
    }
    for (const [gen, n] of reported.flushed) assert.ok((reported.appended.get(gen) ?? 0) >= n);
    // consume queues agree with the log
    for (const [key, count] of perQueue) {
      const [topic, q] = key.split('/');
      assert.equal(store.getMaxOffset(topic!, Number(q)), count, `consume queue ${key} length`);
      for (let offset = 0; offset < count; offset += 256) {
        const r = store.getMessages(topic!, Number(q), offset, 256);
        r.messages.forEach((b, i) => assert.equal(decodeMessage(b).queueOffset, offset + i));
        r.release();
      }
    }
    for (const cq of store.consumeQueues.all()) assert.ok(perQueue.has(`${cq.topic}/${cq.queueId}`) || cq.maxOffset === 0);
    // the tail is clean: the log ends exactly after its last record, and a new record continues it
    const end = log.lastIndex >= log.firstIndex ? log.entryOffset(log.lastIndex) + log.readEntry(log.lastIndex).size : log.minOffset;
    assert.ok(log.writeOffset === end || log.writeOffset % log.segmentBytes === 0, 'no garbage after the last record');
    return { messages: seen.size, segments: log.segmentCount };
  } finally {
    store.abandon();
  }
}

for (const mode of ['ASYNC_FLUSH', 'SYNC_FLUSH']) {
  test(`kill -9 during appends loses nothing reported (${mode}, ${CYCLES} cycles)`, { timeout: DEADLINE_MS + 30_000 }, async () => {
    const dir = tempDir('crash-');
    const started = Date.now();
    const reported: Reported = { appended: new Map(), flushed: new Map() };
    let last = { messages: 0, segments: 0 };
    let cycles = 0;
    try {
      for (let gen = 1; gen <= CYCLES && Date.now() - started < DEADLINE_MS; gen++) {
        const runMs = 30 + ((gen * 7919) % 250);
        await runWriterUntilKilled(dir, mode, gen, gen * 2654435761, runMs, reported);
        last = verifyStore(dir, reported);
        cycles++;
      }
      assert.ok(cycles >= Math.min(CYCLES, 10), `only ${cycles} cycles ran within the time bound`);
      assert.ok(last.messages > 0);
      console.log(`${mode}: ${cycles} kill/restart cycles, ${last.messages} messages in ${last.segments} segments, all reported records intact`);
    } finally {
      removeDir(dir);
    }
  });
}
