// Delayed delivery on the leader: a level is not delivered again while its last delivery is committed but not yet
// applied here; a batch never outgrows a commit-log record (so one large message cannot block its level); one
// message that does not decode is logged and skipped rather than ending the process from the scan timer.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MessageView } from '../../common/message.js';
import { viewOf } from '../../common/bytes.js';
import { draftLength } from '../../common/message.js';
import { encodeProperties, Prop } from '../../common/properties.js';
import { uniqueIds } from '../../common/message-id.js';
import { SystemTopic } from '../../common/topic.js';
import { RECORD_HEADER_BYTES } from '../../store/record.js';
import { ScheduleService } from '../../broker/schedule-service.js';
import { delayTarget } from '../../broker/send-service.js';
import { messageDraft, queueBodies, queueMessages, settle, startMiniBroker, type MiniBroker } from './mini-broker.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Stores a message for `topic` delayed by level 1 (1 s); returns its commit-log offset. */
async function putDelayed(mini: MiniBroker, topic: string, body: Buffer | string): Promise<number> {
  const draft = await delayedDraft(mini, topic, body);
  return (await mini.raft.proposeMessages([draft])).messages[0]!.physicalOffset;
}

async function delayedDraft(mini: MiniBroker, topic: string, body: Buffer | string): Promise<ReturnType<typeof messageDraft>> {
  const target = await delayTarget(mini.ctx, topic, 0, encodeProperties({ [Prop.UNIQ_KEY]: uniqueIds.next() }), 1);
  return { ...messageDraft(mini, target.topic, target.queueId, body), properties: target.properties };
}

/** Scans (as the timer does) until `done` or `rounds` scans, letting proposals and applies run in between. */
async function scanUntil(mini: MiniBroker, svc: ScheduleService, done: () => boolean, rounds = 10): Promise<void> {
  for (let i = 0; i < rounds && !done(); i++) {
    svc.scan();
    await settle();
  }
}

test('a level is not delivered twice while the progress of its last delivery is not applied yet', async (t) => {
  const mini = startMiniBroker();
  t.after(() => mini.close());
  const svc = new ScheduleService(mini.ctx);
  await putDelayed(mini, 'RealTopic', 'd1');
  await putDelayed(mini, 'RealTopic', 'd2');
  mini.setNow(mini.now() + 1500);

  mini.raft.holdApply = true; // committed at once, applied (progress seen) only later: a lagging dispatcher
  for (let i = 0; i < 5; i++) {
    svc.scan();
    await settle();
  }
  mini.raft.applyHeld();
  await settle();
  mini.raft.holdApply = false;
  svc.scan();
  await settle();

  assert.deepEqual(queueBodies(mini, 'RealTopic'), ['d1', 'd2'], 'each delivered once');
  assert.equal(mini.ctx.state.delayProgress.get(1), 2);
  assert.equal(svc.delivered, 2);
});

test('a batch stays within a commit-log record: 1000 KiB then 4 MiB are delivered, in two entries', async (t) => {
  const mini = startMiniBroker({ segmentBytes: 16 * MiB });
  t.after(() => mini.close());
  const svc = new ScheduleService(mini.ctx);
  await putDelayed(mini, 'BigTopic', Buffer.alloc(1000 * KiB, 1));
  await putDelayed(mini, 'BigTopic', Buffer.alloc(4 * MiB, 2));
  await putDelayed(mini, 'BigTopic', 'small');
  mini.setNow(mini.now() + 1500);

  await scanUntil(mini, svc, () => mini.ctx.state.delayProgress.get(1) === 3);
  const delivered = queueMessages(mini, 'BigTopic');
  assert.deepEqual(delivered.map((m) => m.body.length), [1000 * KiB, 4 * MiB, 5], `log: ${mini.logs.join('; ')}`);
  assert.equal(mini.logs.filter((l) => /failed/.test(l)).length, 0, mini.logs.join('; '));
});

test('one message too large to share a record with the progress op still goes (alone), once', async (t) => {
  const segmentBytes = 64 * KiB;
  const mini = startMiniBroker({ segmentBytes });
  t.after(() => mini.close());
  const svc = new ScheduleService(mini.ctx);
  const recordPayloadMax = mini.store.commitLog.recordBytesMax - RECORD_HEADER_BYTES;
  const topic = `T${'x'.repeat(100)}`;
  // As large as a record allows in the schedule topic: delivered to its real topic, with the progress op, it
  // would no longer fit.
  const empty = await delayedDraft(mini, topic, '');
  await putDelayed(mini, topic, Buffer.alloc(recordPayloadMax - draftLength(empty) - 8, 7));
  await putDelayed(mini, topic, 'after');
  mini.setNow(mini.now() + 1500);

  await scanUntil(mini, svc, () => mini.ctx.state.delayProgress.get(1) === 2);
  assert.deepEqual(queueMessages(mini, topic).map((m) => m.body.length), [recordPayloadMax - draftLength(empty) - 8, 5], mini.logs.join('; '));
});

test('a scheduled message that does not decode is logged and skipped; the scan never throws', async (t) => {
  const mini = startMiniBroker();
  t.after(() => mini.close());
  const svc = new ScheduleService(mini.ctx);
  const bad = await putDelayed(mini, 'RealTopic', 'corrupt');
  await putDelayed(mini, 'RealTopic', 'fine');
  // What an overflowing properties length left behind before the writer refused it: PROPERTIESLEN wrapped negative.
  const viewMessage = mini.store.viewMessage.bind(mini.store);
  mini.store.viewMessage = (offset: number) => {
    const m = viewMessage(offset);
    if (!m || offset !== bad) return m;
    const copy = Buffer.from(m);
    copy.writeInt16BE(-32754, MessageView.propertiesOffset(viewOf(copy), 0));
    return copy;
  };
  mini.setNow(mini.now() + 1500);

  for (let i = 0; i < 3; i++) {
    assert.doesNotThrow(() => svc.scan());
    await settle();
  }
  assert.deepEqual(queueBodies(mini, 'RealTopic'), ['fine']);
  assert.equal(mini.ctx.state.delayProgress.get(1), 2, 'the progress moved past it: it is not retried');
  assert.equal(mini.logs.filter((l) => /does not decode/.test(l)).length, 1, mini.logs.join('; '));
  const proposed = mini.raft.proposedMessages;
  svc.scan();
  await settle();
  assert.equal(mini.raft.proposedMessages, proposed, 'nothing more to do');
  assert.equal(queueBodies(mini, SystemTopic.SCHEDULE).length, 2);
});
