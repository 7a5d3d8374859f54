// The simulator's driver for one node: it runs the real RaftCore under the same driver contract as
// the production driver (dledger/core/raft-core.ts, rules R1..R10), over a SimDisk and a SimNetwork.

import assert from 'node:assert/strict';

import { sameMembership } from '../../dledger/core/membership.js';
import { SeededPrng } from '../../dledger/core/prng.js';
import { RaftCore } from '../../dledger/core/raft-core.js';
import { formatAction, formatInput } from '../../dledger/core/trace.js';
import type { Action, ConfChange, Input, InstallSnapshotMessage, Membership, Message, NodeId } from '../../dledger/core/types.js';
import { SafetyViolation, type SafetyChecker } from './checkers.js';
import type { SimOptions } from './options.js';
import { SimDisk } from './sim-disk.js';
import type { LogImage, SimEntry, SimLog } from './sim-log.js';
import type { SimNetwork } from './sim-network.js';

export interface SimContext {
  readonly now: number;
  readonly prng: SeededPrng;
  readonly network: SimNetwork;
  readonly checker: SafetyChecker;
  readonly options: SimOptions;
  readonly trace: ((line: string) => void) | null;
  nextEntryId(prefix: string): string;
  startSnapshotTransfer(from: SimNode, message: InstallSnapshotMessage, image: LogImage): void;
  durableLogOf(id: NodeId): SimLog;
  /** Something dangerous to lose just happened (a vote granted, a leader's local append). */
  afterRiskyWrite(node: SimNode): void;
}

interface HeldSend {
  readonly seq: number;
  readonly message: Message;
  /** For an append response: the term of the acknowledged entry when the response was emitted. */
  readonly entryTerm: number | undefined;
}

export class SimNode {
  core: RaftCore | null = null;
  readonly disk: SimDisk;
  incarnation = 0;
  pausedUntil = 0;
  applied = 0;
  crashes = 0;
  private commitSeen = 0;
  private held: HeldSend[] = [];
  private staged: LogImage | null = null;
  private clock = 0;
  private readonly rate: number;

  constructor(
    readonly id: NodeId,
    private readonly sim: SimContext,
    initialMembership: Membership,
  ) {
    const { options } = sim;
    this.disk = new SimDisk(initialMembership, options.segmentEntries, options.diskLatencyMin, options.diskLatencyMax);
    this.rate = 1 + (sim.prng.nextFloat() * 2 - 1) * options.clockSkew;
  }

  get alive(): boolean {
    return this.core !== null;
  }

  paused(now: number): boolean {
    return now < this.pausedUntil;
  }

  /** R10: a core built from durable state only. */
  start(): void {
    assert(this.core === null);
    const { options } = this.sim;
    const log = this.disk.log;
    this.core = new RaftCore({
      id: this.id,
      log,
      rng: new SeededPrng(this.sim.prng.nextU32()),
      hardState: this.disk.hardState,
      membership: log.membershipState(),
      config: {
        electionTicks: options.electionTicks,
        heartbeatTicks: options.heartbeatTicks,
        preVote: options.preVote,
        checkQuorum: options.checkQuorum,
        batchBytesMax: options.batchBytesMax,
        inflightBatchesMax: options.inflightBatchesMax,
        inflightBytesMax: options.inflightBytesMax,
        uncommittedEntriesMax: options.uncommittedEntriesMax,
        uncommittedBytesMax: Math.max(options.batchBytesMax, options.uncommittedEntriesMax * options.entryBytesMax),
        learnerCatchUpLagEntries: 32,
        preferredLeader: options.preferredLeader,
      },
    });
    this.commitSeen = log.firstIndex() - 1;
    this.applied = this.commitSeen;
    this.traceLine(`start (incarnation ${this.incarnation}) term=${this.disk.hardState.term} log=${log.firstIndex()}..${log.lastIndex()}`);
  }

  crash(): void {
    assert(this.core !== null);
    const { lostOps, tornEntries } = this.disk.crash(this.sim.prng);
    this.traceLine(`CRASH lost ${lostOps} pending writes (torn ${tornEntries} entries)`);
    this.core = null;
    this.held = [];
    this.staged = null;
    this.pausedUntil = 0;
    this.incarnation++;
    this.crashes++;
  }

  tick(now: number): void {
    if (this.core === null || this.paused(now)) return;
    this.clock += this.rate;
    while (this.clock >= 1) {
      this.clock -= 1;
      this.run(null);
      if (this.core === null) return;
    }
  }

  deliver(message: Message): void {
    if (this.core === null) return;
    this.run(message);
  }

  /** Reports durable progress (R4) and releases messages that waited for it (R3). */
  processDisk(now: number): void {
    if (this.core === null || this.paused(now)) return;
    for (const op of this.disk.complete(now)) {
      if (op.kind === 'append' && op.entries.length > 0) {
        const last = op.entries[op.entries.length - 1] as SimEntry;
        this.run({ type: 'persisted', index: last.index, term: last.term });
      } else if (op.kind === 'install') {
        const { image } = op;
        const last = image.entries[image.entries.length - 1];
        const index = last?.index ?? image.first - 1;
        this.run({ type: 'persisted', index, term: last?.term ?? image.baseTerm });
      }
    }
    const durable = this.disk.durableSeq;
    while (this.held.length > 0 && (this.held[0] as HeldSend).seq <= durable) {
      const held = this.held.shift() as HeldSend;
      this.transmit(held.message, held.entryTerm);
    }
  }

  /** Client proposal (R5). Returns the written entries, or null when the core refuses. */
  propose(count: number): SimEntry[] | null {
    const core = this.core;
    if (core === null || core.canPropose() !== null) return null;
    const log = this.disk.log;
    const entries: SimEntry[] = [];
    let bytes = 0;
    for (let i = 0; i < count; i++) {
      const size = this.sim.prng.between(1, this.sim.options.entryBytesMax);
      entries.push({ index: log.lastIndex() + 1 + i, term: core.term, id: this.sim.nextEntryId('p'), bytes: size, conf: null });
      bytes += size;
    }
    this.writeAsLeader(entries);
    this.run({ type: 'appended', lastIndex: log.lastIndex(), bytes });
    return entries;
  }

  proposeConfChange(change: ConfChange): string | null {
    const core = this.core;
    if (core === null) return 'down';
    const plan = core.planConfChange(change);
    if (!plan.ok) return plan.reason;
    const index = this.disk.log.lastIndex() + 1;
    const entry: SimEntry = { index, term: core.term, id: this.sim.nextEntryId('conf'), bytes: 64, conf: plan.membership };
    this.traceLine(`propose ${change.type} ${change.node} at ${index}`);
    this.writeAsLeader([entry]);
    this.run({ type: 'appended', lastIndex: index, bytes: entry.bytes, confChange: { index, membership: plan.membership } });
    return null;
  }

  transferLeadership(to: NodeId): void {
    if (this.core !== null) this.run({ type: 'transferLeadership', to });
  }

  /** Retention between calls (R10): drop applied entries, keeping a few. */
  compact(keep: number): void {
    if (this.core === null) return;
    const through = Math.min(this.applied, this.disk.log.lastIndex()) - keep;
    if (through < this.disk.log.firstIndex()) return;
    this.traceLine(`compact through ${through}`);
    this.disk.write({ kind: 'compact', throughIndex: through }, this.sim.now, this.sim.prng);
  }

  /** R8, follower side: the segments arrived; let the core decide whether to adopt them. */
  receiveSnapshot(message: InstallSnapshotMessage, image: LogImage): boolean {
    if (this.core === null) return false;
    this.staged = image;
    this.run(message);
    this.staged = null;
    return true;
  }

  snapshotStatus(to: NodeId, ok: boolean): void {
    if (this.core !== null) this.run({ type: 'snapshotStatus', to, ok });
  }

  /** One call into the core (a tick when `input` is null) and the execution of its actions (R1). */
  private run(input: Input | null): void {
    const core = this.core;
    assert(core !== null);
    if (input !== null && this.sim.trace !== null) this.traceLine(`<- ${formatInput(input)}`);
    const actions = input === null ? core.tick() : core.step(input);
    const becameLeader = this.execute(actions);
    this.checkMembership();
    if (becameLeader && core.isLeader) this.appendNoop(core);
  }

  private execute(actions: readonly Action[]): boolean {
    let becameLeader = false;
    for (const action of actions) {
      if (this.sim.trace !== null && action.type !== 'ignored') this.traceLine(`   ${formatAction(action)}`);
      switch (action.type) {
        case 'persistHardState':
          this.disk.write({ kind: 'hardState', hardState: { term: action.term, votedFor: action.votedFor } }, this.sim.now, this.sim.prng);
          break;
        case 'truncate':
          this.disk.write({ kind: 'truncate', fromIndex: action.fromIndex }, this.sim.now, this.sim.prng);
          break;
        case 'appendEntries':
          this.writeAsFollower(action.fromIndex, action.lastIndex, action.payload);
          break;
        case 'installSnapshot':
          this.installStaged(action.index, action.term, action.membership);
          break;
        case 'send':
          this.send(action.message, action.afterPersist);
          break;
        case 'sendSnapshot':
          this.sim.startSnapshotTransfer(this, action.message, this.disk.log.image(action.message.index));
          break;
        case 'commit':
          this.commitThrough(action.index);
          break;
        case 'roleChanged':
          if (action.role === 'leader') {
            this.sim.checker.onLeader(this.id, action.term, this.disk.log);
            becameLeader = true;
          }
          break;
        case 'ignored':
          break;
      }
    }
    return becameLeader;
  }

  /** R6: a new leader's first entry. */
  private appendNoop(core: RaftCore): void {
    const index = this.disk.log.lastIndex() + 1;
    const entry: SimEntry = { index, term: core.term, id: `noop:${core.term}:${this.id}`, bytes: 16, conf: null };
    this.writeAsLeader([entry]);
    this.run({ type: 'appended', lastIndex: index, bytes: entry.bytes });
  }

  private writeAsLeader(entries: SimEntry[]): void {
    const first = (entries[0] as SimEntry).index;
    this.disk.write({ kind: 'append', entries }, this.sim.now, this.sim.prng);
    this.sim.checker.onWrite(this.id, this.disk.log, first, first + entries.length - 1);
    this.sim.afterRiskyWrite(this);
  }

  /** R7, follower side: the payload covers prevIndex+1..lastIndex; write fromIndex..lastIndex. */
  private writeAsFollower(fromIndex: number, lastIndex: number, payload: unknown): void {
    assert(Array.isArray(payload), 'append payload missing');
    const all = payload as SimEntry[];
    const offset = fromIndex - (all[0] as SimEntry).index;
    const entries = all.slice(offset);
    assert(offset >= 0 && entries.length === lastIndex - fromIndex + 1, 'payload does not cover the entries to write');
    assert((entries[0] as SimEntry).index === fromIndex);
    this.disk.write({ kind: 'append', entries }, this.sim.now, this.sim.prng);
    this.sim.checker.onWrite(this.id, this.disk.log, fromIndex, lastIndex);
  }

  private installStaged(index: number, term: number, membership: Membership): void {
    const image = this.staged;
    assert(image !== null, 'installSnapshot without staged segments');
    const lastIndex = image.first - 1 + image.entries.length;
    assert(lastIndex === index, 'staged image does not end at the snapshot index');
    this.disk.write({ kind: 'install', image }, this.sim.now, this.sim.prng);
    const log = this.disk.log;
    assert(log.term(index) === term, 'installed image has another term at the snapshot index');
    if (!sameMembership(log.membershipAt(index), membership)) {
      throw new SafetyViolation(`${this.id}: snapshot membership differs from the log's at ${index}`);
    }
    this.sim.checker.onInstall(this.id, this.core?.term ?? 0, log, image);
    this.applied = Math.max(this.applied, index); // the install replaces the state machine (R9)
    this.staged = null;
  }

  private send(message: Message, afterPersist: boolean): void {
    if (message.type === 'append' && message.lastIndex > message.prevIndex) {
      message.payload = this.disk.log.slice(message.prevIndex + 1, message.lastIndex); // R7: read now
    }
    if (message.type === 'voteResponse' && message.granted) this.sim.afterRiskyWrite(this);
    const entryTerm = message.type === 'appendResponse' ? this.disk.log.term(message.index) : undefined;
    if (afterPersist && this.disk.pendingCount > 0) this.held.push({ seq: this.disk.queuedSeq, message, entryTerm });
    else this.transmit(message, entryTerm);
  }

  private transmit(message: Message, entryTerm: number | undefined): void {
    this.sim.checker.onTransmit(this.id, message, entryTerm, this.disk.durable);
    this.sim.network.send(message, this.sim.now);
  }

  private commitThrough(index: number): void {
    const log = this.disk.log;
    const core = this.core;
    if (core !== null && core.isLeader) {
      this.sim.checker.onLeaderCommit(this.id, core.term, core.activeMembership(), log, index, (id) => this.sim.durableLogOf(id));
    }
    this.sim.checker.onCommit(this.id, core?.term ?? 0, log, this.commitSeen, index);
    this.commitSeen = index;
    this.applied = Math.max(this.applied, log.firstIndex() - 1);
    while (this.applied < index) {
      const entry = log.entry(this.applied + 1);
      assert(entry !== undefined, `${this.id}: committed entry ${this.applied + 1} missing`);
      this.sim.checker.onApply(this.id, entry);
      this.applied++;
    }
  }

  private checkMembership(): void {
    const core = this.core;
    if (core === null) return;
    if (!sameMembership(core.activeMembership(), this.disk.log.activeMembership())) {
      throw new SafetyViolation(`${this.id}: core membership differs from the configuration entries in its log`);
    }
  }

  private traceLine(text: string): void {
    if (this.sim.trace !== null) this.sim.trace(`t=${this.sim.now} ${this.id} ${text}`);
  }
}
