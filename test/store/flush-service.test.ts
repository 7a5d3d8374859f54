// Flush service and file-level flushing: durability claims must survive truncations racing an fsync.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { CommitLog } from '../../store/commit-log.js';
import { FlushService, FlushMode } from '../../store/flush-service.js';
import { MappedFile, segmentFileName } from '../../store/mapped-file.js';
import { EntryType } from '../../store/record.js';
import { tempDir, removeDir } from '../helpers/tmp.js';

const SEGMENT = 64 * 1024;
const dirs: string[] = [];
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
  for (const d of dirs.splice(0)) removeDir(d);
});

function openLog(preallocateAhead = false, dir?: string): CommitLog {
  const d = dir ?? tempDir('flush-');
  if (!dir) dirs.push(d);
  const log = CommitLog.open({ dir: d, segmentBytes: SEGMENT, preallocateAhead, log: () => undefined });
  cleanups.push(() => log.close());
  return log;
}

function append(log: CommitLog, count: number, term: number, size = 300): void {
  const p = Buffer.alloc(size, term);
  for (let i = 0; i < count; i++) log.append(EntryType.STATE, term, p.length, (buf, _v, pos) => p.copy(buf, pos));
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

test('an fsync that a truncation overtakes claims nothing for the bytes written after the truncation', async () => {
  const log = openLog();
  append(log, 50, 1);
  const flushing = log.flush(); // the fsync is now in flight
  log.truncateFrom(1); // a new leader's history replaces the uncommitted tail...
  append(log, 5, 2); // ...and is written while the old fsync runs
  await flushing;
  assert.ok(log.flushedOffset < log.writeOffset, `flushed ${log.flushedOffset} must stay below written ${log.writeOffset}`);
  await log.flush();
  assert.equal(log.flushedOffset, log.writeOffset, 'the next flush covers them');
});

test('SYNC flush: a wait orphaned by a truncation answers promptly (not after the sync timeout)', async () => {
  const log = openLog();
  const flusher = new FlushService(() => log, { mode: FlushMode.SYNC, intervalMs: 1000, syncTimeoutMs: 60_000, clock: Date.now, log: () => undefined });
  flusher.start();
  cleanups.unshift(() => void flusher.stop());
  append(log, 50, 1);
  const waiting = flusher.waitFlushed(log.writeOffset);
  log.truncateFrom(10); // the bytes waited for are gone; nothing is written after
  const durable = await within(waiting, 2000, 'orphaned wait');
  assert.equal(durable, false, 'the bytes waited for no longer exist: not reported durable');
  append(log, 3, 2);
  assert.equal(await within(flusher.waitFlushed(log.writeOffset), 2000, 'fresh wait'), true);
  assert.equal(log.flushedOffset, log.writeOffset);
});

test('closing a file while its fsync runs neither throws nor fails the flush', async () => {
  const dir = tempDir('mf-');
  dirs.push(dir);
  const file = MappedFile.createSparse(dir, 0, 4096);
  file.buffer.fill(7, 0, 100);
  file.writePosition = 100;
  const flushing = file.flush();
  file.destroy(); // retention or a truncation deletes it meanwhile
  await flushing;
  assert.ok(!fs.existsSync(file.filePath));
});

test('two preparations of the same segment use separate temporary files', async () => {
  const dir = tempDir('mf-');
  dirs.push(dir);
  const [a, b] = await Promise.all([MappedFile.preallocate(dir, 0, 8192), MappedFile.preallocate(dir, 0, 8192)]);
  assert.notEqual(a.tmpPath, b.tmpPath);
  fs.rmSync(a.tmpPath); // the stale one is discarded...
  const file = MappedFile.adopt(b); // ...and the other is still there to adopt
  assert.equal(file.size, 8192);
  file.close();
});

function preparedBases(dir: string): number[] {
  return fs.readdirSync(dir).filter((n) => n.endsWith('.prealloc')).map((n) => Number(n.slice(0, 20))).sort((x, y) => x - y);
}

test('the next segment is prepared after a restart and after a truncation drops segments, not created on the hot path', async () => {
  const dir = tempDir('flush-');
  dirs.push(dir);
  let log = openLog(true, dir);
  append(log, 300, 1); // spans two segments
  assert.ok(log.writeOffset > SEGMENT);
  await log.whenNextSegmentPrepared();
  log.close();
  cleanups.length = 0;
  log = openLog(true, dir);
  await log.whenNextSegmentPrepared();
  assert.deepEqual(preparedBases(dir), [2 * SEGMENT], 'prepared on startup');
  log.truncateFrom(100); // back into the first segment: the second is dropped
  await log.whenNextSegmentPrepared();
  assert.deepEqual(preparedBases(dir), [SEGMENT], 'prepared for the new end');
  assert.ok(!fs.existsSync(`${dir}/${segmentFileName(SEGMENT)}`), 'dropped segment deleted');
  append(log, 200, 2); // rolls into the second segment, not the third
  assert.ok(fs.existsSync(`${dir}/${segmentFileName(SEGMENT)}`), 'the prepared file was adopted');
  await log.whenNextSegmentPrepared();
  assert.deepEqual(preparedBases(dir), [2 * SEGMENT], 'and the one after it prepared');
});
