// Message store: dispatch into consume queues and the index, reads, timestamp search, key queries, retention,
// recovery consistency, oversized messages and a full disk.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { MessageStore, GetMessageStatus, type MessageStoreOptions } from '../../store/message-store.js';
import { StoreError, StoreErrorCode } from '../../store/errors.js';
import { decodeMessage, decodeMessages } from '../../common/message.js';
import { tagHashCode } from '../../common/tag-hash.js';
import { draft } from '../helpers/messages.js';
import { tempDir, removeDir } from '../helpers/tmp.js';

const dirs: string[] = [];
const stores: MessageStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close().catch(() => s.abandon());
  for (const d of dirs.splice(0)) removeDir(d);
});

function openStore(extra: Partial<MessageStoreOptions> = {}, dir?: string): MessageStore {
  const d = dir ?? tempDir('mstore-');
  if (!dir) dirs.push(d);
  const s = MessageStore.open({
    dir: d,
    segmentBytes: 64 * 1024,
    consumeQueueEntriesPerFile: 50,
    indexSlots: 64,
    indexEntries: 500,
    preallocateAhead: false,
    log: () => undefined,
    ...extra,
  });
  stores.push(s);
  return s;
}

async function reopen(s: MessageStore, extra: Partial<MessageStoreOptions> = {}): Promise<MessageStore> {
  const dir = (s as unknown as { options: MessageStoreOptions }).options.dir;
  await s.close();
  stores.splice(stores.indexOf(s), 1);
  return openStore(extra, dir);
}

function put(s: MessageStore, topic: string, queueId: number, body: string, props: Record<string, string> = {}): number {
  const r = s.appendMessages(1, [draft(topic, queueId, Buffer.from(body), props)]);
  s.setCommitIndex(r.index);
  return r.messages[0]!.queueOffset;
}

function bodies(buffers: Buffer[]): string[] {
  return buffers.map((b) => decodeMessage(b).body.toString());
}

test('queue offsets are dense per queue; pulls return committed messages in order with the right status', () => {
  const s = openStore();
  for (let i = 0; i < 200; i++) assert.equal(put(s, 'T', i % 4, `m${i}`, { TAGS: i % 2 ? 'odd' : 'even' }), Math.floor(i / 4));
  s.dispatchAll();
  assert.equal(s.getMinOffset('T', 1), 0);
  assert.equal(s.getMaxOffset('T', 1), 50);
  const r = s.getMessages('T', 1, 10, 5);
  assert.equal(r.status, GetMessageStatus.FOUND);
  assert.deepEqual(bodies(r.messages), ['m41', 'm45', 'm49', 'm53', 'm57']);
  assert.deepEqual(r.queueOffsets, [10, 11, 12, 13, 14]);
  assert.equal(r.nextBeginOffset, 15);
  r.release();
  const odd = tagHashCode('odd');
  const filtered = s.getMessages('T', 0, 0, 10, (code) => code === odd);
  assert.equal(filtered.status, GetMessageStatus.NO_MATCHED_MESSAGE, 'queue 0 only holds even messages');
  assert.ok(filtered.nextBeginOffset > 0, 'filtered-out entries are skipped');
  assert.equal(s.getMessages('T', 1, 50, 5).status, GetMessageStatus.OFFSET_OVERFLOW_ONE);
  assert.equal(s.getMessages('T', 1, 51, 5).status, GetMessageStatus.OFFSET_OVERFLOW_BADLY);
  assert.equal(s.getMessages('T', 9, 0, 5).status, GetMessageStatus.NO_MESSAGE_IN_QUEUE);
  assert.equal(s.getMessages('nope', 0, 0, 5).status, GetMessageStatus.NO_MESSAGE_IN_QUEUE);
});

test('nothing uncommitted is visible; a batch entry is all-or-nothing with consecutive offsets', () => {
  const s = openStore();
  const r = s.appendMessages(1, [draft('B', 0, Buffer.from('a')), draft('B', 0, Buffer.from('b')), draft('B', 0, Buffer.from('c'))]);
  s.dispatchAll();
  assert.equal(s.getMaxOffset('B', 0), 0, 'not committed yet');
  assert.equal(s.viewMessage(r.messages[0]!.physicalOffset), null, 'uncommitted message cannot be viewed by offset');
  s.setCommitIndex(r.index);
  s.dispatchAll();
  assert.deepEqual(r.messages.map((m) => m.queueOffset), [0, 1, 2]);
  const got = s.getMessages('B', 0, 0, 10);
  assert.deepEqual(bodies(got.messages), ['a', 'b', 'c']);
  const viewed = decodeMessage(s.viewMessage(r.messages[1]!.physicalOffset)!);
  assert.equal(viewed.body.toString(), 'b');
  assert.equal(viewed.commitLogOffset, r.messages[1]!.physicalOffset);
  assert.equal(s.viewMessage(r.messages[1]!.physicalOffset + 1), null, 'an offset inside a message is not a message');
});

test('the next queue offset accounts for committed-but-undispatched messages and survives restart', async () => {
  let s = openStore();
  for (let i = 0; i < 10; i++) put(s, 'Q', 0, `x${i}`);
  // not dispatched yet: the next append must still get offset 10
  assert.equal(put(s, 'Q', 0, 'x10'), 10);
  s = await reopen(s);
  assert.equal(put(s, 'Q', 0, 'x11'), 11);
  s.dispatchAll();
  assert.deepEqual(bodies(s.getMessages('Q', 0, 9, 10).messages), ['x9', 'x10', 'x11']);
});

test('search offset by timestamp (lower and upper boundary) and earliest store time', () => {
  let now = 1_000_000;
  const s = openStore({ clock: () => now });
  for (let i = 0; i < 100; i++) {
    now = 1_000_000 + i * 10; // message i stored at 1_000_000 + 10 i
    put(s, 'TS', 0, `t${i}`);
  }
  s.dispatchAll();
  assert.equal(s.searchOffsetByTimestamp('TS', 0, 0), 0);
  assert.equal(s.searchOffsetByTimestamp('TS', 0, 1_000_000), 0);
  assert.equal(s.searchOffsetByTimestamp('TS', 0, 1_000_005), 1);
  assert.equal(s.searchOffsetByTimestamp('TS', 0, 1_000_500), 50);
  assert.equal(s.searchOffsetByTimestamp('TS', 0, 1_000_500, 'upper'), 50);
  assert.equal(s.searchOffsetByTimestamp('TS', 0, 1_000_505, 'upper'), 50);
  assert.equal(s.searchOffsetByTimestamp('TS', 0, 9_999_999), 100);
  assert.equal(s.getEarliestMessageTime('TS', 0), 1_000_000);
});

test('query by key (space-separated KEYS) within a time range, and by unique id', () => {
  let now = 5_000_000;
  const s = openStore({ clock: () => now });
  for (let i = 0; i < 300; i++) {
    now += 1000;
    put(s, i % 2 ? 'K1' : 'K2', 0, `k${i}`, { KEYS: `order-${i % 30} all`, UNIQ_KEY: `U${i}` });
  }
  s.dispatchAll();
  const hits = bodies(s.queryMessagesByKey('K1', 'order-7', 64, 0, Number.MAX_SAFE_INTEGER));
  assert.deepEqual(hits.sort(), ['k127', 'k157', 'k187', 'k217', 'k247', 'k277', 'k37', 'k67', 'k7', 'k97'].sort());
  assert.equal(s.queryMessagesByKey('K1', 'all', 5, 0, Number.MAX_SAFE_INTEGER).length, 5, 'limit honoured');
  const ranged = bodies(s.queryMessagesByKey('K1', 'order-7', 64, 5_000_000 + 100_000, 5_000_000 + 200_000));
  assert.deepEqual(ranged.sort(), ['k127', 'k157', 'k187'].sort());
  assert.deepEqual(bodies(s.queryMessageByUniqKey('K2', 'U42')), ['k42']);
  assert.deepEqual(s.queryMessageByUniqKey('K1', 'U42'), [], 'unique id of another topic');
});

test('recovery never leaves a consume-queue entry pointing past the log', async () => {
  let s = openStore();
  for (let i = 0; i < 50; i++) put(s, 'R', 0, `r${i}`);
  s.dispatchAll();
  await s.writeCheckpoint();
  for (let i = 50; i < 80; i++) put(s, 'R', 0, `r${i}`);
  s.dispatchAll(); // consume queue now holds 80 entries; the checkpoint says 50 messages
  const dir = (s as unknown as { options: MessageStoreOptions }).options.dir;
  const lastOffset = s.getMessages('R', 0, 79, 1);
  const phy = decodeMessage(lastOffset.messages[0]!).commitLogOffset;
  lastOffset.release();
  s.abandon(); // crash: no final checkpoint
  stores.splice(stores.indexOf(s), 1);
  // garble the last message in the log: recovery must drop it from the log and from the queue
  const seg = path.join(dir, 'commitlog', String(phy - (phy % (64 * 1024))).padStart(20, '0'));
  const fd = fs.openSync(seg, 'r+');
  fs.writeSync(fd, Buffer.from('garbage!'), 0, 8, (phy % (64 * 1024)) + 40);
  fs.closeSync(fd);
  s = openStore({}, dir);
  s.setCommitIndex(s.commitLog.lastIndex);
  s.dispatchAll();
  assert.equal(s.getMaxOffset('R', 0), 79);
  const all = s.getMessages('R', 0, 0, 256);
  assert.deepEqual(bodies(all.messages), Array.from({ length: 79 }, (_, i) => `r${i}`));
});

test('retention deletes old segments; queues and index follow; readers of deleted ranges are told the offset moved', () => {
  const s = openStore();
  const body = 'x'.repeat(900);
  for (let i = 0; i < 400; i++) put(s, 'OLD', 0, `${i}:${body}`, { KEYS: `key${i}` });
  s.dispatchAll();
  const held = s.getMessages('OLD', 0, 0, 4);
  const heldBodies = bodies(held.messages);
  const log = s.commitLog;
  const segmentsBefore = log.segmentCount;
  // Age every sealed segment, then retain only young data.
  const dir = path.join((s as unknown as { options: MessageStoreOptions }).options.dir, 'commitlog');
  const old = (Date.now() - 80 * 3600 * 1000) / 1000;
  for (const n of fs.readdirSync(dir).filter((n) => /^\d{20}$/.test(n))) fs.utimesSync(path.join(dir, n), old, old);
  const deleted = s.runRetention();
  assert.equal(deleted, segmentsBefore - 1, 'all sealed segments go; the active one stays');
  assert.deepEqual(bodies(held.messages), heldBodies, 'a reader holding slices of a deleted segment still reads them');
  held.release();
  const min = s.getMinOffset('OLD', 0);
  assert.ok(min > 0);
  const moved = s.getMessages('OLD', 0, 0, 4);
  assert.equal(moved.status, GetMessageStatus.OFFSET_TOO_SMALL);
  assert.equal(moved.nextBeginOffset, min);
  const first = s.getMessages('OLD', 0, min, 1);
  assert.equal(first.status, GetMessageStatus.FOUND);
  assert.equal(decodeMessage(first.messages[0]!).queueOffset, min);
  first.release();
  assert.deepEqual(s.queryMessagesByKey('OLD', 'key0', 1, 0, Number.MAX_SAFE_INTEGER), []);
  assert.equal(s.queryMessagesByKey('OLD', 'key399', 1, 0, Number.MAX_SAFE_INTEGER).length, 1);
});

test('retention never deletes what is not committed and dispatched, nor below the retention floor', () => {
  let floor = 0;
  const s = openStore({ retentionFloor: () => floor });
  const body = 'y'.repeat(900);
  for (let i = 0; i < 200; i++) put(s, 'F', 0, body);
  s.dispatchAll();
  const dir = path.join((s as unknown as { options: MessageStoreOptions }).options.dir, 'commitlog');
  const old = (Date.now() - 80 * 3600 * 1000) / 1000;
  for (const n of fs.readdirSync(dir).filter((n) => /^\d{20}$/.test(n))) fs.utimesSync(path.join(dir, n), old, old);
  assert.equal(s.runRetention(), 0, 'floor 0 keeps everything');
  floor = Number.MAX_SAFE_INTEGER;
  const r = s.appendMessages(1, [draft('F', 0, Buffer.from(body))]); // uncommitted tail
  assert.ok(s.runRetention() > 0);
  assert.ok(s.commitLog.lastIndex === r.index);
});

test('a message larger than the largest record is refused with MESSAGE_TOO_LARGE and the store is unchanged', () => {
  const s = openStore();
  put(s, 'BIG', 0, 'small');
  assert.throws(
    () => s.appendMessages(1, [draft('BIG', 0, Buffer.alloc(70 * 1024))]),
    (e: unknown) => e instanceof StoreError && e.code === StoreErrorCode.MESSAGE_TOO_LARGE,
  );
  assert.equal(put(s, 'BIG', 0, 'next'), 1);
});

test('disk full: appends are refused with DISK_FULL, the store stays readable and consistent', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root to mount a small tmpfs');
  const mnt = tempDir('tmpfs-');
  dirs.push(mnt);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
  } catch (err) {
    return t.skip(`cannot mount tmpfs: ${(err as Error).message}`);
  }
  try {
    let s = openStore({ indexEnabled: false, consumeQueueEntriesPerFile: 1000, reserveBytes: 64 * 1024 }, path.join(mnt, 'store'));
    let accepted = 0;
    let refusal: StoreError | null = null;
    const body = 'z'.repeat(1000);
    for (let i = 0; i < 2000 && !refusal; i++) {
      try {
        put(s, 'D', 0, `${i}:${body}`);
        accepted++;
      } catch (err) {
        refusal = err as StoreError;
      }
    }
    assert.ok(refusal, 'the disk filled up');
    assert.equal(refusal.code, StoreErrorCode.DISK_FULL);
    assert.match(refusal.message, /disk full/);
    assert.throws(() => put(s, 'D', 0, 'again'), (e: unknown) => e instanceof StoreError && e.code === StoreErrorCode.DISK_FULL);
    s.dispatchAll();
    assert.equal(s.getMaxOffset('D', 0), accepted);
    const got = s.getMessages('D', 0, accepted - 1, 1);
    assert.equal(decodeMessages(got.messages[0]!)[0]!.body.toString(), `${accepted - 1}:${body}`);
    got.release();
    s.abandon();
    stores.splice(stores.indexOf(s), 1);
    s = openStore({ indexEnabled: false, consumeQueueEntriesPerFile: 1000, reserveBytes: 64 * 1024 }, path.join(mnt, 'store'));
    assert.equal(s.commitLog.lastIndex, accepted, 'every accepted record recovered');
    s.abandon();
    stores.splice(stores.indexOf(s), 1);
  } finally {
    execFileSync('umount', ['-l', mnt]);
  }
});
