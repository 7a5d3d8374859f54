// Transactional messages (RocketMQ's design, rocketmq-protocol.md section 7):
//  - a send with TRAN_MSG=true stores a half message in RMQ_SYS_TRANS_HALF_TOPIC (queue 0), its real topic and
//    queue kept as properties; consumers never see it;
//  - END_TRANSACTION commit writes ONE entry holding the real message (fresh offsets, PREPARED_TRANSACTION_OFFSET
//    = the half's commit-log offset) and an op message in RMQ_SYS_TRANS_OP_HALF_TOPIC; rollback writes an entry
//    with the op only. Ops resolve the half when applied (transaction-state.ts), on every node, so a decision is
//    made exactly once and survives failover; a repeated END_TRANSACTION is answered from that state;
//  - the leader's check service asks a live producer of the group (CHECK_TRANSACTION_STATE) about half messages
//    older than the timeout, at most checkMax times, then parks them in TRANS_CHECK_MAX_TIME_TOPIC. A check counts
//    even when no producer of the group is connected (as in RocketMQ), so a group that is gone for good cannot
//    keep a half message, and everything resolved after it, pending forever.
import { RequestCode, ResponseCode, createRequest } from '../remoting/index.js';
import { decodeMessage, draftLength, MessageDecodeError, parseHost, PropertiesTooLongError, resetTransactionType, SysFlag, writeMessage, type MessageDraft, type MessageExt } from '../common/message.js';
import { encodeProperties, findProperty, Prop } from '../common/properties.js';
import { SystemTopic } from '../common/topic.js';
import { uniqueIds, createOffsetMessageId } from '../common/message-id.js';
import { viewOf } from '../common/bytes.js';
import { PROPERTIES_BYTES_MAX } from '../common/limits.js';
import { EntryType, RECORD_HEADER_BYTES } from '../store/record.js';
import type { ConsumeQueue, CqEntry } from '../store/consume-queue.js';
import type { PendingTransaction } from './processors/txn-list.js';
import type { BrokerContext } from './context.js';
import { encodeStateEntry, type StateOp } from './replicated-state.js';
import { TxnDecision } from './transaction-state.js';
import { withProperties, withoutProperties } from './send-service.js';
import { TXN_LIST_SCAN_OFFSETS_MAX, TXN_PARKED_PER_ROUND_MAX, TXN_SCAN_OFFSETS_PER_ROUND_MAX } from './limits.js';

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

/** What one check round decided, before anything is written. */
interface RoundPlan {
  checked: Array<{ o: number; checks: number; next: number }>;
  /** Entries to write, in order: parked copies with their PARKED ops. */
  parkEntries: MessageDraft[][];
  parkedOffsets: number[];
  undecodable: number[];
}

export class TransactionService {
  /** Half offsets whose decision (or parking) is being written: an END_TRANSACTION waits for it. */
  private readonly inFlight = new Map<number, Promise<unknown>>();
  private checkTimer: NodeJS.Timeout | null = null;
  private checking = false;
  /** Leader-local: the half offset the next check round starts at (0: the watermark). */
  private scanFrom = 0;
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
    let half: MessageExt;
    try {
      half = decodeMessage(Buffer.from(stored), 0, { inflate: false });
    } catch (err) {
      if (err instanceof MessageDecodeError) throw new TransactionError(`the message at commit-log offset ${req.commitLogOffset} does not decode: ${err.message}`, 1);
      throw err;
    }
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
      const real = realDraft(ctx, half);
      try {
        draftLength(real);
      } catch (err) {
        if (err instanceof PropertiesTooLongError) throw new TransactionError(`cannot commit half message ${half.queueOffset}: ${err.message}`, ResponseCode.MESSAGE_ILLEGAL);
        throw err;
      }
      drafts.push(real);
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

  /**
   * One round: on the leader, ask producers about pending half messages that are due; park exhausted ones. A round
   * looks at TXN_SCAN_OFFSETS_PER_ROUND_MAX offsets at most, resolved ones included, and the next round resumes
   * where it stopped, so a long run of resolved offsets above a pending one costs bounded work per round.
   */
  async checkRound(now = this.ctx.clock()): Promise<void> {
    const ctx = this.ctx;
    if (this.checking || !ctx.raft.isReadyLeader) return;
    this.checking = true;
    try {
      const cq = ctx.store.consumeQueues.find(SystemTopic.TRANS_HALF, 0);
      if (!cq) return;
      // Through the log, so followers (and the next leader) forget the deleted offsets too.
      if (cq.minOffset > ctx.state.txn.watermark) await this.writeState([{ t: 'txnSkip', to: cq.minOffset }]);
      const plan = this.planRound(cq, now);
      // Marked in flight before anything is awaited: an END_TRANSACTION for one of them waits for the parking and
      // then finds it parked, instead of also committing it.
      const parking = plan.parkEntries.length > 0 ? this.writeParked(plan.parkEntries, plan.parkedOffsets.length) : null;
      if (parking) for (const o of plan.parkedOffsets) this.inFlight.set(o, parking);
      try {
        const writes: Array<Promise<unknown>> = [];
        if (plan.checked.length > 0) writes.push(this.writeState([{ t: 'txnChecks', items: plan.checked }]));
        if (plan.undecodable.length > 0) writes.push(this.writeOps(plan.undecodable.map((o) => opDraft(ctx, o, TxnDecision.ROLLBACK))));
        if (parking) writes.push(parking);
        for (const r of await Promise.allSettled(writes)) if (r.status === 'rejected') ctx.log(`transaction check round: a write failed: ${(r.reason as Error).message}`);
      } finally {
        if (parking) for (const o of plan.parkedOffsets) if (this.inFlight.get(o) === parking) this.inFlight.delete(o);
      }
    } catch (err) {
      ctx.log(`transaction check round failed: ${(err as Error).message}`);
    } finally {
      this.checking = false;
    }
  }

  /** The synchronous part of a round: what to check, park and roll back (checks are sent on the way). */
  private planRound(cq: ConsumeQueue, now: number): RoundPlan {
    const ctx = this.ctx;
    const txn = ctx.state.txn;
    const plan: RoundPlan = { checked: [], parkEntries: [], parkedOffsets: [], undecodable: [] };
    const entry: CqEntry = { physicalOffset: 0, size: 0, tagsCode: 0 };
    const max = cq.maxOffset;
    const recordPayloadMax = ctx.store.commitLog.recordBytesMax - RECORD_HEADER_BYTES;
    const batch: MessageDraft[] = [];
    let batchBytes = 0;
    let offset = this.scanFrom > txn.watermark && this.scanFrom < max ? this.scanFrom : txn.watermark;
    // Where the next round starts: here again if this one stops at a limit, else from the watermark.
    let resume = 0;
    for (let scanned = 0; offset < max; offset++, scanned++) {
      if (scanned >= TXN_SCAN_OFFSETS_PER_ROUND_MAX || plan.checked.length >= TXN_CHECKS_PER_ROUND_MAX || plan.parkedOffsets.length >= TXN_PARKED_PER_ROUND_MAX) {
        resume = offset;
        break;
      }
      if (txn.isResolved(offset) || this.inFlight.has(offset) || !cq.read(offset, entry)) continue;
      const stored = ctx.store.viewMessage(entry.physicalOffset);
      if (!stored) continue;
      let half: MessageExt;
      try {
        half = decodeMessage(Buffer.from(stored), 0, { inflate: false });
      } catch (err) {
        // It can be neither checked nor committed: resolve it (through the log) so it is not met again.
        ctx.log(`half message ${offset} (commit-log offset ${entry.physicalOffset}) does not decode; rolling it back: ${(err as Error).message}`);
        plan.undecodable.push(offset);
        continue;
      }
      const age = now - half.storeTimestamp;
      if (age < ctx.config.transactionTimeoutMs) break; // later half messages are younger still
      // Immunity is per message: later ones may well be due, so look on (the watermark stays below this one).
      const immunityS = Number(half.properties[Prop.CHECK_IMMUNITY_TIME_IN_SECONDS] ?? 0);
      if (Number.isFinite(immunityS) && age < immunityS * 1000) continue;
      const record = txn.checkRecord(offset);
      if (record && record.nextCheckAt > now) continue;
      const checks = record?.checks ?? 0;
      if (checks < ctx.config.transactionCheckMax) {
        this.sendCheck(half); // counted whether or not a producer could be asked (see the top of the file)
        plan.checked.push({ o: offset, checks: checks + 1, next: now + ctx.config.transactionCheckIntervalMs });
        continue;
      }
      const copy = this.parkedDraft(half);
      const op = opDraft(ctx, offset, TxnDecision.PARKED);
      const copyBytes = draftLength(copy);
      const pairBytes = copyBytes + draftLength(op);
      if (pairBytes <= recordPayloadMax) {
        if (batch.length > 0 && batchBytes + pairBytes > recordPayloadMax) {
          resume = offset;
          break;
        }
        batch.push(copy, op);
        batchBytes += pairBytes;
      } else {
        // Only with small segments: the copy and its op cannot share an entry. Copy first, then the op; a crash
        // in between at worst parks a second copy.
        if (copyBytes <= recordPayloadMax) plan.parkEntries.push([copy]);
        else ctx.log(`half message ${offset} is too large to copy into ${SystemTopic.TRANS_CHECK_MAX_TIME}; it is discarded`);
        plan.parkEntries.push([op]);
      }
      plan.parkedOffsets.push(offset);
    }
    if (batch.length > 0) plan.parkEntries.unshift(batch);
    this.scanFrom = resume;
    return plan;
  }

  private async writeState(ops: StateOp[]): Promise<void> {
    const r = await this.ctx.raft.proposeEntry(EntryType.STATE, encodeStateEntry(ops));
    await this.ctx.raft.waitApplied(r.index);
  }

  private async writeOps(drafts: MessageDraft[]): Promise<void> {
    const r = await this.ctx.raft.proposeMessages(drafts);
    await this.ctx.raft.waitApplied(r.index);
  }

  /** Writes the parking entries in order; resolves once the last is applied here. */
  private async writeParked(entries: MessageDraft[][], count: number): Promise<void> {
    const ctx = this.ctx;
    await ctx.topics.ensure(SystemTopic.TRANS_CHECK_MAX_TIME, 1);
    for (const drafts of entries) await this.writeOps(drafts);
    ctx.log(`parked ${count} half message(s) in ${SystemTopic.TRANS_CHECK_MAX_TIME} after ${ctx.config.transactionCheckMax} unanswered checks`);
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
    const parked: MessageDraft = { ...d, topicBytes: PARKED_TOPIC_BYTES, sysFlag: half.sysFlag, properties: withProperties(encodeProperties(half.properties), { [Prop.TRANSACTION_CHECK_TIMES]: String(this.ctx.config.transactionCheckMax) }) };
    if (Buffer.byteLength(parked.properties) <= PROPERTIES_BYTES_MAX) return parked;
    // No room for the check count: park it with the half's properties as they were stored (they fit).
    return { ...parked, properties: encodeProperties(half.properties) };
  }

  /** Pending half messages of a producer group (or all), oldest first, for `ledgermq txn list`. */
  pending(group: string | undefined, now = this.ctx.clock()): PendingTransaction[] {
    const ctx = this.ctx;
    const cq = ctx.store.consumeQueues.find(SystemTopic.TRANS_HALF, 0);
    if (!cq) return [];
    const out = [];
    const entry: CqEntry = { physicalOffset: 0, size: 0, tagsCode: 0 };
    const from = Math.max(ctx.state.txn.watermark, cq.minOffset);
    const to = Math.min(cq.maxOffset, from + TXN_LIST_SCAN_OFFSETS_MAX);
    for (let offset = from; offset < to && out.length < TXN_LIST_MAX; offset++) {
      if (ctx.state.txn.isResolved(offset) || !cq.read(offset, entry)) continue;
      const stored = ctx.store.viewMessage(entry.physicalOffset);
      if (!stored) continue;
      let half: MessageExt;
      try {
        half = decodeMessage(Buffer.from(stored), 0, { inflate: false, verifyCrc: false });
      } catch {
        continue; // the check service rolls it back
      }
      const pg = half.properties[Prop.PRODUCER_GROUP] ?? '';
      if (group && pg !== group) continue;
      const record = ctx.state.txn.checkRecord(offset);
      out.push({ halfOffset: offset, msgId: half.msgId, topic: half.properties[Prop.REAL_TOPIC] ?? '', producerGroup: pg, ageMs: now - half.storeTimestamp, checks: record?.checks ?? 0, nextCheckAt: record?.nextCheckAt ?? null });
    }
    return out;
  }
}

export { HALF_TOPIC_BYTES };
