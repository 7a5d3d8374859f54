// The dispatcher follows the commit index: for every committed entry, in order, it feeds consume queues and the
// key index (message entries) or hands the entry to the owner (replicated state, membership). Only what it has
// dispatched is visible to readers, so nothing uncommitted is ever served. Every replica runs it on the same
// bytes and therefore builds the same consume queues.
import type { CommitLog, EntryView } from './commit-log.js';
import type { ConsumeQueue, ConsumeQueueTable } from './consume-queue.js';
import type { IndexService } from './index-service.js';
import { indexKey } from './index-service.js';
import { EntryType, RECORD_HEADER_BYTES } from './record.js';
import { MessageView } from '../common/message.js';
import { findProperty, Prop, splitKeys } from '../common/properties.js';
import { tagHashCode } from '../common/tag-hash.js';
import { DISPATCH_BATCH_ENTRIES_MAX } from './limits.js';

export interface DispatchHooks {
  /** A committed entry that is not a message entry (state, membership, no-op). */
  onApply?(entry: EntryView): void;
  /** New messages became visible in a queue; `maxOffset` is its new end. */
  onMessagesArrived?(topic: string, queueId: number, maxOffset: number): void;
  /** The consume-queue tag code of a message; defaults to the hash of its TAGS property. */
  tagsCode?(topic: string, properties: string, storeTimestamp: number): number;
  /** Topics whose messages are also handed to `onSystemMessage` (bookkeeping carried as op messages). */
  systemTopics?: ReadonlySet<string>;
  /** A committed message of one of `systemTopics` (entry index, the message's bytes as a slice of the log). */
  onSystemMessage?(index: number, topic: string, message: Buffer, view: DataView, position: number): void;
  /** Dispatching reached `index` (after its entry was handled). */
  onDispatched?(index: number): void;
}

export class Dispatcher {
  /** Last entry dispatched. */
  dispatchedIndex: number;
  /** Offset of the next record to dispatch. */
  nextOffset: number;
  private readonly touched = new Set<ConsumeQueue>();

  constructor(
    private readonly log: CommitLog,
    private readonly queues: ConsumeQueueTable,
    private readonly index: IndexService | null,
    private readonly hooks: DispatchHooks,
    dispatchedIndex: number,
    nextOffset: number,
  ) {
    this.dispatchedIndex = dispatchedIndex;
    this.nextOffset = nextOffset;
  }

  get lag(): number {
    return this.log.commitIndex - this.dispatchedIndex;
  }

  /** Repositions after the log was rebased (segment install). */
  reset(dispatchedIndex: number, nextOffset: number): void {
    this.dispatchedIndex = dispatchedIndex;
    this.nextOffset = nextOffset;
  }

  /** Dispatches up to `maxEntries` committed entries; returns how many it dispatched. */
  dispatch(maxEntries = DISPATCH_BATCH_ENTRIES_MAX): number {
    const commit = this.log.commitIndex;
    let done = 0;
    while (this.dispatchedIndex < commit && done < maxEntries) {
      const entry = this.log.readNextAt(this.nextOffset);
      if (!entry) throw new Error(`dispatcher: entry ${this.dispatchedIndex + 1} missing at offset ${this.nextOffset} (commit ${commit})`);
      if (entry.index !== this.dispatchedIndex + 1) throw new Error(`dispatcher: expected entry ${this.dispatchedIndex + 1} at ${this.nextOffset}, found ${entry.index}`);
      if (entry.type === EntryType.MESSAGES) this.dispatchMessages(entry);
      else this.hooks.onApply?.(entry);
      this.dispatchedIndex = entry.index;
      this.nextOffset = entry.offset + entry.size;
      done++;
    }
    if (this.touched.size > 0) this.notifyArrivals();
    if (done > 0) this.hooks.onDispatched?.(this.dispatchedIndex);
    return done;
  }

  private dispatchMessages(entry: EntryView): void {
    const { buffer: buf, view } = entry;
    const end = entry.position + entry.size;
    const indexedUpTo = this.index ? this.index.indexedPhyOffset : Infinity;
    for (let pos = entry.position + RECORD_HEADER_BYTES; pos < end; ) {
      const size = MessageView.totalSize(view, pos);
      const topic = this.topicAt(buf, view, pos);
      const queueId = MessageView.queueId(view, pos);
      const queueOffset = MessageView.queueOffset(view, pos);
      const phyOffset = MessageView.physicalOffset(view, pos);
      const props = MessageView.properties(buf, view, pos);
      const storeTimestamp = MessageView.storeTimestamp(view, pos);
      const tagsCode = this.hooks.tagsCode ? this.hooks.tagsCode(topic, props, storeTimestamp) : tagHashCode(findProperty(props, Prop.TAGS));
      const cq = this.queues.findOrCreate(topic, queueId);
      cq.put(queueOffset, phyOffset, size, tagsCode);
      this.touched.add(cq);
      if (this.index && phyOffset > indexedUpTo) this.indexMessage(topic, props, phyOffset, storeTimestamp);
      if (this.hooks.systemTopics?.has(topic)) this.hooks.onSystemMessage?.(entry.index, topic, buf.subarray(pos, pos + size), view, pos);
      pos += size;
    }
  }

  // Consecutive messages mostly share a topic: reuse the last decoded name when the bytes are equal.
  private lastTopic = '';
  private lastTopicBytes = Buffer.alloc(0);

  private topicAt(buf: Buffer, view: DataView, pos: number): string {
    const at = MessageView.topicLengthOffset(view, pos);
    const length = view.getUint8(at);
    const bytes = this.lastTopicBytes;
    if (length === bytes.length && buf.compare(bytes, 0, length, at + 1, at + 1 + length) === 0) return this.lastTopic;
    this.lastTopic = buf.toString('utf8', at + 1, at + 1 + length);
    this.lastTopicBytes = Buffer.from(buf.subarray(at + 1, at + 1 + length));
    return this.lastTopic;
  }

  private indexMessage(topic: string, props: string, phyOffset: number, storeTimestamp: number): void {
    const uniq = findProperty(props, Prop.UNIQ_KEY);
    if (uniq) this.index!.put(indexKey(topic, uniq), phyOffset, storeTimestamp);
    for (const key of splitKeys(findProperty(props, Prop.KEYS))) this.index!.put(indexKey(topic, key), phyOffset, storeTimestamp);
  }

  private notifyArrivals(): void {
    const hook = this.hooks.onMessagesArrived;
    if (hook) for (const cq of this.touched) hook(cq.topic, cq.queueId, cq.maxOffset);
    this.touched.clear();
  }
}
