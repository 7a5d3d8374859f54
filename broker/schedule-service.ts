// Delayed messages (RocketMQ's ScheduleMessageService): a message with DELAY level n is stored in queue n-1 of
// SCHEDULE_TOPIC_XXXX with its real topic and queue as properties and its delivery time as the consume-queue tag
// code. On the leader, this service re-puts due messages into their real topics. Each re-put entry also carries
// an op message (RMQ_SYS_SCHEDULE_PROGRESS) with the level's new progress, so delivery and progress are one
// atomic log entry: applied on every node, a new leader resumes exactly after the last delivery.
import { decodeMessage, draftLength, parseHost, type MessageDraft } from '../common/message.js';
import { encodeProperties, findProperty, Prop } from '../common/properties.js';
import { SystemTopic } from '../common/topic.js';
import { uniqueIds } from '../common/message-id.js';
import type { CqEntry } from '../store/consume-queue.js';
import type { BrokerContext } from './context.js';
import { withoutProperties } from './send-service.js';
import { SCHEDULE_DELIVERIES_PER_SCAN_MAX, SCHEDULE_SCAN_INTERVAL_MS } from './limits.js';

const DELIVERY_ENTRY_BYTES_MAX = 1024 * 1024;
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

  scan(now = this.ctx.clock()): void {
    if (!this.ctx.raft.isReadyLeader) return;
    for (let level = 1; level <= this.ctx.delayLevelsMs.length; level++) if (!this.inFlight.has(level)) this.deliverLevel(level, now);
  }

  private deliverLevel(level: number, now: number): void {
    const ctx = this.ctx;
    const cq = ctx.store.consumeQueues.find(SystemTopic.SCHEDULE, level - 1);
    if (!cq) return;
    let offset = Math.max(ctx.state.delayProgress.get(level) ?? 0, cq.minOffset);
    const max = cq.maxOffset;
    const drafts: MessageDraft[] = [];
    let bytes = 0;
    const entry: CqEntry = { physicalOffset: 0, size: 0, tagsCode: 0 };
    while (offset < max && drafts.length < SCHEDULE_DELIVERIES_PER_SCAN_MAX && bytes < DELIVERY_ENTRY_BYTES_MAX) {
      if (!cq.read(offset, entry)) {
        offset++;
        continue;
      }
      if (entry.tagsCode > now) break;
      const stored = ctx.store.viewMessage(entry.physicalOffset);
      offset++;
      if (!stored) continue; // deleted by retention: nothing left to deliver
      const draft = this.realDraft(stored);
      if (!draft) continue;
      drafts.push(draft);
      bytes += draftLength(draft);
    }
    const progress = ctx.state.delayProgress.get(level) ?? 0;
    if (offset <= progress) return;
    drafts.push(this.progressDraft(level, offset));
    this.inFlight.add(level);
    const count = drafts.length - 1;
    ctx.raft
      .proposeMessages(drafts)
      .then(
        () => {
          this.delivered += count;
        },
        (err: Error) => ctx.log(`delayed delivery of level ${level} failed, retrying: ${err.message}`),
      )
      .finally(() => this.inFlight.delete(level));
  }

  /** The scheduled message as it goes to its real topic: same body, ids and born info; scheduling props removed. */
  private realDraft(stored: Buffer): MessageDraft | null {
    const m = decodeMessage(stored, 0, { inflate: false, verifyCrc: false });
    const topic = m.properties[Prop.REAL_TOPIC];
    const queueId = Number(m.properties[Prop.REAL_QUEUE_ID]);
    if (!topic || !Number.isInteger(queueId)) {
      this.ctx.log(`scheduled message ${m.offsetMsgId} has no real topic/queue; dropped`);
      return null;
    }
    const properties = withoutProperties(encodeProperties(m.properties), [Prop.REAL_TOPIC, Prop.REAL_QUEUE_ID, Prop.DELAY_TIME_LEVEL]);
    return {
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
