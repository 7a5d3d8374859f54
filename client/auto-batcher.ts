// Automatic batching of plain sends (RocketMQ 5's producer "autoBatch"). Sends of one topic that arrive while the
// event loop is busy are gathered until the end of the current turn (or a size bound) and go out as one
// SEND_BATCH_MESSAGE, stored by the broker as one entry; every caller still gets its own result (its UNIQ_KEY, its
// offset message id, its queue offset). While a few batches of a topic are in flight, new sends accumulate instead
// of queueing behind them, so batches grow with load and a lone send still leaves within the same turn.
import type { ClientError } from './errors.js';
import type { SendResult } from './message-sender.js';
import type { BatchItem } from './send-header.js';
import { batchRecordBytes } from './send-header.js';

export interface AutoBatchOptions {
  /** Messages per batch at most. */
  maxMessages: number;
  /** Encoded batch bytes at most. */
  maxBytes: number;
  /** Batch requests of one topic in flight at once; further sends wait in the open batch. */
  maxInflightPerTopic: number;
}

interface Pending {
  item: BatchItem;
  uniqKey: string;
  resolve: (r: SendResult) => void;
  reject: (e: ClientError | Error) => void;
}

interface TopicLane {
  open: Pending[];
  openBytes: number;
  inflight: number;
  scheduled: boolean;
}

/** Sends a batch of one topic (one item: as an ordinary message); resolves with the broker's combined result. */
export type BatchSend = (topic: string, items: BatchItem[], uniqKeys: string[]) => Promise<SendResult>;

export class AutoBatcher {
  private readonly lanes = new Map<string, TopicLane>();
  batchesSent = 0;
  messagesSent = 0;

  constructor(
    private readonly send: BatchSend,
    private readonly options: AutoBatchOptions,
  ) {}

  add(topic: string, item: BatchItem, uniqKey: string): Promise<SendResult> {
    let lane = this.lanes.get(topic);
    if (!lane) {
      lane = { open: [], openBytes: 0, inflight: 0, scheduled: false };
      this.lanes.set(topic, lane);
    }
    const bytes = batchRecordBytes(item);
    // A message that would overflow the open batch starts a new one.
    if (lane.open.length > 0 && lane.openBytes + bytes > this.options.maxBytes) this.flush(topic, lane, true);
    return new Promise<SendResult>((resolve, reject) => {
      lane.open.push({ item, uniqKey, resolve, reject });
      lane.openBytes += bytes;
      if (lane.open.length >= this.options.maxMessages || lane.openBytes >= this.options.maxBytes) this.flush(topic, lane, true);
      else if (!lane.scheduled) {
        lane.scheduled = true;
        setImmediate(() => {
          lane.scheduled = false;
          this.flush(topic, lane, false);
        });
      }
    });
  }

  /** Sends the open batch, unless (not forced) too many batches of the topic are in flight already. */
  private flush(topic: string, lane: TopicLane, force: boolean): void {
    if (lane.open.length === 0) return;
    if (!force && lane.inflight >= this.options.maxInflightPerTopic) return; // sent when one completes
    const batch = lane.open;
    lane.open = [];
    lane.openBytes = 0;
    lane.inflight++;
    this.batchesSent++;
    this.messagesSent += batch.length;
    this.send(
      topic,
      batch.map((p) => p.item),
      batch.map((p) => p.uniqKey),
    )
      .then(
        (result) => {
          const offsetIds = result.offsetMsgId.split(',');
          batch.forEach((p, i) => p.resolve({ ...result, msgId: p.uniqKey, offsetMsgId: offsetIds[i] ?? offsetIds[0]!, queueOffset: result.queueOffset + i }));
        },
        (err: ClientError | Error) => {
          for (const p of batch) p.reject(err);
        },
      )
      .finally(() => {
        lane.inflight--;
        if (lane.open.length > 0 && !lane.scheduled) this.flush(topic, lane, false);
      });
  }
}
