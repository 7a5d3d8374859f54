// Delayed messages (RocketMQ's ScheduleMessageService): a message with DELAY level n is stored in queue n-1 of
// SCHEDULE_TOPIC_XXXX with its real topic and queue as properties and its delivery time as the consume-queue tag
// code. On the leader, this service re-puts due messages into their real topics. Each re-put entry also carries
// an op message (RMQ_SYS_SCHEDULE_PROGRESS) with the level's new progress, so delivery and progress are one
// atomic log entry: applied on every node, a new leader resumes exactly after the last delivery.
import { decodeMessage, draftLength, parseHost, PropertiesTooLongError, type MessageDraft } from '../common/message.js';
import { encodeProperties, findProperty, Prop } from '../common/properties.js';
import { SystemTopic } from '../common/topic.js';
import { uniqueIds } from '../common/message-id.js';
import type { CqEntry } from '../store/consume-queue.js';
import { RECORD_HEADER_BYTES } from '../store/record.js';
import type { BrokerContext } from './context.js';
import { withoutProperties } from './send-service.js';
import { SCHEDULE_DELIVERIES_PER_SCAN_MAX, SCHEDULE_SCAN_INTERVAL_MS } from './limits.js';

/** More than a progress op message takes (fixed fields, topic, "level:offset" body, a UNIQ_KEY). */
const PROGRESS_DRAFT_BYTES_MAX = 512;
const PROGRESS_TOPIC_BYTES = Buffer.from(SystemTopic.SCHEDULE_PROGRESS);

/** Consume-queue tag code of a scheduled message: when it is due. */
export function scheduleTagsCode(delayLevelsMs: number[], properties: string, storeTimestamp: number): number {
  const level = Number(findProperty(properties, Prop.DELAY_TIME_LEVEL) ?? 1);
  return storeTimestamp + (delayLevelsMs[Math.min(Math.max(level, 1), delayLevelsMs.length) - 1] ?? 0);
}

export function parseProgressBody(body: Buffer): { level: number; next: number } | null {
  const m = /^(\d+):(\d+)$/.exec(body.toString('latin1'));
  return m ? { level: Number(m[1]), next: Number(m[2]) } : null;
}

export class ScheduleService {
  private timer: NodeJS.Timeout | null = null;
  /** Levels with a delivery being written; cleared once it is applied here, so the progress it carries is seen. */
  private readonly inFlight = new Set<number>();
  delivered = 0;

  constructor(private readonly ctx: BrokerContext) {}

  start(): void {
    this.timer = setInterval(() => this.scan(), SCHEDULE_SCAN_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Never throws: it runs from a timer, where an exception would end the process (on every leader in turn). */
  scan(now = this.ctx.clock()): void {
    if (!this.ctx.raft.isReadyLeader) return;
    for (let level = 1; level <= this.ctx.delayLevelsMs.length; level++) {
      if (this.inFlight.has(level)) continue;
      try {
        this.deliverLevel(level, now);
      } catch (err) {
        this.ctx.log(`delayed delivery of level ${level} failed, retrying: ${(err as Error).message}`);
      }
    }
  }

  private deliverLevel(level: number, now: number): void {
    const ctx = this.ctx;
    const cq = ctx.store.consumeQueues.find(SystemTopic.SCHEDULE, level - 1);
    if (!cq) return;
    const progress = ctx.state.delayProgress.get(level) ?? 0;
    let offset = Math.max(progress, cq.minOffset);
    const max = cq.maxOffset;
    const drafts: MessageDraft[] = [];
    const recordPayloadMax = ctx.store.commitLog.recordBytesMax - RECORD_HEADER_BYTES;
    // Room for the messages in one record, next to the progress op.
    const bytesMax = recordPayloadMax - PROGRESS_DRAFT_BYTES_MAX;
    let bytes = 0;
    const entry: CqEntry = { physicalOffset: 0, size: 0, tagsCode: 0 };
    while (offset < max && drafts.length < SCHEDULE_DELIVERIES_PER_SCAN_MAX) {
      if (!cq.read(offset, entry)) {
        offset++;
        continue;
      }
      if (entry.tagsCode > now) break;
      const stored = ctx.store.viewMessage(entry.physicalOffset);
      const draft = stored ? this.realDraft(stored, level, offset) : null; // none: deleted by retention, or dropped
      const size = draft ? draftLength(draft) : 0;
      if (draft && size > recordPayloadMax) {
        // Its real topic's longer name made it outgrow a record (small segments only): it can never be written.
        ctx.log(`scheduled message ${offset} of level ${level} is too large to store again (${size} bytes); dropped`);
      } else if (draft) {
        // The next message waits for the next entry; a single one always goes (alone if need be, see below).
        if (drafts.length > 0 && bytes + size > bytesMax) break;
        drafts.push(draft);
        bytes += size;
      }
      offset++;
    }
    if (offset <= progress) return;
    const progressDraft = this.progressDraft(level, offset);
    // Delivery and progress in one entry, unless one message is that large (small segments only): then the
    // message first and the progress after it, which a crash in between can at worst deliver twice.
    const entries = bytes <= bytesMax ? [[...drafts, progressDraft]] : [drafts, [progressDraft]];
    this.inFlight.add(level);
    const count = drafts.length;
    void (async () => {
      try {
        let index = 0;
        for (const e of entries) index = (await ctx.raft.proposeMessages(e)).index;
        // Until the progress is applied here a scan would read the old progress and deliver these again.
        await ctx.raft.waitApplied(index);
        this.delivered += count;
      } catch (err) {
        ctx.log(`delayed delivery of level ${level} failed, retrying: ${(err as Error).message}`);
      } finally {
        this.inFlight.delete(level);
      }
    })();
  }

  /**
   * The scheduled message as it goes to its real topic: same body, ids and born info; scheduling props removed.
   * Null (logged) for a message that cannot be delivered: it is skipped, the progress moves past it.
   */
  private realDraft(stored: Buffer, level: number, offset: number): MessageDraft | null {
    let m;
    try {
      m = decodeMessage(stored, 0, { inflate: false, verifyCrc: false });
    } catch (err) {
      this.ctx.log(`scheduled message ${offset} of level ${level} does not decode; dropped: ${(err as Error).message}`);
      return null;
    }
    const topic = m.properties[Prop.REAL_TOPIC];
    const queueId = Number(m.properties[Prop.REAL_QUEUE_ID]);
    if (!topic || !Number.isInteger(queueId)) {
      this.ctx.log(`scheduled message ${m.offsetMsgId} has no real topic/queue; dropped`);
      return null;
    }
    const properties = withoutProperties(encodeProperties(m.properties), [Prop.REAL_TOPIC, Prop.REAL_QUEUE_ID, Prop.DELAY_TIME_LEVEL]);
    const draft: MessageDraft = {
      topic,
      topicBytes: Buffer.from(topic),
      queueId,
      flag: m.flag,
      sysFlag: m.sysFlag,
      bornTimestamp: m.bornTimestamp,
      bornHost: parseHost(m.bornHost),
      storeHost: this.ctx.storeHost,
      reconsumeTimes: m.reconsumeTimes,
      preparedTransactionOffset: 0,
      body: m.body,
      bodyCrc: m.bodyCrc,
      properties,
    };
    try {
      draftLength(draft);
    } catch (err) {
      if (!(err instanceof PropertiesTooLongError)) throw err;
      this.ctx.log(`scheduled message ${m.offsetMsgId} cannot be stored again; dropped: ${err.message}`);
      return null;
    }
    return draft;
  }

  private progressDraft(level: number, next: number): MessageDraft {
    return {
      topic: SystemTopic.SCHEDULE_PROGRESS,
      topicBytes: PROGRESS_TOPIC_BYTES,
      queueId: 0,
      flag: 0,
      sysFlag: 0,
      bornTimestamp: this.ctx.clock(),
      bornHost: this.ctx.storeHost,
      storeHost: this.ctx.storeHost,
      reconsumeTimes: 0,
      preparedTransactionOffset: 0,
      body: Buffer.from(`${level}:${next}`),
      properties: encodeProperties({ [Prop.UNIQ_KEY]: uniqueIds.next() }),
    };
  }
}
