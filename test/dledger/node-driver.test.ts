// The Raft driver (dledger/node.ts) against store failures and bad input, with real nodes on loopback: a leader
// that cannot append hands leadership over; a follower with a full disk or a failing write neither crashes nor
// corrupts its Raft state; malformed appends are dropped; uncommitted bytes never leave as a slice of the log;
// SYNC_FLUSH acknowledgements resume after a truncation; nothing grows or hangs after a flush failure or close.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RemotingClient } from '../../remoting/index.js';
import { encodeRaftMessage, type AppendPayload } from '../../dledger/wire.js';
import type { Message } from '../../dledger/core/index.js';
import { StoreError, StoreErrorCode } from '../../store/errors.js';
import { FlushMode } from '../../store/flush-service.js';
import { RECORD_HEADER_BYTES } from '../../store/record.js';
import { TestGroup, waitFor, writeSome, type TestNode } from './node-harness.js';

const TIMEOUT_MS = 60_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Drops every Raft message from or to a node in `blocked` (a partition, both ways). */
function partitionable(group: TestGroup): Set<string> {
  const blocked = new Set<string>();
  for (const n of group.nodes) {
    const transport = n.node.transport;
    const send = transport.send.bind(transport);
    transport.send = (m: Message) => {
      if (blocked.has(m.from) || blocked.has(m.to)) return;
      send(m);
    };
  }
  return blocked;
}

async function sumsAgree(group: TestGroup, leader: TestNode): Promise<void> {
  await group.waitCaughtUp(leader);
  for (const n of group.nodes) assert.equal(n.owner.sum, leader.owner.sum, `${n.id} applied what the leader applied`);
}

test('a leader whose store refuses appends (its no-op, or later writes) hands leadership to another voter', { timeout: TIMEOUT_MS }, async () => {
  const group = await TestGroup.start(['a', 'b', 'c']);
  try {
    const leader = await group.waitForLeader();
    await writeSome(leader, { states: 3 });
    await group.waitCaughtUp(leader);
    // A voter whose disk is full is made leader: it cannot write its no-op.
    const full = group.followers(leader)[0]!;
    full.store.commitLog.refuseAppends(StoreErrorCode.DISK_FULL, 'test: disk full');
    assert.equal(leader.node.transferLeadership(full.id), null);
    await waitFor(() => full.node.core.isLeader, 10_000, `${full.id} to lead`);
    const next = await group.waitForLeader(10_000, [full.id]).catch((err: Error) => {
      for (const n of group.nodes) console.log(`--- ${n.id}\n${n.logs.slice(-30).join('\n')}`);
      throw err;
    });
    assert.ok(full.logs.some((l) => l.includes('cannot write the new leader') && l.includes('test: disk full')));
    await writeSome(next, { states: 3 });
    full.store.commitLog.clearRefusal(StoreErrorCode.DISK_FULL);
    await sumsAgree(group, next);

    // A ready leader whose flushing failed for good (appends refused until restart).
    next.store.commitLog.refuseAppends(StoreErrorCode.IO_ERROR, 'test: flush failed');
    const third = await group.waitForLeader(10_000, [next.id]);
    await writeSome(third, { states: 3 });
    assert.ok(next.logs.some((l) => l.includes('handing leadership to')));
  } finally {
    await group.close();
  }
});

test('a follower that cannot write (full disk, a failing write) drops or rebuilds, never crashes, and catches up', { timeout: TIMEOUT_MS }, async () => {
  const group = await TestGroup.start(['a', 'b', 'c']);
  try {
    const leader = await group.waitForLeader();
    const follower = group.followers(leader)[0]!;
    follower.store.commitLog.refuseAppends(StoreErrorCode.DISK_FULL, 'test: disk full');
    await writeSome(leader, { states: 20, messages: 20 });
    await sleep(300); // heartbeats carry the commit index meanwhile
    assert.ok(follower.node.appendsDropped > 0, 'appends were dropped before the core saw them');
    assert.equal(follower.node.coreRebuilds, 0);
    follower.store.commitLog.clearRefusal(StoreErrorCode.DISK_FULL);
    await sumsAgree(group, leader);

    // A write that fails after the core took the append: the core is rebuilt from the durable state.
    const appendReplicated = follower.store.appendReplicated.bind(follower.store);
    let failures = 1;
    follower.store.appendReplicated = (batch) => {
      if (failures-- > 0) throw new StoreError(StoreErrorCode.IO_ERROR, 'test: write failed');
      return appendReplicated(batch);
    };
    await writeSome(leader, { states: 10, messages: 10 });
    await sumsAgree(group, leader);
    assert.equal(follower.node.coreRebuilds, 1);
    assert.equal(follower.fatal, null);
    assert.ok(follower.logs.some((l) => l.includes('rebuilding the Raft state')));
  } finally {
    await group.close();
  }
});

test('appends with malformed records are dropped before they reach the core or the store', { timeout: TIMEOUT_MS }, async () => {
  const group = await TestGroup.start(['a', 'b', 'c']);
  const client = new RemotingClient({ logger: { warn: () => undefined } });
  try {
    const leader = await group.waitForLeader();
    await writeSome(leader, { states: 2 });
    await group.waitCaughtUp(leader);
    const follower = group.followers(leader)[0]!;
    const log = follower.store.commitLog;
    const term = leader.node.core.term;
    const append = (bytes: Buffer, lastIndex = log.lastIndex + 1): Message =>
      ({
        type: 'append',
        from: leader.id,
        to: follower.id,
        term,
        prevIndex: log.lastIndex,
        prevTerm: log.lastTerm,
        lastIndex,
        commit: leader.node.core.commitIndex,
        runs: [[log.lastIndex + 1, term]],
        confEntries: [],
        payload: { offset: log.writeOffset, bytes } satisfies AppendPayload,
      }) as Message;
    const zeroSize = Buffer.alloc(RECORD_HEADER_BYTES + 8); // a record of size 0 (once an endless loop)
    const wrongIndex = Buffer.alloc(RECORD_HEADER_BYTES + 8);
    wrongIndex.writeInt32BE(wrongIndex.length, 0);
    wrongIndex.writeBigInt64BE(BigInt(log.lastIndex + 7), 12);
    for (const m of [append(zeroSize), append(wrongIndex), append(zeroSize.subarray(0, 10))]) {
      await client.invokeOneway(follower.peers.get(follower.id)!, encodeRaftMessage(m), 2000);
    }
    await waitFor(() => follower.node.appendsDropped >= 3, 5_000, 'the malformed appends to be dropped');
    await writeSome(leader, { states: 5 });
    await sumsAgree(group, leader);
    assert.equal(follower.node.coreRebuilds, 0);
  } finally {
    await client.close();
    await group.close();
  }
});

test('entries above the commit index leave as a copy; committed ones as a slice of the log', { timeout: TIMEOUT_MS }, async () => {
  const group = await TestGroup.start(['a', 'b', 'c']);
  try {
    const leader = await group.waitForLeader();
    const blocked = partitionable(group); // wraps send first: what is captured below may still be dropped
    const sent: Array<{ payload: AppendPayload; lastIndex: number; commit: number }> = [];
    const transport = leader.node.transport;
    const send = transport.send.bind(transport);
    transport.send = (m: Message) => {
      if (m.type === 'append' && m.payload) sent.push({ payload: m.payload as AppendPayload, lastIndex: m.lastIndex, commit: leader.store.commitLog.commitIndex });
      send(m);
    };
    const lagging = group.followers(leader)[0]!;
    blocked.add(lagging.id);
    await writeSome(leader, { states: 10, messages: 10 });
    blocked.delete(lagging.id); // it is sent entries that are committed by now
    await sumsAgree(group, leader);
    const sharesLog = (s: (typeof sent)[number]): boolean => s.payload.bytes.buffer === leader.store.commitLog.locate(s.payload.offset).buffer.buffer;
    const uncommitted = sent.filter((s) => s.lastIndex > s.commit);
    const committed = sent.filter((s) => s.lastIndex <= s.commit);
    assert.ok(uncommitted.length > 0 && committed.length > 0, `both kinds were sent (${uncommitted.length} / ${committed.length})`);
    assert.ok(uncommitted.every((s) => !sharesLog(s)), 'uncommitted bytes are copied');
    assert.ok(committed.every(sharesLog), 'committed bytes go out without a copy');
  } finally {
    await group.close();
  }
});

test('SYNC_FLUSH: after a truncation a node acknowledges again at once, even while an older flush wait hangs', { timeout: TIMEOUT_MS }, async () => {
  const group = await TestGroup.start(['a', 'b', 'c'], { flushMode: FlushMode.SYNC });
  try {
    const old = await group.waitForLeader();
    await writeSome(old, { states: 2 });
    await group.waitCaughtUp(old);
    const blocked = partitionable(group);
    // Waits the old leader starts from now on never end (a flush stuck behind a slow disk, or aimed past the
    // end of a log that shrinks meanwhile).
    let hold = true;
    const waitFlushed = old.store.waitFlushed.bind(old.store);
    old.store.waitFlushed = (offset) => (hold ? new Promise<boolean>(() => undefined) : waitFlushed(offset));
    blocked.add(old.id);
    const lost = Promise.allSettled([writeSome(old, { states: 3, value: 100 })]); // written there, never committed
    const leader = await group.waitForLeader(10_000, [old.id]);
    await writeSome(leader, { states: 3 });
    hold = false;
    blocked.delete(old.id); // the old leader's uncommitted entries are truncated
    await lost;
    const matchOf = (id: string): number => leader.node.status().progress.find((p) => p.id === id)?.match ?? -1;
    await waitFor(() => matchOf(old.id) >= leader.store.commitLog.lastIndex, 3_000, 'the old leader to acknowledge the new entries');
    await sumsAgree(group, leader);
  } finally {
    await group.close();
  }
});

test('after a flush failure answers are dropped, not queued; waiting for an entry to apply ends when the node closes', { timeout: TIMEOUT_MS }, async () => {
  const group = await TestGroup.start(['a', 'b', 'c'], { flushMode: FlushMode.SYNC });
  try {
    const leader = await group.waitForLeader();
    const follower = group.followers(leader)[0]!;
    follower.store.waitFlushed = () => Promise.reject(new StoreError(StoreErrorCode.IO_ERROR, 'test: fsync failed'));
    await writeSome(leader, { states: 20 });
    await writeSome(leader, { states: 20 });
    assert.ok(follower.node.deferredDropped > 0);
    assert.equal((follower.node as unknown as { deferred: unknown[] }).deferred.length, 0);

    const waiting = follower.node.waitApplied(follower.node.appliedIndex + 1_000).then(() => 'resolved', () => 'rejected');
    await follower.crash();
    assert.equal(await Promise.race([waiting, sleep(2_000).then(() => 'still waiting')]), 'rejected');
  } finally {
    await group.close();
  }
});
