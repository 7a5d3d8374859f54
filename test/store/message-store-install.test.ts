// Segment install at the store level: the installed log replaces the old one, queues without a message in it
// keep their ends (queue table / floors), and the file part of an install can be repeated after a crash anywhere.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { MessageStore, GetMessageStatus, STAGED_LOG_DIR, STAGED_QUEUE_TABLE_FILE, type MessageStoreOptions } from '../../store/message-store.js';
import { decodeMessage } from '../../common/message.js';
import { draft } from '../helpers/messages.js';
import { tempDir, removeDir } from '../helpers/tmp.js';

const dirs: string[] = [];
const stores: MessageStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close().catch(() => s.abandon());
  for (const d of dirs.splice(0)) removeDir(d);
});

function openStore(dir?: string, extra: Partial<MessageStoreOptions> = {}): MessageStore {
  const d = dir ?? tempDir('mstore-install-');
  if (!dir) dirs.push(d);
  const s = MessageStore.open({ dir: d, segmentBytes: 64 * 1024, consumeQueueEntriesPerFile: 50, preallocateAhead: false, log: () => undefined, ...extra });
  stores.push(s);
  return s;
}

function put(s: MessageStore, topic: string, queueId: number, body: string | Buffer): number {
  const r = s.appendMessages(1, [draft(topic, queueId, typeof body === 'string' ? Buffer.from(body) : body)]);
  s.setCommitIndex(r.index);
  return r.messages[0]!.queueOffset;
}

/**
 * A leader whose 'idle' queue got 5 messages long ago, all deleted by retention since, and whose 'busy' queue
 * is in the retained segments.
 */
function leaderWithAgedOutQueue(): MessageStore {
  const leader = openStore(undefined, { retentionMs: 1 });
  for (let i = 0; i < 5; i++) put(leader, 'idle', 0, `idle-${i}`);
  const body = Buffer.alloc(4000, 1);
  for (let i = 0; i < 80; i++) put(leader, 'busy', i % 2, body);
  leader.dispatchAll();
  assert.ok(leader.runRetention(Date.now() + 60_000) > 0, 'retention deleted segments');
  assert.ok(leader.commitLog.firstIndex > 5, 'the idle queue has no message left in the log');
  assert.equal(leader.getMaxOffset('idle', 0), 5);
  return leader;
}

/** What the leader sends, staged the way the follower's receiver stores it. */
function stageInstall(leader: MessageStore): { dir: string; base: ReturnType<MessageStore['commitLog']['base']> } {
  const dir = tempDir('staged-');
  dirs.push(dir);
  fs.mkdirSync(path.join(dir, STAGED_LOG_DIR));
  const segments = leader.segmentsUpTo(leader.commitLog.commitIndex);
  try {
    for (const { file, length } of segments) fs.writeFileSync(path.join(dir, STAGED_LOG_DIR, String(file.baseOffset).padStart(20, '0')), file.buffer.subarray(0, length));
  } finally {
    for (const seg of segments) seg.file.release();
  }
  fs.writeFileSync(path.join(dir, STAGED_QUEUE_TABLE_FILE), JSON.stringify(leader.queueOffsetTable()));
  return { dir, base: leader.commitLog.base() };
}

test('a queue whose messages all lie before the installed log keeps its offsets, also across restarts and further installs', async () => {
  const leader = leaderWithAgedOutQueue();
  const { dir, base } = stageInstall(leader);
  const followerDir = tempDir('follower-');
  dirs.push(followerDir);
  let follower = openStore(followerDir);
  put(follower, 'idle', 0, 'old history, replaced by the install');
  follower.installSegments(dir, base);
  assert.equal(follower.commitLog.lastIndex, leader.commitLog.lastIndex);
  // Before dispatching catches up a new leader must already continue the queue.
  assert.equal(follower.appendMessages(2, [draft('idle', 0, Buffer.from('next'))]).messages[0]!.queueOffset, 5);
  follower.truncateFrom(follower.commitLog.lastIndex); // undo that write: it was a probe
  follower.dispatchAll();
  assert.equal(follower.getMaxOffset('idle', 0), 5);
  assert.equal(follower.getMinOffset('idle', 0), 5);
  assert.equal(follower.getMaxOffset('busy', 1), leader.getMaxOffset('busy', 1));
  assert.equal(follower.getMinOffset('busy', 1), leader.getMinOffset('busy', 1));
  const pulled = follower.getMessages('idle', 0, 0, 10);
  assert.equal(pulled.status, GetMessageStatus.OFFSET_TOO_SMALL);
  assert.equal(pulled.nextBeginOffset, 5);
  assert.equal(follower.getMessages('idle', 0, 5, 10).status, GetMessageStatus.OFFSET_OVERFLOW_ONE);
  assert.equal(follower.searchOffsetByTimestamp('idle', 0, Date.now()), 5);

  await follower.close();
  stores.splice(stores.indexOf(follower), 1);
  follower = openStore(followerDir);
  follower.dispatchAll();
  assert.equal(follower.getMaxOffset('idle', 0), 5, 'the floor survives a restart');
  assert.equal(put(follower, 'idle', 0, 'idle-5'), 5, 'the queue continues where the old leader stopped');
  follower.dispatchAll();
  const got = follower.getMessages('idle', 0, 5, 10);
  assert.equal(got.status, GetMessageStatus.FOUND);
  assert.equal(decodeMessage(got.messages[0]!).body.toString(), 'idle-5');
  got.release();
  assert.equal(follower.getMinOffset('idle', 0), 5);

  // A store that received floors passes them on in its own installs.
  const table = follower.queueOffsetTable();
  assert.deepEqual(table.queues.find(([t, q]) => t === 'idle' && q === 0), ['idle', 0, 6]);
});

test('the file part of an install finishes after a crash at any point, and can be repeated', () => {
  const leader = leaderWithAgedOutQueue();
  const lastIndex = leader.commitLog.lastIndex;
  for (const crashAfterFirstRename of [true, false]) {
    const { dir, base } = stageInstall(leader);
    const storeDir = tempDir('follower-');
    dirs.push(storeDir);
    const old = openStore(storeDir);
    for (let i = 0; i < 3; i++) put(old, 'idle', 0, `stale-${i}`);
    old.dispatchAll();
    old.abandon();
    stores.splice(stores.indexOf(old), 1);
    if (crashAfterFirstRename) {
      // the old log moved aside, the staged one not yet in place: the worst moment of the swap
      fs.renameSync(path.join(storeDir, 'commitlog'), path.join(storeDir, 'commitlog.old'));
    } else {
      MessageStore.completeInstall(storeDir, dir, base); // all done, but the caller crashed before recording it
    }
    MessageStore.completeInstall(storeDir, dir, base);
    assert.equal(fs.existsSync(path.join(storeDir, 'commitlog.old')), false);
    const s = openStore(storeDir);
    s.setCommitIndex(s.commitLog.lastIndex); // what the Raft node does: the install's index is committed
    s.dispatchAll();
    assert.equal(s.commitLog.lastIndex, lastIndex);
    assert.equal(s.commitLog.firstIndex, base.baseIndex + 1);
    assert.equal(s.getMaxOffset('idle', 0), 5);
    assert.equal(s.getMaxOffset('busy', 0), leader.getMaxOffset('busy', 0));
  }
});

test('a checkpoint started before an install is not written after it', async () => {
  const leader = leaderWithAgedOutQueue();
  const { dir, base } = stageInstall(leader);
  const followerDir = tempDir('follower-');
  dirs.push(followerDir);
  const follower = openStore(followerDir);
  // its old dispatch point lies inside the installed log, where a stale checkpoint would skip entries
  while (follower.commitLog.lastIndex < base.baseIndex + 3) put(follower, 'x', 0, 'old');
  follower.dispatchAll();
  const checkpoint = follower.writeCheckpoint(); // captures the old dispatch point, then awaits flushes
  follower.installSegments(dir, base);
  await checkpoint;
  assert.equal(fs.existsSync(path.join(followerDir, 'checkpoint.json')), false, 'the stale checkpoint was dropped');
  follower.abandon();
  stores.splice(stores.indexOf(follower), 1);
  const reopened = openStore(followerDir);
  reopened.setCommitIndex(reopened.commitLog.lastIndex);
  reopened.dispatchAll();
  for (const q of [0, 1]) {
    assert.equal(reopened.getMinOffset('busy', q), leader.getMinOffset('busy', q), 'the installed log was dispatched from its base');
    assert.equal(reopened.getMaxOffset('busy', q), leader.getMaxOffset('busy', q));
  }
});
