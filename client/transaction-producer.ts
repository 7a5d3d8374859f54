// TransactionProducer: RocketMQ's transactional messages (rocketmq-protocol.md section 7). A half message is sent
// (TRAN_MSG=true, PGROUP, sysFlag PREPARED), the local transaction runs, and END_TRANSACTION commits or rolls it
// back on the master of the broker group that stored it. Brokers ask about transactions left open (UNKNOWN, a lost
// END, a crashed producer) with CHECK_TRANSACTION_STATE; the checker answers and the answer goes back as
// END_TRANSACTION on the connection the check came in on.
//
// END_TRANSACTION after a local transaction is a request, not Java's oneway: the broker's answer tells the caller
// whether the decision is stored (`ended`), and a not-leader answer or a broken connection is retried on the
// group's current master (the broker resolves each half message once, so a repeated END is harmless). When every
// attempt fails the transaction is left to the back-check, exactly as a lost oneway would be.
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeMessage, SysFlag, type MessageExt } from '../common/message.js';
import { parseOffsetMessageId, uniqueIds } from '../common/message-id.js';
import { Prop } from '../common/properties.js';
import { createResponse, RequestCode, ResponseCode, type RemotingCommand, type RequestContext } from '../remoting/index.js';
import { positiveInteger } from './client-core.js';
import { ClientError, ClientErrorCode, clientClosed, errorText, illegalArgument, leaderHintFromRemark, responseError, transportError } from './errors.js';
import {
  CHECK_CONCURRENCY_DEFAULT,
  CHECK_CONCURRENCY_MAX,
  CHECK_DRAIN_TIMEOUT_MS,
  CHECK_REQUESTS_QUEUED_MAX,
  CHECK_TIMEOUT_MS_DEFAULT,
  END_TRANSACTION_ATTEMPTS,
  END_TRANSACTION_RETRY_BACKOFF_MS,
  HEARTBEAT_INTERVAL_MS_DEFAULT,
  POLL_NAME_SERVER_INTERVAL_MS_DEFAULT,
  REQUEST_TIMEOUT_MS_MAX,
} from './limits.js';
import { encodedProperties, prepareMessage, type Message } from './message-build.js';
import type { OutboundSend, SendResult } from './message-sender.js';
import { Producer, type ProducerOptions } from './producer.js';
import { masterAddress } from './route.js';
import { bodyOf, invoke, request, type ExtValue } from './rpc.js';
import { Semaphore } from './semaphore.js';

/** A transaction's outcome as the application sees it (Java's LocalTransactionState). */
export type TxnState = 'COMMIT' | 'ROLLBACK' | 'UNKNOWN';

/** The message handed to the local transaction: the caller's, plus the ids the checker will see later. */
export interface TransactionalMessage extends Message {
  /** UNIQ_KEY: `MessageExt.msgId` of the same message when the checker is asked about it. */
  msgId: string;
  transactionId: string;
}

/** Java's checkLocalTransaction: called for a half message a broker found unresolved. A throw counts as UNKNOWN. */
export type TransactionChecker = (msg: MessageExt) => TxnState | Promise<TxnState>;

/** Java's executeLocalTransaction. A throw counts as UNKNOWN (the back-check decides). */
export type LocalTransaction<A = unknown> = (msg: TransactionalMessage, arg: A) => TxnState | Promise<TxnState>;

export interface TransactionProducerOptions extends ProducerOptions {
  checker: TransactionChecker;
  /** Check listener calls running at once; further checks wait (up to CHECK_REQUESTS_QUEUED_MAX, then dropped). */
  checkConcurrency?: number;
  /** A check listener running longer counts as UNKNOWN; its slot is freed and its late answer ignored. */
  checkTimeoutMs?: number;
}

export interface TransactionSendResult {
  /** The half message's send result: `queueOffset` is its offset in the half queue, `offsetMsgId` its id. */
  sendResult: SendResult;
  localState: TxnState;
  /** The broker confirmed the commit or rollback (false for UNKNOWN, and when END_TRANSACTION failed). */
  ended: boolean;
  /** Why END_TRANSACTION was not confirmed; the broker's back-check will settle the transaction. */
  endError?: ClientError;
}

const COMMIT_OR_ROLLBACK: Readonly<Record<TxnState, number>> = {
  COMMIT: SysFlag.TRANSACTION_COMMIT_TYPE,
  ROLLBACK: SysFlag.TRANSACTION_ROLLBACK_TYPE,
  UNKNOWN: SysFlag.TRANSACTION_NOT_TYPE,
};

/** Answers after which END_TRANSACTION is tried again on the group's (possibly new) master. */
const END_RETRIABLE_CODES: ReadonlySet<number> = new Set<number>([
  ResponseCode.SERVICE_NOT_AVAILABLE,
  ResponseCode.SYSTEM_BUSY,
  ResponseCode.NOT_LEADER_FOR_QUEUE,
  ResponseCode.GO_AWAY,
]);

const CHECK_TIMED_OUT = Symbol('check timed out');

function isTxnState(value: unknown): value is TxnState {
  return value === 'COMMIT' || value === 'ROLLBACK' || value === 'UNKNOWN';
}

function headerInteger(fields: Record<string, string> | null | undefined, name: string): number | undefined {
  const raw = fields?.[name];
  if (raw === undefined || raw === null || !/^-?\d+$/.test(raw)) return undefined;
  const n = Number(raw);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

export class TransactionProducer extends Producer {
  private readonly checker: TransactionChecker;
  private readonly checkSlots: Semaphore;
  private readonly checkTimeoutMs: number;
  private readonly pollIntervalMs: number;
  private readonly heartbeatIntervalMs: number;
  /** Checks waiting or running, by broker address and commit-log offset: a repeated check of one is skipped. */
  private readonly checksInProgress = new Set<string>();
  /** Masters of every broker group in the cluster, as last announced to. */
  private announced = new Set<string>();
  private checksClosed = false;

  constructor(options: TransactionProducerOptions) {
    super(options);
    if (typeof options.checker !== 'function') throw illegalArgument('a transaction producer needs a checker function (checkLocalTransaction)');
    this.checker = options.checker;
    const concurrency = positiveInteger(options.checkConcurrency, CHECK_CONCURRENCY_DEFAULT, 'checkConcurrency', 1, CHECK_CONCURRENCY_MAX);
    this.checkSlots = new Semaphore(concurrency, CHECK_REQUESTS_QUEUED_MAX);
    this.checkTimeoutMs = positiveInteger(options.checkTimeoutMs, CHECK_TIMEOUT_MS_DEFAULT, 'checkTimeoutMs', 1, REQUEST_TIMEOUT_MS_MAX);
    this.pollIntervalMs = options.pollNameServerIntervalMs ?? POLL_NAME_SERVER_INTERVAL_MS_DEFAULT;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS_DEFAULT;
    this.core.remoting.registerProcessor(RequestCode.CHECK_TRANSACTION_STATE, this.onCheck);
  }

  /**
   * Starts, and announces the producer group to the master of every broker group in the cluster: a broker asks
   * only producers that heartbeat it, and a producer restarted after a crash must be asked before it sends anything.
   */
  override async start(): Promise<void> {
    await super.start();
    await this.announce(true);
    this.core.every(this.pollIntervalMs, () => this.announce(false));
    this.core.every(this.heartbeatIntervalMs, () => this.announce(true));
  }

  /** Stops taking checks, lets running ones answer (bounded), then shuts down like a Producer. */
  override async shutdown(): Promise<void> {
    if (!this.checksClosed) {
      this.checksClosed = true;
      this.checkSlots.close(clientClosed(`transaction producer ${this.group}`));
      const deadline = Date.now() + CHECK_DRAIN_TIMEOUT_MS;
      while (this.checkSlots.inUse > 0 && Date.now() < deadline) await sleep(20, undefined, { ref: false });
    }
    await super.shutdown();
  }

  /**
   * Sends `msg` as a half message, runs `executeLocalTransaction`, and commits or rolls back per its answer.
   * UNKNOWN (or a throw, or a crash before the end) leaves the decision to the broker's back-check. A failed half
   * send throws and the local transaction does not run; a half stored with a status other than SEND_OK is rolled
   * back without running it (as Java does).
   */
  async sendMessageInTransaction<A = unknown>(msg: Message, executeLocalTransaction: LocalTransaction<A>, arg?: A): Promise<TransactionSendResult> {
    this.assertOpen();
    if (typeof executeLocalTransaction !== 'function') throw illegalArgument('executeLocalTransaction must be a function');
    if (typeof msg === 'object' && msg !== null && (msg.delayLevel ?? 0) > 0) throw illegalArgument('invalid message: transactional messages cannot be delayed');
    const prepared = await prepareMessage(msg, { maxMessageBytes: this.maxMessageBytes, compressOverBytes: this.compressOverBytes, uniqKey: () => uniqueIds.next() });
    prepared.properties[Prop.TRANSACTION_PREPARED] = 'true';
    prepared.properties[Prop.PRODUCER_GROUP] = this.group;
    const out: OutboundSend = {
      topic: prepared.topic,
      body: prepared.body,
      sysFlag: prepared.sysFlag | SysFlag.TRANSACTION_PREPARED_TYPE,
      flag: prepared.flag,
      propertiesText: encodedProperties(prepared.properties),
      reconsumeTimes: 0,
      batch: false,
      msgId: prepared.uniqKey,
    };
    return this.withSlot(async () => {
      const sendResult = await this.sender.send(out, { kind: 'round-robin' });
      const transactionId = sendResult.transactionId ?? sendResult.msgId;
      const localState = sendResult.status === 'SEND_OK' ? await this.runLocal(executeLocalTransaction, { ...msg, msgId: sendResult.msgId, transactionId }, arg as A) : 'ROLLBACK';
      const result: TransactionSendResult = { sendResult, localState, ended: false };
      try {
        await this.endTransaction(sendResult, localState, transactionId);
        result.ended = localState !== 'UNKNOWN';
      } catch (error) {
        const endError = error instanceof ClientError ? error : new ClientError(errorText(error), ClientErrorCode.CONNECTION, true, null, null, { cause: error });
        result.endError = endError;
        this.core.logger.warn(`transaction producer ${this.group}: END_TRANSACTION (${localState}) of ${sendResult.msgId} failed, the broker's back-check will settle it: ${endError.message}`);
      }
      return result;
    });
  }

  private async runLocal<A>(execute: LocalTransaction<A>, msg: TransactionalMessage, arg: A): Promise<TxnState> {
    try {
      const state = await execute(msg, arg);
      if (isTxnState(state)) return state;
      this.core.logger.warn(`transaction producer ${this.group}: the local transaction of ${msg.msgId} returned ${String(state)}, not COMMIT/ROLLBACK/UNKNOWN; treated as UNKNOWN`);
    } catch (error) {
      this.core.logger.warn(`transaction producer ${this.group}: the local transaction of ${msg.msgId} threw (treated as UNKNOWN): ${errorText(error)}`);
    }
    return 'UNKNOWN';
  }

  /** END_TRANSACTION to the master of the group that stored the half; UNKNOWN goes oneway (it changes nothing). */
  private async endTransaction(sendResult: SendResult, state: TxnState, transactionId: string): Promise<void> {
    const brokerName = sendResult.queue.brokerName;
    const offsetId = parseOffsetMessageId(sendResult.offsetMsgId);
    if (offsetId === null) {
      throw new ClientError(`cannot end the transaction: the broker's message id ${JSON.stringify(sendResult.offsetMsgId)} is not an offset message id`, ClientErrorCode.MALFORMED_RESPONSE, false);
    }
    const fields: Record<string, ExtValue> = {
      producerGroup: this.group,
      tranStateTableOffset: sendResult.queueOffset,
      commitLogOffset: offsetId.commitLogOffset,
      commitOrRollback: COMMIT_OR_ROLLBACK[state],
      fromTransactionCheck: false,
      msgId: sendResult.msgId,
      transactionId,
      topic: sendResult.queue.topic,
    };
    const topic = sendResult.queue.topic;
    if (state === 'UNKNOWN') {
      const address = this.core.routes.masterOf(brokerName) ?? offsetId.address;
      await this.core.remoting.invokeOneway(address, request(RequestCode.END_TRANSACTION, fields), this.core.requestTimeoutMs).catch((error) => {
        this.core.logger.debug?.(`transaction producer ${this.group}: oneway END_TRANSACTION (UNKNOWN) to ${address} failed: ${errorText(error)}`);
      });
      return;
    }
    let last: ClientError | null = null;
    for (let attempt = 0; attempt < END_TRANSACTION_ATTEMPTS; attempt++) {
      if (attempt > 0) {
        await sleep(END_TRANSACTION_RETRY_BACKOFF_MS * 2 ** (attempt - 1), undefined, { ref: false });
        if (!this.core.running) break;
        await this.core.routes.refresh(topic, true).catch(() => undefined);
      }
      // The route's master (or a leader hint); the id's embedded address only when the route has none.
      const address = this.core.routes.masterOf(brokerName) ?? offsetId.address;
      const command = request(RequestCode.END_TRANSACTION, fields);
      let response: RemotingCommand;
      try {
        response = await invoke(this.core.remoting, address, command, this.core.requestTimeoutMs);
      } catch (error) {
        last = transportError(command.code, address, error);
        if (!last.retriable && last.code !== ClientErrorCode.TIMEOUT) throw last;
        continue;
      }
      if (response.code === ResponseCode.SUCCESS) return;
      const retriable = END_RETRIABLE_CODES.has(response.code);
      last = responseError(command.code, address, response.code, response.remark, retriable);
      if (!retriable) throw last;
      const hint = response.extFields?.['leaderAddr'] ?? leaderHintFromRemark(response.remark);
      if (hint) this.core.routes.noteLeaderHint(brokerName, hint);
    }
    throw last ?? clientClosed(`transaction producer ${this.group}`);
  }

  // ---- back-checks -----------------------------------------------------------------------------------------

  /** CHECK_TRANSACTION_STATE (oneway from a broker): queued behind a bounded pool, answered on the same connection. */
  private readonly onCheck = (req: RemotingCommand, rc: RequestContext): RemotingCommand => {
    const ack = createResponse(req, ResponseCode.SUCCESS);
    if (this.checksClosed || !this.core.running) return ack;
    const tranStateTableOffset = headerInteger(req.extFields, 'tranStateTableOffset');
    const commitLogOffset = headerInteger(req.extFields, 'commitLogOffset');
    if (tranStateTableOffset === undefined || commitLogOffset === undefined) {
      this.core.logger.warn(`transaction producer ${this.group}: ignored a check from ${rc.remoteAddress} without valid tranStateTableOffset/commitLogOffset`);
      return ack;
    }
    const key = `${rc.remoteAddress}#${commitLogOffset}`;
    if (this.checksInProgress.has(key)) return ack; // the first check of it will answer
    this.checksInProgress.add(key);
    void this.answerCheck(req, rc, tranStateTableOffset, commitLogOffset).finally(() => this.checksInProgress.delete(key));
    return ack;
  };

  private async answerCheck(req: RemotingCommand, rc: RequestContext, tranStateTableOffset: number, commitLogOffset: number): Promise<void> {
    try {
      await this.checkSlots.acquire();
    } catch (error) {
      if (!this.checksClosed) this.core.logger.warn(`transaction producer ${this.group}: dropped a check from ${rc.remoteAddress} (the broker will ask again): ${errorText(error)}`);
      return;
    }
    try {
      let msg: MessageExt;
      try {
        msg = decodeMessage(bodyOf(req));
      } catch (error) {
        this.core.logger.warn(`transaction producer ${this.group}: ignored a check from ${rc.remoteAddress} whose message does not decode: ${errorText(error)}`);
        return;
      }
      const group = msg.properties[Prop.PRODUCER_GROUP];
      if (group !== undefined && group !== this.group) {
        this.core.logger.warn(`transaction producer ${this.group}: ignored a check from ${rc.remoteAddress} about a message of producer group ${group}`);
        return;
      }
      const state = await this.askChecker(msg);
      if (!rc.connection.isOpen) return; // that broker is gone; whoever leads now asks again
      const fields: Record<string, ExtValue> = {
        producerGroup: this.group,
        tranStateTableOffset,
        commitLogOffset,
        commitOrRollback: COMMIT_OR_ROLLBACK[state],
        fromTransactionCheck: true,
        msgId: msg.properties[Prop.UNIQ_KEY] ?? req.extFields?.['msgId'] ?? msg.msgId,
        transactionId: req.extFields?.['transactionId'] || msg.properties[Prop.TRANSACTION_ID] || msg.msgId,
        topic: req.extFields?.['topic'] || msg.topic,
      };
      const end = request(RequestCode.END_TRANSACTION, fields);
      if (state === 'UNKNOWN') {
        rc.connection.invokeOneway(end);
        return;
      }
      const response = await rc.connection.invoke(end, this.core.requestTimeoutMs);
      if (response.code !== ResponseCode.SUCCESS) {
        this.core.logger.warn(`transaction producer ${this.group}: ${rc.remoteAddress} refused the checked ${state} of ${msg.msgId}: ${responseError(end.code, rc.remoteAddress, response.code, response.remark, false).message}`);
      }
    } catch (error) {
      if (!this.checksClosed) this.core.logger.warn(`transaction producer ${this.group}: answering a check from ${rc.remoteAddress} failed (the broker will ask again): ${errorText(error)}`);
    } finally {
      this.checkSlots.release();
    }
  }

  private async askChecker(msg: MessageExt): Promise<TxnState> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<typeof CHECK_TIMED_OUT>((resolve) => {
        timer = setTimeout(() => resolve(CHECK_TIMED_OUT), this.checkTimeoutMs);
        timer.unref();
      });
      const answer = await Promise.race([Promise.resolve().then(() => this.checker(msg)), timeout]);
      if (answer === CHECK_TIMED_OUT) {
        this.core.logger.warn(`transaction producer ${this.group}: the checker took more than ${this.checkTimeoutMs} ms for ${msg.msgId}; treated as UNKNOWN`);
        return 'UNKNOWN';
      }
      if (isTxnState(answer)) return answer;
      this.core.logger.warn(`transaction producer ${this.group}: the checker returned ${String(answer)} for ${msg.msgId}, not COMMIT/ROLLBACK/UNKNOWN; treated as UNKNOWN`);
    } catch (error) {
      this.core.logger.warn(`transaction producer ${this.group}: the checker threw for ${msg.msgId} (treated as UNKNOWN): ${errorText(error)}`);
    } finally {
      clearTimeout(timer);
    }
    return 'UNKNOWN';
  }

  // ---- announcing the group ----------------------------------------------------------------------------------

  /** Heartbeats the master of every broker group: new ones only (`all` false) or all of them. Never throws. */
  private async announce(all: boolean): Promise<void> {
    if (!this.core.running) return;
    let masters: Set<string>;
    try {
      const info = await this.core.nameServers.clusterInfo();
      masters = new Set(Object.values(info.brokerAddrTable).flatMap((b) => masterAddress(b) ?? []));
    } catch (error) {
      this.core.logger.debug?.(`transaction producer ${this.group}: cluster info failed: ${errorText(error)}`);
      return;
    }
    const viaRoutes = new Set(this.core.routes.masterAddresses());
    const targets = [...masters].filter((address) => (all ? !viaRoutes.has(address) : !this.announced.has(address)));
    this.announced = masters;
    await Promise.all(targets.map((address) => this.core.heartbeatTo(address)));
  }
}
