// Transactional messages (RocketMQ's design, rocketmq-protocol.md section 7):
//  - a send with TRAN_MSG=true stores a half message in RMQ_SYS_TRANS_HALF_TOPIC (queue 0), its real topic and
//    queue kept as properties; consumers never see it;
//  - END_TRANSACTION commit writes ONE entry holding the real message (fresh offsets, PREPARED_TRANSACTION_OFFSET
//    = the half's commit-log offset) and an op message in RMQ_SYS_TRANS_OP_HALF_TOPIC; rollback writes an entry
//    with the op only. Ops resolve the half when applied (transaction-state.ts), on every node, so a decision is
//    made exactly once and survives failover; a repeated END_TRANSACTION is answered from that state;
//  - the leader's check service asks a live producer of the group (CHECK_TRANSACTION_STATE) about half messages
//    older than the timeout, at most checkMax times, then parks them in TRANS_CHECK_MAX_TIME_TOPIC.
import { RequestCode, createRequest } from '../remoting/index.js';
import { decodeMessage, draftLength, parseHost, resetTransactionType, SysFlag, writeMessage, type MessageDraft, type MessageExt } from '../common/message.js';
import { encodeProperties, findProperty, Prop } from '../common/properties.js';
import { SystemTopic } from '../common/topic.js';
import { uniqueIds, createOffsetMessageId } from '../common/message-id.js';
import { viewOf } from '../common/bytes.js';
import { EntryType } from '../store/record.js';
import type { CqEntry } from '../store/consume-queue.js';
import type { BrokerContext } from './context.js';
import { encodeStateEntry } from './replicated-state.js';
import { TxnDecision } from './transaction-state.js';
import { withProperties, withoutProperties } from './send-service.js';

/** Property of an op message carrying the decision (RocketMQ's op body is the half's queue offset). */
export const TXN_DECISION_PROPERTY = '__TXN_DECISION__';
const OP_TOPIC_BYTES = Buffer.from(SystemTopic.TRANS_OP_HALF);
const HALF_TOPIC_BYTES = Buffer.from(SystemTopic.TRANS_HALF);
const PARKED_TOPIC_BYTES = Buffer.from(SystemTopic.TRANS_CHECK_MAX_TIME);
/** Check requests the service sends per round at most. */
export const TXN_CHECKS_PER_ROUND_MAX = 1000;
/** Half messages a `txn list` returns at most. */
export const TXN_LIST_MAX = 1000;

export class TransactionError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
    this.name = 'TransactionError';
  }
}

/** Rewrites a transactional send into its half message (topic, queue and properties), the real target remembered. */
export function toHalf(realTopic: string, realQueueId: number, properties: string): { topic: string; queueId: number; properties: string } {
  const uniq = findProperty(properties, Prop.UNIQ_KEY);
  const set: Record<string, string> = { [Prop.REAL_TOPIC]: realTopic, [Prop.REAL_QUEUE_ID]: String(realQueueId) };
  if (uniq) set[Prop.TRANSACTION_ID] = uniq;
  return { topic: SystemTopic.TRANS_HALF, queueId: 0, properties: withProperties(properties, set) };
}

export function isHalfSend(properties: string): boolean {
  return findProperty(properties, Prop.TRANSACTION_PREPARED) === 'true';
}

/** The op message that resolves half message `halfQueueOffset`. */
function opDraft(ctx: BrokerContext, halfQueueOffset: number, decision: TxnDecision): MessageDraft {
  return {
    topic: SystemTopic.TRANS_OP_HALF,
    topicBytes: OP_TOPIC_BYTES,
    queueId: 0,
    flag: 0,
    sysFlag: 0,
    bornTimestamp: ctx.clock(),
    bornHost: ctx.storeHost,
    storeHost: ctx.storeHost,
    reconsumeTimes: 0,
    preparedTransactionOffset: 0,
    body: Buffer.from(String(halfQueueOffset)),
    properties: encodeProperties({ [Prop.TAGS]: 'd', [TXN_DECISION_PROPERTY]: decision, [Prop.UNIQ_KEY]: uniqueIds.next() }),
  };
}

/** The committed message: the half's body and identity, in its real topic and queue. */
function realDraft(ctx: BrokerContext, half: MessageExt, topic = half.properties[Prop.REAL_TOPIC]!, queueId = Number(half.properties[Prop.REAL_QUEUE_ID])): MessageDraft {
  return {
    topic,
    topicBytes: Buffer.from(topic),
    queueId,
    flag: half.flag,
    sysFlag: resetTransactionType(half.sysFlag, SysFlag.TRANSACTION_COMMIT_TYPE),
    bornTimestamp: half.bornTimestamp,
    bornHost: parseHost(half.bornHost),
    storeHost: ctx.storeHost,
    reconsumeTimes: half.reconsumeTimes,
    preparedTransactionOffset: half.commitLogOffset,
    body: half.body,
    bodyCrc: half.bodyCrc,
    properties: withoutProperties(encodeProperties(half.properties), [Prop.TRANSACTION_PREPARED, Prop.REAL_TOPIC, Prop.REAL_QUEUE_ID]),
  };
}

/** Applies a committed op message (dispatch hook). */
export function applyOpMessage(ctx: Pick<BrokerContext, 'state'>, message: Buffer): void {
  const m = decodeMessage(message, 0, { verifyCrc: false, inflate: false });
  const offset = Number(m.body.toString('latin1'));
  const decision = m.properties[TXN_DECISION_PROPERTY] as TxnDecision | undefined;
  if (!Number.isSafeInteger(offset) || !decision) return;
  ctx.state.txn.resolve(offset, decision);
}

export interface EndTransactionRequest {
  producerGroup: string;
  tranStateTableOffset: number;
  commitLogOffset: number;
  commitOrRollback: number;
  fromTransactionCheck: boolean;
}

export class TransactionService {
  /** Half offsets whose decision is being written: a second END_TRANSACTION waits for the first. */
  private readonly inFlight = new Map<number, Promise<unknown>>();
  private checkTimer: NodeJS.Timeout | null = null;
  private checking = false;
  checksSent = 0;

  constructor(private readonly ctx: BrokerContext) {}

  /** END_TRANSACTION: returns a remark describing what happened; throws TransactionError for refusals. */
  async end(req: EndTransactionRequest): Promise<string> {
    const ctx = this.ctx;
    if (req.commitOrRollback === SysFlag.TRANSACTION_NOT_TYPE) return 'unknown state: left to the back-check';
    const decision = req.commitOrRollback === SysFlag.TRANSACTION_COMMIT_TYPE ? TxnDecision.COMMIT : req.commitOrRollback === SysFlag.TRANSACTION_ROLLBACK_TYPE ? TxnDecision.ROLLBACK : null;
    if (!decision) throw new TransactionError(`commitOrRollback must be 0, 8 (commit) or 12 (rollback), got ${req.commitOrRollback}`, 29);
    const stored = ctx.store.viewMessage(req.commitLogOffset);
    if (!stored) throw new TransactionError(`no committed half message at commit-log offset ${req.commitLogOffset}`, 1);
    const half = decodeMessage(Buffer.from(stored), 0, { inflate: false });
    if (half.topic !== SystemTopic.TRANS_HALF) throw new TransactionError(`the message at commit-log offset ${req.commitLogOffset} is not a half message (topic ${half.topic})`, 1);
    if (half.queueOffset !== req.tranStateTableOffset) throw new TransactionError(`tranStateTableOffset ${req.tranStateTableOffset} does not match the half message's queue offset ${half.queueOffset}`, 1);
    if (half.properties[Prop.PRODUCER_GROUP] !== req.producerGroup) throw new TransactionError(`The producer group wrong: the half message belongs to ${half.properties[Prop.PRODUCER_GROUP] ?? '(none)'}, not ${req.producerGroup}`, 1);
    for (let pending = this.inFlight.get(half.queueOffset); pending; pending = this.inFlight.get(half.queueOffset)) await pending.catch(() => undefined);
    const already = ctx.state.txn.decision(half.queueOffset);
    if (already === decision) return `already ${decision === TxnDecision.COMMIT ? 'committed' : 'rolled back'}; nothing written`;
    if (already === 'resolved-earlier') return 'already resolved; nothing written';
    if (already) throw new TransactionError(`the transaction of half message ${half.queueOffset} was already ${already === TxnDecision.COMMIT ? 'committed' : already === TxnDecision.PARKED ? 'parked after the maximum number of checks' : 'rolled back'}`, 1);
    const write = this.writeDecision(half, decision);
    this.inFlight.set(half.queueOffset, write);
    try {
      await write;
    } finally {
      this.inFlight.delete(half.queueOffset);
    }
    return decision === TxnDecision.COMMIT ? 'committed' : 'rolled back';
  }

  /** One entry: [real message, op] for a commit, [op] for a rollback; resolves once applied here. */
  private async writeDecision(half: MessageExt, decision: TxnDecision): Promise<void> {
    const ctx = this.ctx;
    const drafts: MessageDraft[] = [];
    if (decision === TxnDecision.COMMIT) {
      const topic = half.properties[Prop.REAL_TOPIC];
      if (!topic || !ctx.topics.get(topic)) await ctx.topics.forSend(topic ?? '', 0);
      drafts.push(realDraft(ctx, half));
    }
    drafts.push(opDraft(ctx, half.queueOffset, decision));
    const r = await ctx.raft.proposeMessages(drafts);
    await ctx.raft.waitApplied(r.index);
  }

  // ---- back-check service ------------------------------------------------------------------------------------

  start(): void {
    const interval = Math.max(100, Math.min(this.ctx.config.transactionCheckIntervalMs, 10_000));
    this.checkTimer = setInterval(() => void this.checkRound(), Math.min(interval, 1000));
    this.checkTimer.unref();
  }

  stop(): void {
    if (this.checkTimer) clearInterval(this.checkTimer);
    this.checkTimer = null;
  }

  /** One round: on the leader, ask producers about pending half messages that are due; park exhausted ones. */
  async checkRound(now = this.ctx.clock()): Promise<void> {
    const ctx = this.ctx;
    if (this.checking || !ctx.raft.isReadyLeader) return;
    this.checking = true;
    try {
      const cq = ctx.store.consumeQueues.find(SystemTopic.TRANS_HALF, 0);
      if (!cq) return;
      const txn = ctx.state.txn;
      if (cq.minOffset > txn.watermark) txn.skipTo(cq.minOffset);
      const entry: CqEntry = { physicalOffset: 0, size: 0, tagsCode: 0 };
      const checked: Array<{ o: number; checks: number; next: number }> = [];
      const parked: MessageDraft[] = [];
      const max = cq.maxOffset;
      for (let offset = txn.watermark; offset < max && checked.length < TXN_CHECKS_PER_ROUND_MAX && parked.length < 64; offset++) {
        if (txn.isResolved(offset) || this.inFlight.has(offset) || !cq.read(offset, entry)) continue;
        const stored = ctx.store.viewMessage(entry.physicalOffset);
        if (!stored) continue;
        const half = decodeMessage(Buffer.from(stored), 0, { inflate: false });
        const immunityS = Number(half.properties[Prop.CHECK_IMMUNITY_TIME_IN_SECONDS] ?? 0);
        const dueAfter = Math.max(ctx.config.transactionTimeoutMs, Number.isFinite(immunityS) ? immunityS * 1000 : 0);
        if (now - half.storeTimestamp < dueAfter) break; // later half messages are younger
        const record = txn.checkRecord(offset);
        if (record && record.nextCheckAt > now) continue;
        const checks = record?.checks ?? 0;
        if (checks >= ctx.config.transactionCheckMax) {
          parked.push(this.parkedDraft(half), opDraft(ctx, offset, TxnDecision.PARKED));
          continue;
        }
        if (this.sendCheck(half)) checked.push({ o: offset, checks: checks + 1, next: now + ctx.config.transactionCheckIntervalMs });
      }
      if (checked.length > 0) {
        const r = await ctx.raft.proposeEntry(EntryType.STATE, encodeStateEntry([{ t: 'txnChecks', items: checked }]));
        await ctx.raft.waitApplied(r.index);
      }
      if (parked.length > 0) {
        await ctx.topics.ensure(SystemTopic.TRANS_CHECK_MAX_TIME, 1);
        const r = await ctx.raft.proposeMessages(parked);
        await ctx.raft.waitApplied(r.index);
        ctx.log(`parked ${parked.length / 2} half message(s) in ${SystemTopic.TRANS_CHECK_MAX_TIME} after ${ctx.config.transactionCheckMax} unanswered checks`);
      }
    } catch (err) {
      ctx.log(`transaction check round failed: ${(err as Error).message}`);
    } finally {
      this.checking = false;
    }
  }

  /** CHECK_TRANSACTION_STATE to one live producer of the group (a different one each time); false if none. */
  private sendCheck(half: MessageExt): boolean {
    const ctx = this.ctx;
    const group = half.properties[Prop.PRODUCER_GROUP];
    if (!group) return false;
    const channel = ctx.producers.channels(group)[0];
    if (!channel) return false;
    const uniq = half.properties[Prop.UNIQ_KEY] ?? '';
    const header = {
      tranStateTableOffset: String(half.queueOffset),
      commitLogOffset: String(half.commitLogOffset),
      msgId: uniq,
      transactionId: half.properties[Prop.TRANSACTION_ID] ?? uniq,
      offsetMsgId: createOffsetMessageId(ctx.storeHost, half.commitLogOffset),
      topic: half.properties[Prop.REAL_TOPIC] ?? '',
      bname: ctx.config.brokerName,
    };
    try {
      channel.connection.invokeOneway(createRequest(RequestCode.CHECK_TRANSACTION_STATE, header, this.checkBody(half)));
      this.checksSent++;
      return true;
    } catch (err) {
      ctx.log(`cannot send a transaction check to ${channel.clientId}: ${(err as Error).message}`);
      return false;
    }
  }

  /** The half message as the producer should see it: its real topic and queue (TOTALSIZE recomputed). */
  private checkBody(half: MessageExt): Buffer {
    const draft: MessageDraft = { ...realDraft(this.ctx, half), sysFlag: half.sysFlag, preparedTransactionOffset: 0, properties: encodeProperties(half.properties), storeHost: half.storeHostV4 };
    const buf = Buffer.alloc(draftLength(draft));
    writeMessage(buf, viewOf(buf), 0, draft, half.queueOffset, half.commitLogOffset, half.storeTimestamp);
    return buf;
  }

  private parkedDraft(half: MessageExt): MessageDraft {
    const d = realDraft(this.ctx, half, SystemTopic.TRANS_CHECK_MAX_TIME, 0);
    return { ...d, topicBytes: PARKED_TOPIC_BYTES, sysFlag: half.sysFlag, properties: withProperties(encodeProperties(half.properties), { [Prop.TRANSACTION_CHECK_TIMES]: String(this.ctx.config.transactionCheckMax) }) };
  }

  /** Pending half messages of a producer group (or all), oldest first, for `ledgermq txn list`. */
  pending(group: string | undefined, now = this.ctx.clock()): Array<{ halfOffset: number; msgId: string; topic: string; producerGroup: string; ageMs: number; checks: number; nextCheckAt: number | null }> {
    const ctx = this.ctx;
    const cq = ctx.store.consumeQueues.find(SystemTopic.TRANS_HALF, 0);
    if (!cq) return [];
    const out = [];
    const entry: CqEntry = { physicalOffset: 0, size: 0, tagsCode: 0 };
    for (let offset = Math.max(ctx.state.txn.watermark, cq.minOffset); offset < cq.maxOffset && out.length < TXN_LIST_MAX; offset++) {
      if (ctx.state.txn.isResolved(offset) || !cq.read(offset, entry)) continue;
      const stored = ctx.store.viewMessage(entry.physicalOffset);
      if (!stored) continue;
      const half = decodeMessage(Buffer.from(stored), 0, { inflate: false, verifyCrc: false });
      const pg = half.properties[Prop.PRODUCER_GROUP] ?? '';
      if (group && pg !== group) continue;
      const record = ctx.state.txn.checkRecord(offset);
      out.push({ halfOffset: offset, msgId: half.msgId, topic: half.properties[Prop.REAL_TOPIC] ?? '', producerGroup: pg, ageMs: now - half.storeTimestamp, checks: record?.checks ?? 0, nextCheckAt: record?.nextCheckAt ?? null });
    }
    return out;
  }
}

export { HALF_TOPIC_BYTES };
