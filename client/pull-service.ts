// One long-polling pull loop per assigned queue. A loop pauses while its process queue is over the
// flow-control thresholds, backs off after errors (never spins), follows the route to the group's
// current master, and stops as soon as its queue is dropped.
import { setTimeout as sleep } from 'node:timers/promises';
import type { MessageExt } from '../common/message.js';
import { Prop } from '../common/properties.js';
import { ResponseCode } from '../remoting/index.js';
import { PullSysFlag, type RawPullResult } from './broker-api.js';
import type { ClientCore } from './client-core.js';
import { ClientError, errorText, leaderHintFromRemark, ROUTE_STALE_CODES } from './errors.js';
import { EMPTY_PULL_BACKOFF_MS, EMPTY_PULL_QUICK_MS, EMPTY_PULLS_QUICK_MAX, PULL_MASTER_CHECK_MS, PULL_ROUTE_POLL_AFTER_ERROR_MS, PULL_TIMEOUT_MARGIN_MS } from './limits.js';
import type { OffsetStore } from './offset-store.js';
import type { ProcessQueue } from './process-queue.js';
import { queueKey } from './route.js';
import { tagMatches, type SubscriptionData } from './subscription.js';

const SUBSCRIPTION_REJECTED: ReadonlySet<number> = new Set<number>([
  ResponseCode.SUBSCRIPTION_NOT_EXIST,
  ResponseCode.SUBSCRIPTION_NOT_LATEST,
  ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST,
]);

export interface PullServiceOptions {
  core: ClientCore;
  group: string;
  clustering: boolean;
  pullBatchSize: number;
  suspendTimeoutMs: number;
  errorBackoffMs: number;
  offsets: OffsetStore;
  subscription(topic: string): SubscriptionData | undefined;
  /** Messages that passed the tag re-check and were added to the process queue. */
  deliver(pq: ProcessQueue, msgs: MessageExt[]): void;
  /** The broker does not know our subscription (yet): send a heartbeat. */
  resubscribe(): void;
}

/** Keeps the messages whose tag the subscription names; the broker only compared hashes. */
export function filterByTag(msgs: readonly MessageExt[], sub: SubscriptionData): MessageExt[] {
  return sub.tagsSet.length === 0 ? [...msgs] : msgs.filter((m) => tagMatches(sub, m.tags));
}

export class PullService {
  private readonly loops = new Map<ProcessQueue, Promise<void>>();
  private readonly abort = new AbortController();

  constructor(private readonly o: PullServiceOptions) {}

  get size(): number {
    return this.loops.size;
  }

  start(pq: ProcessQueue): void {
    if (this.abort.signal.aborted || this.loops.has(pq)) return;
    const loop = this.loop(pq)
      .catch((error) => this.o.core.logger.warn(`consumer ${this.o.group}: pull loop of ${queueKey(pq.queue)} ended: ${errorText(error)}`))
      .finally(() => this.loops.delete(pq));
    this.loops.set(pq, loop);
  }

  /** Ends every loop: sleeping ones at once, pulling ones when their request returns or fails. */
  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.all(this.loops.values());
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  private async pause(ms: number): Promise<void> {
    try {
      await sleep(ms, undefined, { signal: this.abort.signal, ref: false });
    } catch {
      // aborted: the loop condition ends the loop
    }
  }

  private async loop(pq: ProcessQueue): Promise<void> {
    const { core, group } = this.o;
    const queue = pq.queue;
    let quickEmpty = 0;
    while (!pq.dropped && !this.stopped) {
      if (pq.full) {
        // Released by consumption making room, or by drop() (re-balance and shutdown drop first).
        await pq.whenRoom();
        continue;
      }
      const sub = this.o.subscription(queue.topic);
      if (sub === undefined) {
        await this.pause(this.o.errorBackoffMs);
        continue;
      }
      const address = core.routes.masterOf(queue.brokerName);
      if (address === undefined) {
        core.routes.refreshSoon(queue.topic);
        await this.pause(this.o.errorBackoffMs);
        continue;
      }
      const offset = pq.nextPullOffset;
      const commitOffset = this.o.clustering ? (this.o.offsets.readMemory(queue) ?? 0) : 0;
      const started = performance.now();
      let result: RawPullResult;
      try {
        result = await core.broker.pull(
          address,
          {
            consumerGroup: group,
            topic: queue.topic,
            queueId: queue.queueId,
            queueOffset: offset,
            maxMsgNums: this.o.pullBatchSize,
            sysFlag: PullSysFlag.SUSPEND | PullSysFlag.SUBSCRIPTION | (commitOffset > 0 ? PullSysFlag.COMMIT_OFFSET : 0),
            commitOffset,
            suspendTimeoutMillis: this.o.suspendTimeoutMs,
            subscription: sub.subString,
            subVersion: sub.subVersion,
            expressionType: 'TAG',
          },
          this.o.suspendTimeoutMs + PULL_TIMEOUT_MARGIN_MS,
        );
      } catch (error) {
        if (pq.dropped || this.stopped) break;
        if (this.onError(pq, address, error)) await this.pauseUnlessMasterChanges(pq, address);
        else await this.pause(this.o.errorBackoffMs);
        continue;
      }
      if (pq.dropped || this.stopped) break;
      switch (result.status) {
        case 'FOUND': {
          const kept = filterByTag(result.messages, sub);
          for (const m of kept) {
            m.properties[Prop.MIN_OFFSET] = String(result.minOffset);
            m.properties[Prop.MAX_OFFSET] = String(result.maxOffset);
          }
          const added = pq.put(kept, result.nextBeginOffset);
          if (added.length > 0) this.o.deliver(pq, added);
          quickEmpty = 0;
          break;
        }
        case 'NO_NEW_MSG':
        case 'NO_MATCHED_MSG': {
          pq.advanceTo(result.nextBeginOffset);
          // A broker that ignores SUSPEND answers at once; do not turn that into a busy loop.
          const quick = performance.now() - started < EMPTY_PULL_QUICK_MS && result.nextBeginOffset === offset;
          quickEmpty = quick ? quickEmpty + 1 : 0;
          if (quickEmpty >= EMPTY_PULLS_QUICK_MAX) {
            quickEmpty = 0;
            await this.pause(EMPTY_PULL_BACKOFF_MS);
          }
          break;
        }
        case 'OFFSET_ILLEGAL': {
          core.logger.warn(`consumer ${group}: offset ${offset} of ${queueKey(queue)} is illegal (min ${result.minOffset}, max ${result.maxOffset}); continuing at ${result.nextBeginOffset}`);
          pq.advanceTo(result.nextBeginOffset);
          this.o.offsets.update(queue, pq.committableOffset());
          await this.o.offsets.persist(queue).catch((error) => core.logger.debug?.(`consumer ${group}: offset commit after reset failed: ${errorText(error)}`));
          break;
        }
      }
      // Nothing buffered: progress past filtered-out messages is progress too (Java correctTagsOffset).
      if (pq.count === 0 && !pq.dropped) this.o.offsets.update(queue, pq.committableOffset());
    }
  }

  /** Logs a failed pull and reacts to it; true when the broker is gone or no longer leads (the route is stale). */
  private onError(pq: ProcessQueue, address: string, error: unknown): boolean {
    const { core, group } = this.o;
    const topic = pq.queue.topic;
    core.logger.warn(`consumer ${group}: pull of ${queueKey(pq.queue)} from ${address} failed: ${errorText(error)}`);
    if (!(error instanceof ClientError)) return false;
    if (SUBSCRIPTION_REJECTED.has(error.code)) this.o.resubscribe();
    if (!error.isTransport && !ROUTE_STALE_CODES.has(error.code)) return false;
    const hint = leaderHintFromRemark(error.remark);
    if (hint !== null && hint !== address) core.routes.noteLeaderHint(pq.queue.brokerName, hint);
    core.routes.refreshSoon(topic);
    return true;
  }

  /**
   * The error pause after a pull the old master could not serve, cut short once the queue's group has another
   * master: during a failover the name server learns the new leader a moment after the old one is gone, so the
   * route is asked for again every PULL_ROUTE_POLL_AFTER_ERROR_MS meanwhile.
   */
  private async pauseUnlessMasterChanges(pq: ProcessQueue, address: string): Promise<void> {
    const { core } = this.o;
    const { brokerName, topic } = pq.queue;
    const deadline = performance.now() + this.o.errorBackoffMs;
    let nextPoll = performance.now() + PULL_ROUTE_POLL_AFTER_ERROR_MS;
    // Never at once: two nodes naming each other (stale hints in an election) must not make a tight loop.
    await this.pause(PULL_MASTER_CHECK_MS);
    while (!pq.dropped && !this.stopped) {
      const master = core.routes.masterOf(brokerName);
      if (master !== undefined && master !== address) return;
      const now = performance.now();
      if (now >= deadline) return;
      if (now >= nextPoll) {
        nextPoll = now + PULL_ROUTE_POLL_AFTER_ERROR_MS;
        await core.routes.refresh(topic).catch((error) => core.logger.debug?.(`consumer ${this.o.group}: route refresh of ${topic} failed: ${errorText(error)}`));
        continue;
      }
      await this.pause(Math.min(PULL_MASTER_CHECK_MS, deadline - now, nextPoll - now));
    }
  }
}
