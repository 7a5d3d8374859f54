// A broker context in one process for service-level tests: a real message store and replicated state, wired as
// broker.ts wires them, under a stand-in for the Raft node that commits what it is given at once (a group of one)
// and can hold back applying it, to open the window between "committed" and "applied here" on purpose. A second
// ReplicatedState applies the same log as a follower would, so tests can compare the two. The clock is the test's.
import { MessageStore } from '../../store/message-store.js';
import { EntryType } from '../../store/record.js';
import type { RaftNode } from '../../dledger/node.js';
import type { Connection } from '../../remoting/index.js';
import { decodeMessage, parseHost, type MessageDraft, type MessageExt } from '../../common/message.js';
import { encodeProperties, findProperty, Prop, type Properties } from '../../common/properties.js';
import { SystemTopic } from '../../common/topic.js';
import { uniqueIds } from '../../common/message-id.js';
import { tagHashCode } from '../../common/tag-hash.js';
import { defaultBrokerConfig, parseDelayLevels, type BrokerConfig } from '../../broker/config.js';
import type { BrokerContext } from '../../broker/context.js';
import { ProducerRegistry } from '../../broker/client-channels.js';
import { ReplicatedState } from '../../broker/replicated-state.js';
import { TopicService } from '../../broker/topic-service.js';
import { parseProgressBody, scheduleTagsCode } from '../../broker/schedule-service.js';
import { applyOpMessage, toHalf } from '../../broker/transaction-service.js';
import { encodeStateEntry, type StateOp } from '../../broker/replicated-state.js';
import type { RemotingCommand } from '../../remoting/index.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const STORE_HOST = '127.0.0.1:10911';

/** The parts of RaftNode the broker's services use, for a group of one. */
export class FakeRaft {
  isReadyLeader = true;
  /** While set, proposals still resolve once committed, but nothing is applied until `applyHeld()`. */
  holdApply = false;
  appliedIndex = 0;
  proposedMessages = 0;
  private readonly waiters: Array<{ index: number; resolve: () => void }> = [];

  constructor(private readonly store: MessageStore) {}

  writeRefusal(): string | null {
    return null;
  }

  async proposeMessages(drafts: MessageDraft[]): Promise<{ index: number; messages: Array<{ queueId: number; queueOffset: number; physicalOffset: number }> }> {
    await Promise.resolve(); // never synchronous, as a real proposal
    const r = this.store.appendMessages(1, drafts);
    this.proposedMessages += drafts.length;
    this.commit(r.index);
    return r;
  }

  async proposeEntry(type: number, payload: Buffer): Promise<{ index: number }> {
    await Promise.resolve();
    const r = this.store.appendEntry(1, type, payload);
    this.commit(r.index);
    return r;
  }

  waitApplied(index: number): Promise<void> {
    if (index <= this.appliedIndex) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ index, resolve }));
  }

  onApplied(index: number): void {
    this.appliedIndex = Math.max(this.appliedIndex, index);
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      if (this.waiters[i]!.index <= index) this.waiters.splice(i, 1)[0]!.resolve();
    }
  }

  /** Applies everything held back. */
  applyHeld(): void {
    this.store.setCommitIndex(this.store.commitLog.lastIndex);
    this.store.dispatchAll();
  }

  private commit(index: number): void {
    if (this.holdApply) return; // committed as far as the caller can tell; the store sees it at applyHeld()
    this.store.setCommitIndex(index);
    this.store.dispatchAll();
  }
}

export interface MiniBroker {
  ctx: BrokerContext;
  raft: FakeRaft;
  store: MessageStore;
  /** Applies the same log as the leader's state, as a follower does. */
  follower: ReplicatedState;
  logs: string[];
  /** CHECK_TRANSACTION_STATE requests sent to fake producer connections. */
  checksSent: Array<{ group: string; request: RemotingCommand }>;
  now(): number;
  setNow(t: number): void;
  /** Registers a producer connection of `group` that records the checks it is sent. */
  connectProducer(group: string): void;
  close(): Promise<void>;
}

export interface MiniBrokerOptions {
  config?: Partial<BrokerConfig>;
  segmentBytes?: number;
  start?: number;
}

export function startMiniBroker(options: MiniBrokerOptions = {}): MiniBroker {
  const dir = tempDir('ledgermq-mini-');
  let now = options.start ?? 1_700_000_000_000;
  const clock = (): number => now;
  const config = defaultBrokerConfig({ brokerName: 'broker-mini', dataDir: dir, ...options.config });
  const delayLevelsMs = parseDelayLevels(config.messageDelayLevels);
  const state = new ReplicatedState(dir, clock);
  const follower = new ReplicatedState(dir, clock);
  const states = [state, follower];
  let raft: FakeRaft | undefined;
  const store = MessageStore.open({
    dir: `${dir}/store`,
    segmentBytes: options.segmentBytes ?? 16 * 1024 * 1024,
    preallocateAhead: false,
    clock,
    log: () => undefined,
    hooks: {
      onApply(entry) {
        if (entry.type === EntryType.STATE) for (const s of states) s.applyEntry(entry.index, entry.payload);
      },
      onDispatched(index) {
        for (const s of states) s.advance(index);
        raft?.onApplied(index);
      },
      tagsCode(topic, properties, storeTimestamp) {
        if (topic === SystemTopic.SCHEDULE) return scheduleTagsCode(delayLevelsMs, properties, storeTimestamp);
        return tagHashCode(findProperty(properties, Prop.TAGS));
      },
      systemTopics: new Set([SystemTopic.SCHEDULE_PROGRESS, SystemTopic.TRANS_OP_HALF]),
      onSystemMessage(_index, topic, message) {
        for (const s of states) {
          if (topic === SystemTopic.TRANS_OP_HALF) {
            applyOpMessage({ state: s }, message);
            continue;
          }
          const progress = parseProgressBody(decodeMessage(message, 0, { verifyCrc: false, inflate: false }).body);
          if (progress) s.applyDelayProgress(progress.level, progress.next);
        }
      },
    },
  });
  raft = new FakeRaft(store);
  const node = raft as unknown as RaftNode;
  const producers = new ProducerRegistry();
  const logs: string[] = [];
  const checksSent: MiniBroker['checksSent'] = [];
  const ctx = {
    config,
    store,
    raft: node,
    state,
    producers,
    topics: new TopicService(state, node, { autoCreateTopicEnable: true, defaultTopicQueueNums: 4 }),
    brokerAddr: STORE_HOST,
    storeHost: parseHost(STORE_HOST),
    delayLevelsMs,
    clock,
    log: (m: string) => void logs.push(m),
    leaderBrokerAddr: () => STORE_HOST,
    // The metrics the services touch, as no-ops.
    metrics: { pullLatency: { observe: () => undefined }, sendLatency: { observe: () => undefined }, countDelivered: () => undefined, countReceived: () => undefined },
  } as unknown as BrokerContext;
  let connectionIds = 0;
  return {
    ctx,
    raft,
    store,
    follower,
    logs,
    checksSent,
    now: clock,
    setNow: (t) => void (now = t),
    connectProducer(group) {
      const connection = {
        id: ++connectionIds,
        isOpen: true,
        invokeOneway: (request: RemotingCommand) => void checksSent.push({ group, request }),
      } as unknown as Connection;
      producers.register(group, { connection, clientId: `client-${connectionIds}`, lastHeartbeat: now });
    },
    async close() {
      await store.close();
      removeDir(dir);
    },
  };
}

/** A draft as a producer's send would store it (UNIQ_KEY set, born now). */
export function messageDraft(mini: MiniBroker, topic: string, queueId: number, body: Buffer | string, props: Properties = {}): MessageDraft {
  return {
    topic,
    topicBytes: Buffer.from(topic),
    queueId,
    flag: 0,
    sysFlag: 0,
    bornTimestamp: mini.now(),
    bornHost: { ip: 0x7f000001, port: 50000 },
    storeHost: mini.ctx.storeHost,
    reconsumeTimes: 0,
    preparedTransactionOffset: 0,
    body: typeof body === 'string' ? Buffer.from(body) : body,
    properties: encodeProperties({ [Prop.UNIQ_KEY]: uniqueIds.next(), ...props }),
  };
}

/** Stores half messages of producer group `group` for `topic` (one entry); returns their half-queue and commit-log offsets. */
export async function putHalves(mini: MiniBroker, group: string, topic: string, bodies: string[], extra: Properties = {}): Promise<Array<{ queueOffset: number; physicalOffset: number }>> {
  await mini.ctx.topics.ensure(topic, 1);
  const drafts = bodies.map((b) => {
    const d = messageDraft(mini, topic, 0, b, { [Prop.TRANSACTION_PREPARED]: 'true', [Prop.PRODUCER_GROUP]: group, ...extra });
    const half = toHalf(topic, 0, d.properties);
    return { ...d, topic: half.topic, topicBytes: Buffer.from(half.topic), queueId: half.queueId, properties: half.properties };
  });
  const r = await mini.raft.proposeMessages(drafts);
  return r.messages.map((m) => ({ queueOffset: m.queueOffset, physicalOffset: m.physicalOffset }));
}

/** Writes a STATE entry (as the leader's services do) and waits until it is applied. */
export async function writeState(mini: MiniBroker, ops: StateOp[]): Promise<void> {
  const r = await mini.raft.proposeEntry(EntryType.STATE, encodeStateEntry(ops));
  await mini.raft.waitApplied(r.index);
}

/** Every message of a queue, in order, decoded (at most 100 pulls). */
export function queueMessages(mini: MiniBroker, topic: string, queueId = 0): MessageExt[] {
  const out: MessageExt[] = [];
  let offset = 0;
  for (let i = 0; i < 100; i++) {
    const r = mini.store.getMessages(topic, queueId, offset, 1000);
    try {
      if (r.messages.length === 0) break;
      for (const m of r.messages) out.push(decodeMessage(Buffer.from(m)));
      offset = r.nextBeginOffset;
    } finally {
      r.release();
    }
  }
  return out;
}

/** Bodies of every message of a queue, in order. */
export function queueBodies(mini: MiniBroker, topic: string, queueId = 0): string[] {
  return queueMessages(mini, topic, queueId).map((m) => m.body.toString());
}

/** Lets pending promise callbacks and immediates run. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}
