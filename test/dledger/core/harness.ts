// A synchronous test harness for the Raft core: nodes over in-memory logs, a message queue the test
// delivers explicitly (no sockets, no sleeps), optional instant persistence. It follows the same
// driver contract as the simulator (R1..R10 in dledger/core/raft-core.ts).

import assert from 'node:assert/strict';

import { makeMembership } from '../../../dledger/core/membership.js';
import { SeededPrng } from '../../../dledger/core/prng.js';
import { RaftCore } from '../../../dledger/core/raft-core.js';
import type { RaftConfig } from '../../../dledger/core/limits.js';
import type { Action, ConfChange, HardState, Input, InstallSnapshotMessage, Membership, Message, NodeId } from '../../../dledger/core/types.js';
import { type LogImage, type SimEntry, SimLog } from '../../sim/sim-log.js';

export interface HarnessOptions {
  readonly voters: readonly NodeId[];
  /** Nodes that start outside the configuration (to be added later). */
  readonly spares?: readonly NodeId[];
  readonly config?: Partial<RaftConfig>;
  readonly seed?: number;
  readonly segmentEntries?: number;
  readonly entryBytes?: number;
}

export class TestNode {
  core: RaftCore;
  readonly log: SimLog;
  hardState: HardState = { term: 0, votedFor: null };
  commit = 0;
  readonly applied: string[] = [];
  /** Every action this node's core returned, in order. */
  readonly history: Action[] = [];
  /** Messages held back until `persist()` when auto-persistence is off. */
  readonly held: Message[] = [];
  staged: LogImage | null = null;

  constructor(
    readonly id: NodeId,
    membership: Membership,
    private readonly cluster: Cluster,
    segmentEntries: number,
  ) {
    this.log = new SimLog(membership, segmentEntries);
    this.core = this.build();
  }

  build(): RaftCore {
    return new RaftCore({
      id: this.id,
      log: this.log,
      rng: new SeededPrng(this.cluster.prng.nextU32()),
      hardState: this.hardState,
      membership: this.log.membershipState(),
      config: this.cluster.config,
    });
  }

  status() {
    return this.core.status();
  }
}

export class Cluster {
  readonly prng: SeededPrng;
  readonly nodes = new Map<NodeId, TestNode>();
  readonly config: Partial<RaftConfig>;
  /** In flight, in send order. */
  queue: Message[] = [];
  /** Snapshot transfers the test can complete with `finishSnapshots()`. */
  snapshots: Array<{ message: InstallSnapshotMessage; image: LogImage }> = [];
  autoPersist = true;
  private readonly blocked = new Set<string>();
  private readonly entryBytes: number;
  private entrySeq = 0;

  constructor(options: HarnessOptions) {
    this.prng = new SeededPrng(options.seed ?? 1);
    this.config = { electionTicks: 10, heartbeatTicks: 1, ...options.config };
    this.entryBytes = options.entryBytes ?? 100;
    const membership = makeMembership(options.voters);
    for (const id of [...options.voters, ...(options.spares ?? [])]) {
      this.nodes.set(id, new TestNode(id, membership, this, options.segmentEntries ?? 1024));
    }
  }

  node(id: NodeId): TestNode {
    const node = this.nodes.get(id);
    assert(node !== undefined, `no node ${id}`);
    return node;
  }

  leaderOf(): TestNode | null {
    let leader: TestNode | null = null;
    for (const node of this.nodes.values()) {
      if (node.core.isLeader && (leader === null || node.core.term > leader.core.term)) leader = node;
    }
    return leader;
  }

  // ----------------------------------------------------------------------------------- network

  isolate(id: NodeId): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.blocked.add(`${id}>${other}`);
      this.blocked.add(`${other}>${id}`);
    }
  }

  /** Drops messages from `from` to `to` (one way). */
  cut(from: NodeId, to: NodeId): void {
    this.blocked.add(`${from}>${to}`);
  }

  heal(): void {
    this.blocked.clear();
  }

  send(message: Message): void {
    if (!this.blocked.has(`${message.from}>${message.to}`)) this.queue.push(message);
  }

  /** Takes the queued messages matching `filter` out of the queue (to inspect, drop or replay). */
  take(filter: (message: Message) => boolean = () => true): Message[] {
    const taken = this.queue.filter(filter);
    this.queue = this.queue.filter((message) => !filter(message));
    return taken;
  }

  /** Takes the first queued message matching `filter` out of the queue. */
  takeFirst(filter: (message: Message) => boolean): Message | undefined {
    const position = this.queue.findIndex(filter);
    if (position < 0) return undefined;
    return this.queue.splice(position, 1)[0];
  }

  /** Delivers what is queued now (one round); messages sent meanwhile wait for the next round. */
  deliver(filter: (message: Message) => boolean = () => true): number {
    const round = this.take(filter);
    for (const message of round) {
      if (this.blocked.has(`${message.from}>${message.to}`)) continue;
      this.step(message.to, message);
    }
    return round.length;
  }

  /** Delivers rounds until nothing is in flight (bounded). */
  stabilize(roundsMax = 200): void {
    for (let round = 0; round < roundsMax; round++) {
      if (this.deliver() === 0 && this.finishSnapshots() === 0) return;
    }
    assert.fail('cluster did not stabilize');
  }

  finishSnapshots(): number {
    const transfers = this.snapshots;
    this.snapshots = [];
    for (const { message, image } of transfers) {
      const target = this.node(message.to);
      target.staged = image;
      this.step(message.to, message);
      target.staged = null;
      this.step(message.from, { type: 'snapshotStatus', to: message.to, ok: true });
    }
    return transfers.length;
  }

  // ------------------------------------------------------------------------------------- inputs

  tick(id: NodeId, times = 1): void {
    const node = this.node(id);
    for (let i = 0; i < times; i++) this.execute(node, node.core.tick());
  }

  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) for (const id of this.nodes.keys()) this.tick(id);
  }

  step(id: NodeId, input: Input): Action[] {
    const node = this.node(id);
    const actions = node.core.step(input);
    this.execute(node, actions);
    return actions;
  }

  /** Campaigns and runs the election to its end. */
  elect(id: NodeId): TestNode {
    this.step(id, { type: 'campaign' });
    this.stabilize();
    const node = this.node(id);
    assert(node.core.isLeader, `${id} did not win: ${JSON.stringify(node.status().role)}`);
    return node;
  }

  nextEntry(index: number, term: number, conf: Membership | null = null): SimEntry {
    return { index, term, id: `e${++this.entrySeq}`, bytes: this.entryBytes, conf };
  }

  /** Writes `count` entries on the leader `id` (R5) and steps `appended`. */
  propose(id: NodeId, count = 1): SimEntry[] {
    const node = this.node(id);
    assert.equal(node.core.canPropose(), null, 'canPropose');
    const entries: SimEntry[] = [];
    for (let i = 0; i < count; i++) entries.push(this.nextEntry(node.log.lastIndex() + 1 + i, node.core.term));
    node.log.append(entries);
    this.step(id, { type: 'appended', lastIndex: node.log.lastIndex(), bytes: count * this.entryBytes });
    this.persistIfAuto(node);
    return entries;
  }

  proposeConfChange(id: NodeId, change: ConfChange): string | null {
    const node = this.node(id);
    const plan = node.core.planConfChange(change);
    if (!plan.ok) return plan.reason;
    const entry = this.nextEntry(node.log.lastIndex() + 1, node.core.term, plan.membership);
    node.log.append([entry]);
    this.step(id, { type: 'appended', lastIndex: entry.index, bytes: entry.bytes, confChange: { index: entry.index, membership: plan.membership } });
    this.persistIfAuto(node);
    return null;
  }

  /** Reports the whole log of `id` durable and releases its held messages (manual persistence). */
  persist(id: NodeId): void {
    const node = this.node(id);
    const lastIndex = node.log.lastIndex();
    this.step(id, { type: 'persisted', index: lastIndex, term: node.log.term(lastIndex) as number });
    for (const message of node.held.splice(0)) this.send(message);
  }

  /** Replaces a node's core by one built from its (fully durable) state, as after a restart. */
  restart(id: NodeId): void {
    const node = this.node(id);
    node.core = node.build();
    node.commit = node.log.firstIndex() - 1;
  }

  // ---------------------------------------------------------------------------------- execution

  private execute(node: TestNode, actions: readonly Action[]): void {
    let wrote = false;
    let becameLeader = false;
    for (const action of actions) {
      node.history.push(action);
      switch (action.type) {
        case 'persistHardState':
          node.hardState = { term: action.term, votedFor: action.votedFor };
          break;
        case 'truncate':
          assert(action.fromIndex > node.commit, 'truncate at or below commit');
          node.log.truncateFrom(action.fromIndex);
          break;
        case 'appendEntries': {
          const payload = action.payload as SimEntry[];
          node.log.append(payload.filter((entry) => entry.index >= action.fromIndex));
          assert.equal(node.log.lastIndex(), action.lastIndex);
          wrote = true;
          break;
        }
        case 'installSnapshot':
          assert(node.staged !== null, 'no staged snapshot');
          node.log.install(node.staged);
          assert.equal(node.log.lastIndex(), action.index);
          wrote = true;
          break;
        case 'send':
          this.sendFrom(node, action.message, action.afterPersist);
          break;
        case 'sendSnapshot': {
          const leader = this.node(action.message.from);
          this.snapshots.push({ message: action.message, image: leader.log.image(action.message.index) });
          break;
        }
        case 'commit':
          this.apply(node, action.index);
          break;
        case 'roleChanged':
          if (action.role === 'leader') becameLeader = true;
          break;
        case 'ignored':
          break;
      }
    }
    if (becameLeader && node.core.isLeader) {
      const noop = this.nextEntry(node.log.lastIndex() + 1, node.core.term);
      node.log.append([noop]);
      this.step(node.id, { type: 'appended', lastIndex: noop.index, bytes: noop.bytes });
      wrote = true;
    }
    if (wrote) this.persistIfAuto(node);
  }

  private persistIfAuto(node: TestNode): void {
    if (!this.autoPersist) return;
    const lastIndex = node.log.lastIndex();
    this.step(node.id, { type: 'persisted', index: lastIndex, term: node.log.term(lastIndex) as number });
  }

  private sendFrom(node: TestNode, message: Message, afterPersist: boolean): void {
    if (message.type === 'append' && message.lastIndex > message.prevIndex) {
      message.payload = node.log.slice(message.prevIndex + 1, message.lastIndex);
    }
    if (afterPersist && !this.autoPersist) node.held.push(message);
    else this.send(message);
  }

  private apply(node: TestNode, index: number): void {
    node.commit = Math.max(node.commit, node.log.firstIndex() - 1);
    while (node.commit < index) {
      node.commit++;
      const entry = node.log.entry(node.commit);
      if (entry !== undefined) node.applied.push(entry.id);
    }
  }
}

/** Actions of a given type from a list. */
export function actionsOf<T extends Action['type']>(actions: readonly Action[], type: T): Array<Extract<Action, { type: T }>> {
  return actions.filter((action): action is Extract<Action, { type: T }> => action.type === type);
}

type Distribute<M, T> = M extends { type: infer U } ? (T extends U ? M : never) : never;
/** The message interface whose `type` admits T (VoteResponseMessage covers two types). */
export type MessageOf<T extends Message['type']> = Distribute<Message, T>;

/** Messages of a given type inside send actions. */
export function sentOf<T extends Message['type']>(actions: readonly Action[], type: T): Array<MessageOf<T>> {
  const messages: Array<MessageOf<T>> = [];
  for (const action of actions) {
    if (action.type === 'send' && action.message.type === type) messages.push(action.message as MessageOf<T>);
  }
  return messages;
}
