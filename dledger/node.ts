// RaftNode: the I/O shell around the pure Raft core (dledger/core). It owns the core's timers, persistence and
// transport, and executes the core's actions under the driver contract of core/README.md:
//  - the log is the store's commit log (LogView reads it; appends, truncations and commits go to it);
//  - hard state is fsynced synchronously before anything after it runs;
//  - log durability follows the store's flush mode: ASYNC_FLUSH counts a write as durable once it is in the page
//    cache (it survives kill -9, not a power cut), SYNC_FLUSH once the fsync covering it completed;
//  - proposals are queued and written in batches, once per event-loop turn, each batch followed at once by the
//    core's `appended` event (R5);
//  - the leader appends its no-op right after becoming leader (R6) and reports itself "ready" only once the
//    no-op is committed and dispatched, so a new leader never serves routes before its consume queues caught up;
//    a no-op the store refuses is retried, and a leader that cannot append for LEADER_UNWRITABLE_TICKS hands
//    leadership to another voter;
//  - nothing the store throws leaves the driver (R1): an append the store could not take is dropped before the
//    core sees it, and if executing actions fails anyway the core is rebuilt from the durable log and hard state
//    (what a restart would do); a failure that leaves the store unusable (half an install) stops the node
//    (`fatal`), and the next start finishes the install (recoverInstall).
import { EventEmitter } from 'node:events';
import { randomInt } from 'node:crypto';
import path from 'node:path';
import fs from 'node:fs';
import { MessageStore, type AppendMessagesResult } from '../store/message-store.js';
import type { AppendResult } from '../store/commit-log.js';
import { EntryType, RECORD_HEADER_BYTES, RecOff } from '../store/record.js';
import { StoreError } from '../store/errors.js';
import { FlushMode } from '../store/flush-service.js';
import type { MessageDraft } from '../common/message.js';
import { getInt64 } from '../common/bytes.js';
import type { Logger } from '../remoting/index.js';
import {
  RaftCore,
  SeededPrng,
  Role,
  type Action,
  type AppendEntriesAction,
  type ConfChange,
  type ConfEntry,
  type Input,
  type InstallSnapshotMessage,
  type LogView,
  type Membership,
  type MembershipState,
  type Message,
  type NodeId,
  type Prng,
  type RaftConfig,
  type RaftStatus,
} from './core/index.js';
import { HardStateFile } from './hard-state.js';
import {
  InstallReceiver,
  sendInstall,
  CHUNK_TIMEOUT_MS,
  STAGED_STATE_FILE,
  clearInstallMarker,
  installedMembership,
  readInstallMarker,
  removeStagedInstalls,
  stagedDirOf,
  writeInstallMarker,
  type InstallBegin,
  type StagedInstall,
} from './segment-install.js';
import { RaftTransport } from './transport.js';
import type { AppendPayload } from './wire.js';
import { DEFERRED_SENDS_MAX, LEADER_UNWRITABLE_TICKS, PROPOSALS_QUEUED_MAX, RAFT_INSTALL_CHUNK_CODE, TICK_MS_DEFAULT } from './limits.js';

/** Membership in effect at a committed index, with every member's Raft address (the owner checkpoints it). */
export interface MembershipBase {
  entry: ConfEntry;
  addresses: Record<NodeId, string>;
}

export interface RaftNodeOptions {
  id: NodeId;
  /** Directory for the hard state file. */
  dir: string;
  store: MessageStore;
  /** Raft address (host:port) of every initial voter, this node included. */
  peers: ReadonlyMap<NodeId, string>;
  /** Interface and port this node's Raft server listens on. */
  host: string;
  port: number;
  /** Membership in effect at `base.index` and the peer addresses then (restored from the broker's state snapshot). */
  membershipBase?: MembershipBase;
  /** An index known to be committed (the applied checkpoint). */
  appliedIndex?: number;
  /** This node joins an existing group: it starts as a learner of the other peers' group and never campaigns. */
  join?: boolean;
  /** The owner's replicated state, serialized, for a segment install to a follower (leader side). */
  snapshotState?: () => Buffer;
  /**
   * Adopts replicated state received with a segment install (follower side) and saves it durably, with the
   * membership base the install leaves (the configuration at the snapshot entry). Also called by recoverInstall.
   */
  installState?: (state: Buffer, membershipBase: MembershipBase) => void;
  /** Called for each committed proposal with the time from writing it on the leader to its commit (ms). */
  onCommitLatency?: (ms: number) => void;
  tickMs?: number;
  config?: Partial<RaftConfig>;
  logger: Logger;
  seed?: number;
}

/** Payload of a MEMBERSHIP entry: the new membership and every member's Raft address. */
export interface MembershipEntryPayload {
  membership: Membership;
  addresses: Record<NodeId, string>;
}

/** Why a proposal was refused. */
/** The core refused a membership change; `reason` is its reason string (ConfChangeReject or ProposeReject). */
export class ConfChangeRefusedError extends Error {
  constructor(readonly reason: string) {
    super(`membership change refused: ${reason}`);
    this.name = 'ConfChangeRefusedError';
  }
}

export class NotWritableError extends Error {
  constructor(
    readonly reason: string,
    readonly leaderId: NodeId | null,
  ) {
    super(reason === 'notLeader' || reason === 'noLeader' ? `not the leader${leaderId ? ` (leader is ${leaderId})` : ' (no leader elected yet)'}` : `cannot accept writes now: ${reason}`);
    this.name = 'NotWritableError';
  }
}

/** A proposal's entry was replaced or its fate could not be learned after leadership moved. */
export class ProposalLostError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProposalLostError';
  }
}

type Proposal =
  | { kind: 'messages'; drafts: MessageDraft[]; resolve: (r: AppendMessagesResult) => void; reject: (e: Error) => void }
  | { kind: 'entry'; type: number; payload: Buffer; resolve: (r: AppendResult) => void; reject: (e: Error) => void }
  | { kind: 'conf'; change: ConfChange; address: string | undefined; resolve: (r: AppendResult) => void; reject: (e: Error) => void };

interface Written {
  index: number;
  term: number;
  writtenAt: number;
  resolve: () => void;
  reject: (e: Error) => void;
}

export interface RaftNodeEvents {
  role: [role: Role, term: number, leaderId: NodeId | null];
  /** This node leads and has committed and dispatched its no-op: it may serve writes and be routed to. */
  leaderReady: [term: number];
  leaderLost: [];
  /** The node stopped for good (see the header); restart the process. */
  fatal: [error: Error];
}

const DRAIN = Symbol('drain-proposals');
const TICK = Symbol('tick');
type QueuedInput = Input | typeof DRAIN | typeof TICK;

export class RaftNode extends EventEmitter<RaftNodeEvents> {
  readonly id: NodeId;
  readonly transport: RaftTransport;
  private coreValue: RaftCore;
  private readonly dir: string;
  private readonly store: MessageStore;
  private readonly hardState: HardStateFile;
  private readonly logger: Logger;
  private readonly tickMs: number;
  private readonly syncFlush: boolean;
  private readonly rng: Prng;
  private readonly coreConfig: Partial<RaftConfig> | undefined;
  private readonly logView: LogView;
  private addresses: Map<NodeId, string>;

  private readonly inputs: QueuedInput[] = [];
  private processing = false;
  private proposals: Proposal[] = [];
  private drainScheduled = false;
  private readonly written: Written[] = [];
  private readonly appliedWaiters: Array<{ index: number; resolve: () => void; reject: (e: Error) => void }> = [];

  /** Persistence actions executed / known durable (R2, R3). */
  private epoch = 0;
  private durableEpoch = 0;
  private readonly deferred: Array<{ epoch: number; message: Message }> = [];
  /** The SYNC_FLUSH wait in flight; one started before the log last shrank is superseded (see afterActions). */
  private flushWait: { generation: number } | null = null;
  /** Bumped whenever the log's end can move back (truncation, install, rebuild). */
  private logGeneration = 0;
  private flushFailed = false;
  private reportedDurable = { index: -1, term: -1 };

  private noopNeeded = false;
  private noopFailure: string | null = null;
  private noopIndex = 0;
  private ready = false;
  private unwritableTicks = 0;
  private lastTransferTarget: NodeId | null = null;
  /** Logged that no voter can take over (once per episode). */
  private alone = false;
  private appliedIndexValue: number;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  /** Between the install marker and its removal: a failure here cannot be undone by rebuilding the core. */
  private adopting = false;
  private lastDropReason: string | null = null;

  private readonly installer: InstallReceiver;
  private pendingInstall: StagedInstall | null = null;
  private readonly installing = new Set<NodeId>();
  private readonly snapshotState: (() => Buffer) | undefined;
  private readonly installState: ((state: Buffer, membershipBase: MembershipBase) => void) | undefined;
  private readonly onCommitLatency: ((ms: number) => void) | undefined;

  // counters for metrics (and tests)
  segmentInstallsSent = 0;
  leaderChanges = 0;
  proposalsRefused = 0;
  appendsDropped = 0;
  deferredDropped = 0;
  coreRebuilds = 0;
  readonly commitLatency: Array<number> = [];

  constructor(options: RaftNodeOptions) {
    super();
    this.id = options.id;
    this.dir = options.dir;
    this.store = options.store;
    this.logger = options.logger;
    this.tickMs = options.tickMs ?? TICK_MS_DEFAULT;
    this.syncFlush = options.store.flushMode === FlushMode.SYNC;
    fs.mkdirSync(options.dir, { recursive: true });
    if (readInstallMarker(options.dir)) {
      throw new Error(`${options.dir} holds an interrupted segment install: finish it with recoverInstall() before opening the store`);
    }
    removeStagedInstalls(options.dir);
    this.hardState = new HardStateFile(options.dir);
    const log = options.store.commitLog;
    this.appliedIndexValue = options.appliedIndex ?? 0;
    const membership = this.restoreMembership(options);
    this.addresses = membership.addresses;
    // Read through the store each time: a segment install replaces its commit log.
    const store = options.store;
    this.logView = {
      firstIndex: () => store.commitLog.firstIndex,
      lastIndex: () => store.commitLog.lastIndex,
      term: (index) => store.commitLog.term(index),
      batchEnd: (from, maxBytes) => store.commitLog.batchEnd(from, maxBytes),
    };
    this.rng = new SeededPrng(options.seed ?? randomInt(0, 2 ** 47));
    this.coreConfig = options.config;
    const baseIndex = membership.state.base.index;
    if (baseIndex > log.lastIndex) {
      throw new Error(
        `the saved membership covers entry ${baseIndex} but the log ends at entry ${log.lastIndex}: committed entries are missing ` +
          `(a power loss under ASYNC_FLUSH?); remove this node's data directory and add the node to its group again`,
      );
    }
    // The base is committed (the owner saved it with applied state), so the commit index starts at least there.
    this.coreValue = this.newCore(membership.state, Math.min(Math.max(log.commitIndex, this.appliedIndexValue, baseIndex), log.lastIndex));
    this.store.setCommitIndex(this.coreValue.commitIndex);
    this.transport = new RaftTransport({
      self: options.id,
      host: options.host,
      port: options.port,
      peers: this.addresses,
      logger: options.logger,
      onMessage: (m) => this.feed(m),
      onUnreachable: (peer) => {
        if (this.core.isLeader) this.feed({ type: 'unreachable', to: peer });
      },
    });
    this.snapshotState = options.snapshotState;
    this.onCommitLatency = options.onCommitLatency;
    this.installState = options.installState;
    this.installer = new InstallReceiver(
      options.dir,
      (staged) => {
        if (this.closed) return;
        // Stage it, then let the core decide; an install it does not adopt is dropped after that call.
        this.dropStagedInstall();
        this.pendingInstall = staged;
        this.feed(staged.begin.message);
      },
      (m) => this.logger.warn(`raft: ${m}`),
    );
    this.transport.registerProcessor(RAFT_INSTALL_CHUNK_CODE, (request) => this.installer.handle(request));
  }

  /** The Raft core; replaced when the driver rebuilds it after a failure. */
  get core(): RaftCore {
    return this.coreValue;
  }

  private newCore(membership: MembershipState, commitIndex: number): RaftCore {
    return new RaftCore({
      id: this.id,
      log: this.logView,
      rng: this.rng,
      hardState: this.hardState.value,
      membership,
      commitIndex,
      config: this.coreConfig,
    });
  }

  /**
   * The membership base comes from the broker's snapshot (or the configured peers on first start); the
   * configuration entries above it are read from the log itself (they are few and near the end).
   */
  private restoreMembership(options: RaftNodeOptions): { state: MembershipState; addresses: Map<NodeId, string> } {
    const initial: Membership = options.join
      ? { voters: [...options.peers.keys()].filter((id) => id !== options.id).sort(), learners: [options.id] }
      : { voters: [...options.peers.keys()].sort(), learners: [] };
    const base = options.membershipBase ?? { entry: { index: 0, membership: initial }, addresses: Object.fromEntries(options.peers) };
    const addresses = new Map(Object.entries(base.addresses));
    return { state: { base: base.entry, entries: this.confEntriesAbove(base.entry.index, addresses) }, addresses };
  }

  /** The configuration entries in the log above `index`; their addresses are added to `addresses`. */
  private confEntriesAbove(index: number, addresses: Map<NodeId, string>): ConfEntry[] {
    const log = this.store.commitLog;
    const entries: ConfEntry[] = [];
    for (let at = Math.max(index + 1, log.firstIndex); at <= log.lastIndex; at++) {
      const e = log.readEntry(at);
      if (e.type !== EntryType.MEMBERSHIP) continue;
      const payload = JSON.parse(e.payload.toString('utf8')) as MembershipEntryPayload;
      entries.push({ index: at, membership: payload.membership });
      for (const [id, addr] of Object.entries(payload.addresses)) addresses.set(id, addr);
    }
    return entries;
  }

  async start(): Promise<void> {
    await this.transport.start();
    this.timer = setInterval(() => this.feed(TICK), this.tickMs);
    const voters = this.core.activeMembership().voters;
    // A group of one needs no election timeout to pass.
    if (voters.length === 1 && voters[0] === this.id) this.feed({ type: 'campaign' });
  }

  get raftPort(): number {
    return this.transport.port;
  }

  get role(): Role {
    return this.core.publicRole();
  }

  /** Leader whose no-op is committed and dispatched: safe to serve writes and to be advertised as master. */
  get isReadyLeader(): boolean {
    return this.ready && this.core.isLeader;
  }

  get leaderId(): NodeId | null {
    return this.core.leaderId;
  }

  get appliedIndex(): number {
    return this.appliedIndexValue;
  }

  raftAddressOf(id: NodeId): string | undefined {
    return this.addresses.get(id);
  }

  peerAddresses(): ReadonlyMap<NodeId, string> {
    return this.addresses;
  }

  status(): RaftStatus {
    return this.core.status();
  }

  // ---- proposals ----------------------------------------------------------------------------------------------

  /** Appends messages as one entry; resolves once the entry is committed (and durable on a quorum). */
  proposeMessages(drafts: MessageDraft[]): Promise<AppendMessagesResult> {
    return new Promise((resolve, reject) => this.enqueue({ kind: 'messages', drafts, resolve, reject }));
  }

  /** Appends a non-message entry (STATE, MEMBERSHIP); resolves once committed. */
  proposeEntry(type: number, payload: Buffer): Promise<AppendResult> {
    return new Promise((resolve, reject) => this.enqueue({ kind: 'entry', type, payload, resolve, reject }));
  }

  /**
   * Proposes a single-server membership change (written as its own entry, in effect once in the log); resolves
   * once it is committed. `address` is the Raft address of a node being added.
   */
  proposeConfChange(change: ConfChange, address?: string): Promise<AppendResult> {
    if (change.type === 'addLearner' && !address && !this.addresses.has(change.node)) return Promise.reject(new Error(`adding ${change.node} needs its Raft address`));
    return new Promise((resolve, reject) => this.enqueue({ kind: 'conf', change, address, resolve, reject }));
  }

  /** Why a learner cannot be promoted yet (null: it can). */
  learnerReadiness(node: NodeId): string | null {
    return this.core.learnerReadiness(node);
  }

  /** Why a proposal would be refused now, or null. */
  writeRefusal(): string | null {
    if (this.closed) return 'shuttingDown';
    if (!this.core.isLeader) return this.core.leaderId ? 'notLeader' : 'noLeader';
    if (!this.ready) return 'leaderNotReady';
    return this.core.canPropose();
  }

  private enqueue(p: Proposal): void {
    const refusal = this.writeRefusal();
    if (refusal) {
      this.proposalsRefused++;
      p.reject(new NotWritableError(refusal, this.core.leaderId));
      return;
    }
    if (this.proposals.length >= PROPOSALS_QUEUED_MAX) {
      this.proposalsRefused++;
      p.reject(new NotWritableError('busy', this.core.leaderId));
      return;
    }
    this.proposals.push(p);
    if (!this.drainScheduled) {
      this.drainScheduled = true;
      setImmediate(() => {
        this.drainScheduled = false;
        this.feed(DRAIN);
      });
    }
  }

  /** Resolves once the entry at `index` has been applied (dispatched) on this node; rejects if the node closes first. */
  waitApplied(index: number): Promise<void> {
    if (index <= this.appliedIndexValue) return Promise.resolve();
    if (this.closed) return Promise.reject(new Error('the Raft node is closed'));
    return new Promise((resolve, reject) => this.appliedWaiters.push({ index, resolve, reject }));
  }

  /** The dispatcher applied entries up to `index` (called by the owner's dispatch hook). */
  onApplied(index: number): void {
    if (index <= this.appliedIndexValue) return;
    this.appliedIndexValue = index;
    if (this.appliedWaiters.length > 0) {
      const still: typeof this.appliedWaiters = [];
      for (const w of this.appliedWaiters) (w.index <= index ? w.resolve() : still.push(w));
      this.appliedWaiters.length = 0;
      this.appliedWaiters.push(...still);
    }
    if (!this.ready && this.core.isLeader && this.noopIndex > 0 && index >= this.noopIndex) {
      this.ready = true;
      this.emit('leaderReady', this.core.term);
    }
  }

  // ---- admin ----------------------------------------------------------------------------------------------------

  transferLeadership(to: NodeId): string | null {
    const refusal = this.core.canTransferLeadership(to);
    if (refusal) return refusal;
    this.feed({ type: 'transferLeadership', to });
    return null;
  }

  campaign(): void {
    this.feed({ type: 'campaign' });
  }

  // ---- the loop ---------------------------------------------------------------------------------------------------

  private feed(input: QueuedInput): void {
    if (this.closed) return;
    this.inputs.push(input);
    if (!this.processing) this.drain();
  }

  private drain(): void {
    this.processing = true;
    try {
      while (this.inputs.length > 0 && !this.closed) {
        const input = this.inputs.shift()!;
        if (input === TICK) {
          this.checkLeaderWritable();
          this.drive(() => this.core.tick());
        } else if (input === DRAIN) this.writeProposals();
        else if (this.admit(input)) this.drive(() => this.core.step(input));
        if (this.closed) break;
        if (this.noopNeeded) this.writeNoop();
        if (this.pendingInstall && input !== DRAIN && input !== TICK && input.type === 'installSnapshot') this.dropStagedInstall();
        this.afterActions();
      }
    } finally {
      this.processing = false;
    }
  }

  /** One call into the core and the execution of its actions; a failure is contained here (R1). */
  private drive(call: () => Action[]): void {
    try {
      this.execute(call());
    } catch (err) {
      this.recover(err as Error);
    }
  }

  /**
   * Whether a peer message may reach the core. An append is checked before the core sees it, because the core
   * takes an append as written (it may advance its commit index over it): malformed records, or a store that
   * cannot take them now, make it a lost message instead (the leader retries).
   */
  private admit(input: Input): boolean {
    if (input.type !== 'append' || input.lastIndex <= input.prevIndex) return true;
    const payload = input.payload as AppendPayload | undefined;
    const problem = payload
      ? (appendPayloadProblem(input.prevIndex, input.lastIndex, payload.bytes) ?? this.store.replicatedWriteProblem(payload.offset, payload.bytes.length))
      : 'no entry bytes';
    if (problem === null) {
      this.lastDropReason = null;
      return true;
    }
    this.appendsDropped++;
    if (problem !== this.lastDropReason) {
      this.lastDropReason = problem;
      this.logger.warn(`raft: dropping appends from ${input.from} (first: entries ${input.prevIndex + 1}..${input.lastIndex}): ${problem}`);
    }
    return false;
  }

  private recover(err: Error): void {
    if (this.closed) return;
    if (this.adopting) {
      this.fatal(`a segment install failed half-way (${err.message})`);
      return;
    }
    this.coreRebuilds++;
    this.logger.warn(`raft: executing the Raft core's actions failed (${err.message}); rebuilding the Raft state from the durable log and hard state`);
    try {
      this.rebuildCore();
    } catch (rebuildErr) {
      this.fatal(`cannot rebuild the Raft state after a failure (${err.message}): ${(rebuildErr as Error).message}`);
    }
  }

  /**
   * Replaces the core with one built from durable state only (R10), as a restart would: the hard state file,
   * the log as stored, the last committed membership base plus the configuration entries in the log.
   */
  private rebuildCore(): void {
    const log = this.store.commitLog;
    // Under SYNC_FLUSH the new core counts the whole log as durable: make it so (a failing disk stops us here).
    if (this.syncFlush) log.flushSync();
    const base = this.core.membershipState().base;
    if (base.index > log.lastIndex) throw new Error(`the membership base ${base.index} lies beyond the log (last entry ${log.lastIndex})`);
    const entries = this.confEntriesAbove(base.index, this.addresses);
    this.transport.setPeers(this.addresses);
    this.coreValue = this.newCore({ base, entries }, Math.min(Math.max(log.commitIndex, base.index), log.lastIndex));
    this.logGeneration++;
    this.noopNeeded = false;
    this.noopFailure = null;
    this.unwritableTicks = 0;
    this.reportedDurable = { index: -1, term: -1 };
    if (this.syncFlush) this.markDurable(this.epoch, log.lastIndex, log.lastTerm);
    this.onRoleChanged(this.core.publicRole(), this.core.term, null);
  }

  private fatal(reason: string): void {
    if (this.closed) return;
    this.logger.warn(`raft: FATAL: ${reason}. This node stops; restart it (an interrupted segment install is finished at startup)`);
    void this.close().catch(() => undefined);
    this.emit('fatal', new Error(reason));
  }

  private execute(actions: Action[]): void {
    for (const a of actions) {
      switch (a.type) {
        case 'persistHardState':
          this.hardState.save({ term: a.term, votedFor: a.votedFor });
          break;
        case 'truncate':
          this.logGeneration++;
          this.store.truncateFrom(a.fromIndex);
          this.failWrittenFrom(a.fromIndex);
          this.epoch++;
          break;
        case 'appendEntries':
          this.writeReplicated(a);
          this.epoch++;
          break;
        case 'installSnapshot':
          this.logGeneration++;
          this.adoptInstall(a.index, a.term, a.membership);
          this.epoch++;
          break;
        case 'send':
          if (a.afterPersist && this.durableEpoch < this.epoch) this.defer(a.message);
          else this.transmit(a.message);
          break;
        case 'sendSnapshot':
          this.startInstall(a.message);
          break;
        case 'commit':
          this.store.setCommitIndex(Math.min(a.index, this.store.commitLog.lastIndex));
          this.resolveCommitted(a.index);
          break;
        case 'roleChanged':
          this.onRoleChanged(a.role, a.term, a.leaderId);
          break;
        case 'ignored':
          break;
      }
    }
  }

  /** Holds an answer until the log is durable (R3); bounded, and pointless once flushing failed for good. */
  private defer(message: Message): void {
    if (this.flushFailed || this.deferred.length >= DEFERRED_SENDS_MAX) {
      this.deferredDropped++;
      return;
    }
    this.deferred.push({ epoch: this.epoch, message });
  }

  private transmit(message: Message): void {
    if (message.type === 'append' && message.lastIndex > message.prevIndex) {
      const log = this.store.commitLog;
      const batch = log.readBatch(message.prevIndex + 1, Number.MAX_SAFE_INTEGER, message.lastIndex);
      if (batch.lastIndex !== message.lastIndex) {
        // The core bounded the batch with batchEnd, so this is a contract violation, not an operating error.
        throw new Error(`append ${message.prevIndex + 1}..${message.lastIndex} does not fit one segment batch (got ..${batch.lastIndex})`);
      }
      // Committed bytes never change and go out straight from the mapped file. Uncommitted ones are copied: if
      // this leader is deposed while the frame waits behind a slow socket, a truncation zero-fills them in place.
      const bytes = message.lastIndex > log.commitIndex ? Buffer.from(batch.bytes) : batch.bytes;
      message.payload = { offset: batch.offset, bytes } satisfies AppendPayload;
    }
    this.transport.send(message);
  }

  /** Leader: streams the segments up to the snapshot index to a follower that needs entries we no longer keep. */
  private startInstall(message: InstallSnapshotMessage): void {
    const to = message.to;
    if (this.installing.has(to)) return;
    let segments: ReturnType<MessageStore['segmentsUpTo']>;
    try {
      segments = this.store.segmentsUpTo(message.index);
    } catch (err) {
      this.logger.warn(`raft: cannot install segments on ${to}: ${(err as Error).message}`);
      this.feed({ type: 'snapshotStatus', to, ok: false });
      return;
    }
    this.installing.add(to);
    const begin: InstallBegin = {
      id: `${this.id}-${message.term}-${message.index}-${Date.now()}`,
      message,
      base: this.store.commitLog.base(),
      segmentBytes: this.store.commitLog.segmentBytes,
      addresses: Object.fromEntries(this.addresses),
    };
    let state: Buffer;
    let queueTable: Buffer;
    try {
      state = this.snapshotState?.() ?? Buffer.alloc(0);
      queueTable = Buffer.from(JSON.stringify(this.store.queueOffsetTable()));
    } catch (err) {
      for (const seg of segments) seg.file.release();
      this.installing.delete(to);
      throw err;
    }
    this.logger.warn(`raft: ${to} needs entries below ${this.store.commitLog.firstIndex}: installing ${segments.length} segment(s) up to entry ${message.index}`);
    const started = Date.now();
    sendInstall((cmd) => this.transport.request(to, cmd, CHUNK_TIMEOUT_MS), begin, state, segments, queueTable)
      .then(
        (bytes) => {
          this.segmentInstallsSent++;
          this.logger.warn(`raft: segment install on ${to} done: ${bytes} bytes in ${Date.now() - started} ms`);
          this.feed({ type: 'snapshotStatus', to, ok: true });
        },
        (err: Error) => {
          this.logger.warn(`raft: segment install on ${to} failed: ${err.message}`);
          this.feed({ type: 'snapshotStatus', to, ok: false });
        },
      )
      .finally(() => {
        for (const seg of segments) seg.file.release();
        this.installing.delete(to);
      });
  }

  /**
   * Follower: the core accepted a staged install: replace the log and the replicated state with it. The marker
   * written first makes the whole step redoable: a crash anywhere after it is finished by recoverInstall.
   */
  private adoptInstall(index: number, term: number, membership: Membership): void {
    const staged = this.pendingInstall;
    if (!staged || staged.begin.message.index !== index) throw new Error(`installSnapshot at ${index} without a staged install for it`);
    this.pendingInstall = null;
    const addresses = { ...Object.fromEntries(this.addresses), ...staged.begin.addresses };
    try {
      writeInstallMarker(this.dir, { id: staged.begin.id, index, term, base: staged.begin.base, membership, addresses });
    } catch (err) {
      fs.rmSync(staged.dir, { recursive: true, force: true });
      throw err; // nothing changed yet: the core is rebuilt from the old log
    }
    this.adopting = true;
    this.store.installSegments(staged.dir, staged.begin.base);
    const log = this.store.commitLog;
    if (log.lastIndex !== index || log.term(index) !== term) {
      throw new Error(`installed log ends at ${log.lastIndex} (term ${log.term(log.lastIndex)}), expected ${index} (term ${term})`);
    }
    this.learnAddresses(staged.begin.addresses);
    this.installState?.(staged.state, installedMembership({ index, membership, addresses }));
    clearInstallMarker(this.dir);
    this.adopting = false;
    this.reportedDurable = { index: -1, term: -1 };
    fs.rmSync(staged.dir, { recursive: true, force: true });
    this.logger.warn(`raft: adopted segment install up to entry ${index}; the log now starts after ${staged.begin.base.baseIndex}`);
  }

  private dropStagedInstall(): void {
    if (!this.pendingInstall) return;
    fs.rmSync(this.pendingInstall.dir, { recursive: true, force: true });
    this.pendingInstall = null;
  }

  /** Writes the part of a received append that the core asked for (fromIndex..lastIndex); `admit` checked its records. */
  private writeReplicated(a: AppendEntriesAction): void {
    const payload = a.payload as AppendPayload;
    const log = this.store.commitLog;
    const bytes = payload.bytes;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const sizeAt = (at: number): number => {
      const size = at + RECORD_HEADER_BYTES <= bytes.length ? view.getInt32(at) : 0;
      if (size < RECORD_HEADER_BYTES || at + size > bytes.length) throw new Error(`replicated record at byte ${at} has a bad size ${size}`);
      return size;
    };
    let offset = payload.offset;
    let at = 0;
    // skip the entries before fromIndex (they already match)
    while (at < bytes.length && getInt64(view, at + RecOff.INDEX) < a.fromIndex) {
      const size = sizeAt(at);
      at += size;
      offset += size;
    }
    let end = at;
    for (let expect = a.fromIndex; end < bytes.length && expect <= a.lastIndex; expect++) {
      if (getInt64(view, end + RecOff.INDEX) !== expect) throw new Error(`replicated entries are not contiguous: expected ${expect} at byte ${end}`);
      end += sizeAt(end);
    }
    const written = bytes.subarray(at, end);
    this.store.appendReplicated({ offset, bytes: written });
    if (log.lastIndex !== a.lastIndex) throw new Error(`replicated append ended at ${log.lastIndex}, expected ${a.lastIndex}`);
    for (let pos = 0; pos < written.length; pos += view.getInt32(at + pos)) {
      if (view.getUint8(at + pos + RecOff.TYPE) !== EntryType.MEMBERSHIP) continue;
      const size = view.getInt32(at + pos);
      const entry = JSON.parse(written.toString('utf8', pos + RecOff.PAYLOAD, pos + size)) as MembershipEntryPayload;
      this.learnAddresses(entry.addresses);
    }
  }

  private writeProposals(): void {
    const batch = this.proposals;
    this.proposals = [];
    if (batch.length === 0) return;
    const refusal = this.writeRefusal();
    if (refusal) {
      for (const p of batch) p.reject(new NotWritableError(refusal, this.core.leaderId));
      return;
    }
    const term = this.core.term;
    let bytes = 0;
    const confs = batch.filter((p): p is Extract<Proposal, { kind: 'conf' }> => p.kind === 'conf');
    for (const p of batch) {
      if (p.kind === 'conf') continue;
      try {
        if (p.kind === 'messages') {
          const r = this.store.appendMessages(term, p.drafts);
          bytes += r.size;
          this.track(r.index, term, () => p.resolve(r), p.reject);
        } else {
          const r = this.store.appendEntry(term, p.type, p.payload);
          bytes += r.size;
          this.track(r.index, term, () => p.resolve(r), p.reject);
        }
      } catch (err) {
        p.reject(err instanceof StoreError ? err : (err as Error));
      }
    }
    if (bytes > 0) {
      this.epoch++;
      this.drive(() => this.core.step({ type: 'appended', lastIndex: this.store.commitLog.lastIndex, bytes }));
    }
    for (const p of confs) this.writeConfChange(p);
  }

  /** R5 for configuration entries: plan, write the entry alone, step `appended` with it at once. */
  private writeConfChange(p: Extract<Proposal, { kind: 'conf' }>): void {
    if (!this.core.isLeader) {
      p.reject(new NotWritableError('notLeader', this.core.leaderId));
      return;
    }
    const plan = this.core.planConfChange(p.change);
    if (!plan.ok) {
      p.reject(new ConfChangeRefusedError(plan.reason));
      return;
    }
    const addresses = Object.fromEntries(this.addresses);
    if (p.address) addresses[p.change.node] = p.address;
    const payload: MembershipEntryPayload = { membership: plan.membership, addresses };
    let r: AppendResult;
    try {
      r = this.store.appendEntry(this.core.term, EntryType.MEMBERSHIP, Buffer.from(JSON.stringify(payload)));
    } catch (err) {
      p.reject(err as Error);
      return;
    }
    this.learnAddresses(payload.addresses);
    this.track(r.index, this.core.term, () => p.resolve(r), p.reject);
    this.epoch++;
    this.drive(() => this.core.step({ type: 'appended', lastIndex: r.index, bytes: r.size, confChange: { index: r.index, membership: plan.membership } }));
  }

  private learnAddresses(addresses: Record<NodeId, string>): void {
    let changed = false;
    for (const [id, addr] of Object.entries(addresses)) {
      if (this.addresses.get(id) !== addr) {
        this.addresses.set(id, addr);
        changed = true;
      }
    }
    if (changed) this.transport.setPeers(this.addresses);
  }

  /** R6. A refused write (disk full, failed flush, failed segment roll) is retried after the next input. */
  private writeNoop(): void {
    if (!this.core.isLeader) {
      this.noopNeeded = false;
      return;
    }
    let r: AppendResult;
    try {
      r = this.store.appendEntry(this.core.term, EntryType.NOOP, Buffer.alloc(0));
    } catch (err) {
      const reason = (err as Error).message;
      if (this.noopFailure !== reason) this.logger.warn(`raft: cannot write the new leader's no-op (retrying each tick): ${reason}`);
      this.noopFailure = reason;
      return;
    }
    this.noopNeeded = false;
    this.noopFailure = null;
    this.noopIndex = r.index;
    this.epoch++;
    this.drive(() => this.core.step({ type: 'appended', lastIndex: r.index, bytes: r.size }));
  }

  /**
   * Leader, each tick: a leader whose store refuses appends keeps the group unwritable for as long as it leads
   * (its lease and heartbeats stay fine). After LEADER_UNWRITABLE_TICKS it hands leadership to another voter
   * (and tries again after as many ticks if that did not help).
   */
  private checkLeaderWritable(): void {
    if (this.closed || !this.core.isLeader) {
      this.unwritableTicks = 0;
      return;
    }
    const refusal = this.store.commitLog.appendRefusal?.message ?? (this.noopNeeded ? this.noopFailure : null);
    if (refusal === null) {
      this.unwritableTicks = 0;
      this.alone = false;
      return;
    }
    if (++this.unwritableTicks < LEADER_UNWRITABLE_TICKS) return;
    this.unwritableTicks = 0;
    const status = this.core.status();
    if (status.transferee !== null) return;
    // The most up-to-date voter, preferring ones heard from lately and not the one tried last time.
    const candidates = status.progress
      .filter((p) => this.core.canTransferLeadership(p.id) === null)
      .sort((x, y) => Number(y.recentActive) - Number(x.recentActive) || Number(x.id === this.lastTransferTarget) - Number(y.id === this.lastTransferTarget) || y.match - x.match);
    const target = candidates[0]?.id ?? null;
    if (target === null) {
      if (!this.alone) this.logger.warn(`raft: this leader cannot append (${refusal}) and no other voter can take over`);
      this.alone = true;
      return;
    }
    this.lastTransferTarget = target;
    this.logger.warn(`raft: this leader cannot append (${refusal}); handing leadership to ${target}`);
    this.drive(() => this.core.step({ type: 'transferLeadership', to: target }));
  }

  private track(index: number, term: number, resolve: () => void, reject: (e: Error) => void): void {
    this.written.push({ index, term, writtenAt: performance.now(), resolve, reject });
  }

  private resolveCommitted(commit: number): void {
    const log = this.store.commitLog;
    const now = this.onCommitLatency ? performance.now() : 0;
    let n = 0;
    while (n < this.written.length && this.written[n]!.index <= commit) {
      const w = this.written[n]!;
      if (log.term(w.index) === w.term) {
        this.onCommitLatency?.(now - w.writtenAt);
        w.resolve();
      }
      else w.reject(new ProposalLostError(`entry ${w.index} of term ${w.term} was replaced by a new leader`));
      n++;
    }
    if (n > 0) this.written.splice(0, n);
  }

  private failWrittenFrom(index: number): void {
    while (this.written.length > 0 && this.written[this.written.length - 1]!.index >= index) {
      this.written.pop()!.reject(new ProposalLostError(`entry of a former leader was truncated before it was committed`));
    }
  }

  /** Durability bookkeeping after each core call (R3, R4). */
  private afterActions(): void {
    if (this.closed || this.epoch === this.durableEpoch) return;
    const log = this.store.commitLog;
    if (!this.syncFlush) {
      this.markDurable(this.epoch, log.lastIndex, log.lastTerm);
      return;
    }
    if (this.flushFailed) return;
    // A wait issued before the log shrank (truncation, install) may target an offset the log no longer reaches:
    // it is left to expire and a new one covers what is there now.
    if (this.flushWait && this.flushWait.generation === this.logGeneration) return;
    const wait = { generation: this.logGeneration };
    this.flushWait = wait;
    const epoch = this.epoch;
    const index = log.lastIndex;
    const term = log.lastTerm;
    this.store.waitFlushed(log.writeOffset).then(
      (durable) => {
        if (this.flushWait !== wait) return;
        this.flushWait = null;
        if (this.closed) return;
        if (durable) this.markDurable(epoch, index, term);
        if (!this.processing) this.afterActions();
      },
      (err: Error) => {
        if (this.flushWait === wait) this.flushWait = null;
        if (this.flushFailed) return;
        this.flushFailed = true;
        this.deferredDropped += this.deferred.length;
        this.deferred.length = 0;
        this.logger.warn(`raft: flushing the log failed; this node stops acknowledging writes: ${err.message}`);
      },
    );
  }

  private markDurable(epoch: number, index: number, term: number): void {
    this.durableEpoch = epoch;
    let n = 0;
    while (n < this.deferred.length && this.deferred[n]!.epoch <= epoch) this.transmit(this.deferred[n++]!.message);
    if (n > 0) this.deferred.splice(0, n);
    if (index !== this.reportedDurable.index || term !== this.reportedDurable.term) {
      this.reportedDurable = { index, term };
      this.feed({ type: 'persisted', index, term });
    }
  }

  private onRoleChanged(role: Role, term: number, leaderId: NodeId | null): void {
    const wasLeader = this.ready;
    if (role === Role.Leader) {
      this.noopNeeded = true;
      this.noopFailure = null;
      this.unwritableTicks = 0;
      this.ready = false;
      this.leaderChanges++;
    } else {
      this.ready = false;
      this.noopNeeded = false;
      this.noopIndex = 0;
      const queued = this.proposals;
      this.proposals = [];
      for (const p of queued) p.reject(new NotWritableError('notLeader', leaderId));
      // Fail uncommitted writes now rather than after the new leader's verdict: the client retries on the new
      // leader at once. The entry may still commit (if a majority had it), so a retry can duplicate it, which
      // at-least-once delivery allows; waiting would keep clients stuck for as long as a partition lasts.
      const written = this.written.splice(0);
      for (const w of written) w.reject(new ProposalLostError(`leadership was lost before entry ${w.index} committed; it may or may not be stored`));
      if (leaderId !== this.id && leaderId !== null) this.leaderChanges++;
    }
    this.logger.warn(`raft: ${this.id} is ${role} in term ${term}${leaderId ? `, leader ${leaderId}` : ''}`);
    this.emit('role', role, term, leaderId);
    if (wasLeader && role !== Role.Leader) this.emit('leaderLost');
  }

  /** Membership base for the owner's snapshot: the configuration in effect at committed index `index`. */
  membershipBaseAt(index: number): MembershipBase {
    const state = this.core.membershipState();
    let membership = state.base.membership;
    for (const e of state.entries) if (e.index <= index) membership = e.membership;
    return { entry: { index: Math.max(index, state.base.index), membership }, addresses: Object.fromEntries(this.addresses) };
  }

  /** Stops the node; resolves once its sockets are closed (also when a failure closed it first). */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private closing: Promise<void> | null = null;

  private async shutDown(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.installer.discard();
    for (const p of this.proposals) p.reject(new NotWritableError('shuttingDown', null));
    this.proposals = [];
    for (const w of this.written) w.reject(new ProposalLostError('the node shut down before the write was committed'));
    this.written.length = 0;
    for (const w of this.appliedWaiters.splice(0)) w.reject(new Error(`the Raft node closed before entry ${w.index} was applied`));
    this.deferred.length = 0;
    this.inputs.length = 0;
    await this.transport.close();
  }
}

/** Why the records of an append do not form entries prevIndex+1..lastIndex (null: they do). */
function appendPayloadProblem(prevIndex: number, lastIndex: number, bytes: Buffer): string | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  let expect = prevIndex + 1;
  while (at < bytes.length) {
    if (bytes.length - at < RECORD_HEADER_BYTES) return `record of entry ${expect} is cut short`;
    const size = view.getInt32(at);
    if (size < RECORD_HEADER_BYTES || size > bytes.length - at) return `record of entry ${expect} has a bad size ${size}`;
    const index = getInt64(view, at + RecOff.INDEX);
    if (index !== expect) return `record at byte ${at} is entry ${index}, expected ${expect}`;
    expect++;
    at += size;
  }
  if (expect - 1 !== lastIndex) return `records end at entry ${expect - 1}, the message says ${lastIndex}`;
  return null;
}

/**
 * Finishes a segment install that a crash interrupted after its marker was written (see adoptInstall), and
 * removes staged installs that will never be adopted. Call at startup before opening the store and loading the
 * owner's state; `installState` is the node option of the same name. Returns whether an install was finished.
 */
export function recoverInstall(options: {
  raftDir: string;
  storeDir: string;
  installState: (state: Buffer, membershipBase: MembershipBase) => void;
  log: (message: string) => void;
}): boolean {
  const marker = readInstallMarker(options.raftDir);
  if (!marker) {
    removeStagedInstalls(options.raftDir);
    return false;
  }
  const staged = stagedDirOf(options.raftDir, marker.id);
  if (!fs.existsSync(path.join(staged, STAGED_STATE_FILE))) {
    throw new Error(`${options.raftDir}: the interrupted segment install ${marker.id} has no staged files; remove this node's data directory and add the node to its group again`);
  }
  options.log(`finishing the segment install ${marker.id} up to entry ${marker.index} that was interrupted`);
  MessageStore.completeInstall(options.storeDir, staged, marker.base);
  options.installState(fs.readFileSync(path.join(staged, STAGED_STATE_FILE)), installedMembership(marker));
  clearInstallMarker(options.raftDir);
  removeStagedInstalls(options.raftDir);
  return true;
}

export function raftDir(dataDir: string): string {
  return path.join(dataDir, 'raft');
}
