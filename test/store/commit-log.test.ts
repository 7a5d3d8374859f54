// Commit log: rolling, index lookups, truncation, byte-identical replication, torn tails, segment summaries.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { CommitLog } from '../../store/commit-log.js';
import { StoreError, StoreErrorCode } from '../../store/errors.js';
import { EntryType, RECORD_HEADER_BYTES } from '../../store/record.js';
import { tempDir, removeDir } from '../helpers/tmp.js';

const SEGMENT = 64 * 1024;
const dirs: string[] = [];
const logs: CommitLog[] = [];
afterEach(() => {
  for (const l of logs.splice(0)) l.close();
  for (const d of dirs.splice(0)) removeDir(d);
});

function openLog(dir?: string, messages?: string[]): CommitLog {
  const d = dir ?? tempDir('clog-');
  if (!dir) dirs.push(d);
  const log = CommitLog.open({ dir: d, segmentBytes: SEGMENT, preallocateAhead: false, log: (m) => messages?.push(m) });
  logs.push(log);
  return log;
}

function reopen(log: CommitLog, messages?: string[]): CommitLog {
  const dir = (log as unknown as { options: { dir: string } }).options.dir;
  log.close();
  logs.splice(logs.indexOf(log), 1);
  return openLog(dir, messages);
}

/** Payload of entry i: deterministic bytes of a size between 1 and ~2 KiB. */
function payloadOf(i: number): Buffer {
  const n = 1 + ((i * 7919) % 2000);
  const b = Buffer.alloc(n);
  for (let k = 0; k < n; k++) b[k] = (i * 31 + k) & 255;
  return b;
}

function appendN(log: CommitLog, from: number, to: number, term: number): number[] {
  const offsets: number[] = [];
  for (let i = from; i <= to; i++) {
    const p = payloadOf(i);
    offsets.push(log.append(EntryType.STATE, term, p.length, (buf, _view, pos) => p.copy(buf, pos)).offset);
  }
  return offsets;
}

function assertEntries(log: CommitLog, from: number, to: number, term?: number): void {
  for (let i = from; i <= to; i++) {
    const e = log.readEntry(i);
    assert.equal(e.index, i);
    if (term !== undefined) assert.equal(e.term, term);
    assert.ok(e.payload.equals(payloadOf(i)), `payload of entry ${i}`);
  }
}

test('entries roll over segments and are found by index and offset, also after reopening', () => {
  let log = openLog();
  const offsets = appendN(log, 1, 600, 1);
  assert.ok(log.segmentCount >= 10, `expected many segments, got ${log.segmentCount}`);
  assert.equal(log.lastIndex, 600);
  // random-order lookups exercise the sparse index; sequential ones the cursor
  for (const i of [600, 1, 333, 64, 65, 128, 129, 599, 2, 300]) assert.equal(log.entryOffset(i), offsets[i - 1]);
  assertEntries(log, 1, 600, 1);
  log.flushSync();
  log = reopen(log);
  assert.equal(log.lastIndex, 600);
  assert.equal(log.lastTerm, 1);
  for (let i = 1; i <= 600; i += 37) assert.equal(log.entryOffset(i), offsets[i - 1]);
  assertEntries(log, 1, 600);
  appendN(log, 601, 650, 2);
  assertEntries(log, 601, 650, 2);
});

test('records never span segments: each segment ends with a blank marker', () => {
  const log = openLog();
  const offsets = appendN(log, 1, 300, 1);
  for (let i = 0; i < offsets.length; i++) {
    const start = offsets[i]!;
    const end = start + RECORD_HEADER_BYTES + payloadOf(i + 1).length;
    assert.equal(Math.floor(start / SEGMENT), Math.floor((end - 1) / SEGMENT), `entry ${i + 1} spans a segment boundary`);
  }
});

test('a record larger than a segment allows is refused with a clear error and nothing changes', () => {
  const log = openLog();
  appendN(log, 1, 3, 1);
  assert.throws(
    () => log.append(EntryType.STATE, 1, SEGMENT, () => assert.fail('must not write')),
    (err: unknown) => err instanceof StoreError && err.code === StoreErrorCode.MESSAGE_TOO_LARGE && /exceeds the largest record/.test(err.message),
  );
  assert.equal(log.lastIndex, 3);
  appendN(log, 4, 5, 1);
  assertEntries(log, 1, 5);
});

test('truncateFrom drops the suffix (also across segments); new entries follow; reopening keeps only them', () => {
  let log = openLog();
  appendN(log, 1, 400, 1);
  for (const cut of [390, 250, 101]) {
    log.truncateFrom(cut);
    assert.equal(log.lastIndex, cut - 1);
    assert.equal(log.lastTerm, 1);
    assertEntries(log, 1, cut - 1);
  }
  appendN(log, 101, 180, 3);
  assertEntries(log, 101, 180, 3);
  log.flushSync();
  log = reopen(log);
  assert.equal(log.lastIndex, 180);
  assert.equal(log.lastTerm, 3);
  assertEntries(log, 1, 100, 1);
  assertEntries(log, 101, 180, 3);
});

test('truncating at the first entry of a segment continues in the previous segment', () => {
  const log = openLog();
  const offsets = appendN(log, 1, 200, 1);
  const firstOfSecond = offsets.findIndex((o) => o >= SEGMENT) + 1;
  log.truncateFrom(firstOfSecond);
  assert.ok(log.writeOffset < SEGMENT, 'write position moved back into the first segment');
  // the entry that did not fit before rolls again; a small one now fits where the blank marker was
  const small = Buffer.from('x');
  const at = log.append(EntryType.STATE, 2, 1, (b, _v, p) => small.copy(b, p)).offset;
  assert.equal(at, offsets[firstOfSecond - 2]! + RECORD_HEADER_BYTES + payloadOf(firstOfSecond - 1).length);
  assert.equal(log.readEntry(firstOfSecond).payload.toString(), 'x');
  assertEntries(log, 1, firstOfSecond - 1);
});

test('committed entries cannot be truncated and the commit index never moves back', () => {
  const log = openLog();
  appendN(log, 1, 10, 1);
  log.setCommitIndex(7);
  log.setCommitIndex(5);
  assert.equal(log.commitIndex, 7);
  assert.throws(() => log.truncateFrom(7), /committed/);
  log.truncateFrom(8);
  assert.equal(log.lastIndex, 7);
});

test('a follower built from the leader batches is byte-identical; bad batches change nothing', () => {
  const leader = openLog();
  appendN(leader, 1, 500, 1);
  appendN(leader, 501, 700, 2);
  const follower = openLog();
  let next = 1;
  while (next <= leader.lastIndex) {
    const batch = leader.readBatch(next, 16 * 1024);
    follower.appendReplicated({ offset: batch.offset, bytes: Buffer.from(batch.bytes) });
    next = batch.lastIndex + 1;
  }
  assert.equal(follower.lastIndex, 700);
  assert.equal(follower.lastTerm, 2);
  assert.equal(follower.writeOffset, leader.writeOffset);
  leader.flushSync();
  follower.flushSync();
  const ldir = (leader as unknown as { options: { dir: string } }).options.dir;
  const fdir = (follower as unknown as { options: { dir: string } }).options.dir;
  const names = fs.readdirSync(ldir).filter((n) => /^\d{20}$/.test(n));
  assert.deepEqual(fs.readdirSync(fdir).filter((n) => /^\d{20}$/.test(n)), names);
  for (const n of names) assert.ok(fs.readFileSync(path.join(ldir, n)).equals(fs.readFileSync(path.join(fdir, n))), `segment ${n} differs`);

  appendN(leader, 701, 710, 2);
  const batch = leader.readBatch(701, 1 << 20);
  const tampered = Buffer.from(batch.bytes);
  tampered[tampered.length - 1]! ^= 0xff;
  assert.throws(() => follower.appendReplicated({ offset: batch.offset, bytes: tampered }), (e: unknown) => e instanceof StoreError && e.code === StoreErrorCode.INVALID_APPEND);
  assert.throws(() => follower.appendReplicated({ offset: batch.offset + 8, bytes: Buffer.from(batch.bytes) }), /refused/);
  const skip = leader.readBatch(705, 1 << 20);
  assert.throws(() => follower.appendReplicated({ offset: skip.offset, bytes: Buffer.from(skip.bytes) }), /refused/);
  assert.equal(follower.lastIndex, 700);
  follower.appendReplicated({ offset: batch.offset, bytes: Buffer.from(batch.bytes) });
  assert.equal(follower.lastIndex, 710);
});

test('a follower refuses a batch whose first record does not chain to its log (diverged history)', () => {
  const leader = openLog();
  appendN(leader, 1, 20, 1);
  const follower = openLog();
  appendN(follower, 1, 10, 1);
  follower.truncateFrom(10);
  const other = Buffer.from('different history');
  follower.append(EntryType.STATE, 1, other.length, (b, _v, p) => other.copy(b, p)); // entry 10 differs from the leader's
  const batch = leader.readBatch(11, 1 << 20);
  assert.throws(() => follower.appendReplicated({ offset: batch.offset, bytes: Buffer.from(batch.bytes) }), /refused/);
});

test('torn tail: garbled bytes in the last record truncate exactly that record', () => {
  const messages: string[] = [];
  let log = openLog(undefined, messages);
  const offsets = appendN(log, 1, 150, 1);
  log.flushSync();
  const lastOffset = offsets[149]!;
  const seg = Math.floor(lastOffset / SEGMENT);
  const dir = (log as unknown as { options: { dir: string } }).options.dir;
  log.close();
  logs.splice(logs.indexOf(log), 1);
  const file = path.join(dir, String(seg * SEGMENT).padStart(20, '0'));
  const fd = fs.openSync(file, 'r+');
  const posInFile = lastOffset - seg * SEGMENT + RECORD_HEADER_BYTES + 3; // inside the payload of entry 150
  fs.writeSync(fd, Buffer.from([0xde, 0xad, 0xbe, 0xef]), 0, 4, posInFile);
  fs.closeSync(fd);
  log = openLog(dir, messages);
  assert.equal(log.lastIndex, 149);
  assertEntries(log, 1, 149);
  assert.ok(messages.some((m) => /bad crc/.test(m) && /before entry 150/.test(m)), messages.join('\n'));
  appendN(log, 150, 160, 2);
  log = reopen(log);
  assert.equal(log.lastIndex, 160);
});

test('torn tail: a segment file cut short recovers up to the last whole record', () => {
  let log = openLog();
  const offsets = appendN(log, 1, 150, 1);
  log.flushSync();
  const dir = (log as unknown as { options: { dir: string } }).options.dir;
  log.close();
  logs.splice(logs.indexOf(log), 1);
  const lastOffset = offsets[149]!;
  const seg = Math.floor(lastOffset / SEGMENT);
  const file = path.join(dir, String(seg * SEGMENT).padStart(20, '0'));
  fs.truncateSync(file, lastOffset - seg * SEGMENT + 10); // cut 10 bytes into entry 150's header
  log = openLog(dir);
  assert.equal(log.lastIndex, 149);
  assertEntries(log, 1, 149);
  assert.equal(fs.statSync(file).size, SEGMENT, 'the cut file was extended back to the segment size');
  // a stale record behind the torn one is never resurrected: entry 151 bytes do not chain to a new entry 150
  appendN(log, 150, 150, 1);
  log = reopen(log);
  assert.equal(log.lastIndex, 150);
});

test('segment summaries: recovery uses them, and a missing or damaged one only costs a rescan', () => {
  let log = openLog();
  appendN(log, 1, 500, 1);
  log.flushSync();
  const dir = (log as unknown as { options: { dir: string } }).options.dir;
  const sidecars = fs.readdirSync(dir).filter((n) => n.endsWith('.idx')).sort();
  assert.ok(sidecars.length >= 5);
  log = reopen(log);
  assertEntries(log, 1, 500);
  fs.rmSync(path.join(dir, sidecars[0]!));
  const damaged = path.join(dir, sidecars[1]!);
  const bytes = fs.readFileSync(damaged);
  bytes[bytes.length - 10]! ^= 1;
  fs.writeFileSync(damaged, bytes);
  log = reopen(log);
  assert.equal(log.lastIndex, 500);
  assertEntries(log, 1, 500);
});

test('dropping old segments moves the first index; the base term stays known; reopening agrees', () => {
  let log = openLog();
  appendN(log, 1, 300, 1);
  appendN(log, 301, 400, 2);
  log.setCommitIndex(400);
  const before = log.segmentCount;
  log.dropOldestSegment();
  log.dropOldestSegment();
  assert.equal(log.segmentCount, before - 2);
  const first = log.firstIndex;
  assert.ok(first > 1);
  assert.equal(log.term(first - 1), 1);
  assert.equal(log.term(first - 2), undefined);
  assert.throws(() => log.readEntry(first - 1), (e: unknown) => e instanceof StoreError && e.code === StoreErrorCode.OFFSET_MOVED);
  assertEntries(log, first, 400);
  log.flushSync();
  log = reopen(log);
  assert.equal(log.firstIndex, first);
  assert.equal(log.lastIndex, 400);
  assertEntries(log, first, 400);
});

test('a reader holding a segment keeps its bytes while retention deletes it; the name goes at once', () => {
  const log = openLog();
  appendN(log, 1, 200, 1);
  log.setCommitIndex(200);
  const entry = log.readEntry(3);
  const { file } = log.locate(entry.offset);
  assert.ok(file.acquire());
  const expected = Buffer.from(entry.payload);
  log.dropOldestSegment();
  assert.ok(!fs.existsSync(file.filePath), 'the name is freed at once');
  assert.ok(entry.payload.equals(expected), 'bytes intact while a reader holds the segment');
  assert.equal(file.acquire(), false, 'no new reader may take a segment being deleted');
  file.release();
  assert.ok(entry.payload.equals(expected), 'a slice stays readable after release: the mapping lives as long as the slice');
});

test('a truncation that re-creates a segment a reader still holds: the reader\'s release does not delete the new file', () => {
  const log = openLog();
  const offsets = appendN(log, 1, 200, 1);
  const second = log.locate(offsets[199]!).file;
  assert.ok(second.baseOffset > 0, 'the entries span two segments');
  const held = log.readEntry(200);
  assert.ok(second.acquire(), 'a reader (a pull, a replication send) holds the last segment');
  const firstInSecond = offsets.findIndex((o) => o >= second.baseOffset) + 1;
  log.truncateFrom(firstInSecond); // drops the last segment
  appendN(log, firstInSecond, 200, 2); // rolls into a new file with the same name
  const again = log.locate(log.entryOffset(200)).file;
  assert.equal(again.filePath, second.filePath);
  second.release();
  assert.ok(fs.existsSync(again.filePath), 'the new segment survives the old one\'s release');
  assert.equal(held.index, 200);
  const reopened = reopen(log);
  assert.equal(reopened.lastIndex, 200, 'nothing lost across a restart');
  assert.equal(reopened.term(200), 2);
});

test('batches: bounded by bytes, never crossing a segment, at least one entry', () => {
  const log = openLog();
  appendN(log, 1, 300, 1);
  let next = 1;
  let batches = 0;
  while (next <= 300) {
    const b = log.readBatch(next, 5000);
    assert.ok(b.bytes.length <= 5000 || b.lastIndex === b.firstIndex);
    assert.equal(Math.floor(b.offset / SEGMENT), Math.floor((b.offset + b.bytes.length - 1) / SEGMENT));
    assert.equal(log.batchEnd(next, 5000), b.lastIndex);
    next = b.lastIndex + 1;
    batches++;
  }
  assert.ok(batches > 10);
  assert.equal(log.readBatch(1, 1).lastIndex, 1);
});
