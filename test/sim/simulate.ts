// The deterministic simulation of one seed: a 3- or 5-voter group (plus spares in membership seeds)
// running the real RaftCore through SimNode drivers on one thread, with a ticking clock per node.
//
// Phase 1 (faults, `faultTicks`): crashes and restarts (with torn writes), symmetric and one-way
// partitions, pauses, message loss/duplication/reordering, client proposals, membership changes,
// leadership transfers and retention (forcing segment installs). Safety is checked on every event.
// Phase 2 (liveness): heal everything, restart every node, stop all faults; a leader must be elected
// and every client request made meanwhile must commit, and every member must catch up, within
// `livenessTicksMax` ticks.

import assert from 'node:assert/strict';

import { makeMembership } from '../../dledger/core/membership.js';
import { SeededPrng } from '../../dledger/core/prng.js';
import type { ConfChange, InstallSnapshotMessage, NodeId } from '../../dledger/core/types.js';
import { SafetyChecker, SafetyViolation } from './checkers.js';
import { drawOptions, nodeIds, type SimOptions } from './options.js';
import type { SimContext } from './sim-node.js';
import { SimNode } from './sim-node.js';
import type { LogImage, SimLog } from './sim-log.js';
import { SimNetwork } from './sim-network.js';

export class LivenessFailure extends Error {
  override readonly name = 'LivenessFailure';
}

export interface SimStats {
  ticks: number;
  elections: number;
  committed: number;
  crashes: number;
  messagesSent: number;
  messagesDropped: number;
  snapshots: number;
  membershipChanges: number;
  transfers: number;
}

export interface SimResult {
  readonly seed: number;
  readonly ok: boolean;
  readonly error: string | null;
  readonly options: SimOptions;
  readonly stats: SimStats;
}

export interface SimulateOptions {
  /** Receives one line per event (inputs, actions, faults). */
  readonly trace?: (line: string) => void;
  /** Replace drawn options (e.g. to shorten a run while debugging). */
  readonly overrides?: Partial<SimOptions>;
}

interface SnapshotTransfer {
  readonly from: SimNode;
  readonly fromIncarnation: number;
  readonly to: NodeId;
  readonly message: InstallSnapshotMessage;
  readonly image: LogImage;
  readonly doneAt: number;
}

interface ClientRequest {
  readonly copies: Array<{ index: number; id: string; term: number }>;
  done: boolean;
}

const REQUESTS_MAX = 64;

export function simulate(seed: number, simulateOptions: SimulateOptions = {}): SimResult {
  const options: SimOptions = { ...drawOptions(seed), ...simulateOptions.overrides };
  const simulation = new Simulation(options, simulateOptions.trace ?? null);
  let error: string | null = null;
  try {
    simulation.run();
  } catch (caught) {
    const failure = caught as Error;
    const known = failure instanceof SafetyViolation || failure instanceof LivenessFailure;
    error = known ? `${failure.name}: ${failure.message}` : String(failure.stack ?? failure);
    error = `t=${simulation.now}: ${error}`;
  }
  return { seed, ok: error === null, error, options, stats: simulation.stats() };
}

class Simulation implements SimContext {
  now = 0;
  readonly prng: SeededPrng;
  readonly network: SimNetwork;
  readonly checker = new SafetyChecker();
  readonly nodes: SimNode[];
  private readonly byId = new Map<NodeId, SimNode>();
  private readonly downUntil = new Map<NodeId, number>();
  private readonly crashAt = new Map<NodeId, number>();
  private faultPhase = true;
  private transfers: SnapshotTransfer[] = [];
  private partitionUntil = 0;
  private entrySeq = 0;
  private snapshots = 0;
  private membershipChanges = 0;
  private leadershipTransfers = 0;
  private requests: ClientRequest[] = [];

  constructor(
    readonly options: SimOptions,
    readonly trace: ((line: string) => void) | null,
  ) {
    this.prng = new SeededPrng(options.seed ^ 0x5eed);
    this.network = new SimNetwork({ ...options.network }, new SeededPrng(options.seed ^ 0x7e7));
    const ids = nodeIds(options);
    const initial = makeMembership(ids.slice(0, options.voterCount));
    this.nodes = ids.map((id) => new SimNode(id, this, initial));
    for (const node of this.nodes) {
      this.byId.set(node.id, node);
      if (node.id === options.slowDiskNode) node.disk.setLatencyMax(options.slowDiskLatencyMax);
      node.start();
    }
  }

  nextEntryId(prefix: string): string {
    return `${prefix}${++this.entrySeq}`;
  }

  run(): void {
    this.log(`options ${JSON.stringify(this.options)}`);
    for (let tick = 0; tick < this.options.faultTicks; tick++) {
      this.now++;
      this.injectFaults();
      this.step();
      this.client(this.options.proposalRate);
    }
    this.heal();
    this.liveness();
  }

  stats(): SimStats {
    return {
      ticks: this.now,
      elections: this.checker.elections,
      committed: this.checker.committedIndexMax,
      crashes: this.nodes.reduce((sum, node) => sum + node.crashes, 0),
      messagesSent: this.network.sent,
      messagesDropped: this.network.dropped,
      snapshots: this.snapshots,
      membershipChanges: this.membershipChanges,
      transfers: this.leadershipTransfers,
    };
  }

  startSnapshotTransfer(from: SimNode, message: InstallSnapshotMessage, image: LogImage): void {
    this.snapshots++;
    const network = this.options.network;
    const doneAt = this.now + this.prng.between(2, 4 * (network.delayMax + network.linkDelayExtraMax) + 2);
    this.transfers.push({ from, fromIncarnation: from.incarnation, to: message.to, message, image, doneAt });
  }

  durableLogOf(id: NodeId): SimLog {
    return (this.byId.get(id) as SimNode).disk.durable.log;
  }

  afterRiskyWrite(node: SimNode): void {
    if (!this.faultPhase || this.crashAt.has(node.id) || !this.prng.chance(this.options.crashAfterWriteRate)) return;
    // Before the writes made so far are all durable (at the latest in the tick they complete, since
    // crashes come before disk completions), and often the very next tick; back almost at once, in
    // time to hear a competing candidate of the same term.
    const latest = Math.max(this.now + 1, node.disk.lastDoneAtTick);
    this.crashAt.set(node.id, this.prng.chance(0.5) ? this.now + 1 : this.prng.between(this.now + 1, latest));
  }

  /** One tick of simulated time: deliveries, transfers, disk completions, clocks. */
  private step(): void {
    for (const envelope of this.network.due(this.now)) {
      const target = this.byId.get(envelope.message.to);
      if (target === undefined || !target.alive) continue;
      if (target.paused(this.now)) {
        this.network.defer(envelope, target.pausedUntil);
        continue;
      }
      target.deliver(envelope.message);
    }
    this.finishTransfers();
    for (const node of this.nodes) node.processDisk(this.now);
    for (const node of this.nodes) node.tick(this.now);
  }

  private finishTransfers(): void {
    if (this.transfers.length === 0) return;
    const due = this.transfers.filter((transfer) => transfer.doneAt <= this.now);
    this.transfers = this.transfers.filter((transfer) => transfer.doneAt > this.now);
    for (const transfer of due) {
      const target = this.byId.get(transfer.to) as SimNode;
      const linkUp = !this.network.isBlocked(transfer.from.id, transfer.to) && !this.network.isBlocked(transfer.to, transfer.from.id);
      const delivered = linkUp && transfer.from.alive && target.receiveSnapshot(transfer.message, transfer.image);
      if (transfer.from.alive && transfer.from.incarnation === transfer.fromIncarnation) {
        transfer.from.snapshotStatus(transfer.to, delivered);
      }
    }
  }

  // ------------------------------------------------------------------------------------- faults

  private injectFaults(): void {
    const { options, prng } = this;
    for (const [id, until] of this.downUntil) {
      if (until > this.now) continue;
      this.downUntil.delete(id);
      (this.byId.get(id) as SimNode).start();
    }
    for (const [id, at] of this.crashAt) {
      if (at > this.now) continue;
      this.crashAt.delete(id);
      const node = this.byId.get(id) as SimNode;
      if (!node.alive) continue;
      node.crash();
      this.downUntil.set(id, this.now + prng.between(1, 3));
    }
    if (prng.chance(options.crashRate)) {
      const alive = this.nodes.filter((node) => node.alive);
      if (alive.length > 0) this.crash(prng.pick(alive));
    }
    if (prng.chance(options.leaderCrashRate)) {
      const leader = this.currentLeader();
      if (leader !== null) this.crash(leader);
    }
    if (this.network.partitioned && this.now >= this.partitionUntil) {
      this.log('heal partition');
      this.network.healAll();
    }
    if (!this.network.partitioned && prng.chance(options.partitionRate)) this.partition();
    if (!this.network.partitioned && prng.chance(options.leaderIsolateRate)) this.isolateLeader();
    if (prng.chance(options.pauseRate)) {
      const node = prng.pick(this.nodes);
      node.pausedUntil = this.now + prng.between(1, options.pauseTicksMax);
      this.log(`pause ${node.id} until ${node.pausedUntil}`);
    }
    if (prng.chance(options.membershipRate)) this.changeMembership();
    if (prng.chance(options.transferRate)) this.transferLeadership();
    if (prng.chance(options.compactionRate)) prng.pick(this.nodes).compact(prng.between(0, 8));
  }

  private crash(victim: SimNode): void {
    victim.crash();
    // Restarts are quick more often than not: a leader that wrote locally comes back and campaigns.
    const restartTicks = this.prng.chance(0.5) ? this.prng.between(1, 5) : this.prng.between(1, this.options.restartTicksMax);
    this.downUntil.set(victim.id, this.now + restartTicks);
  }

  private isolateLeader(): void {
    const leader = this.currentLeader();
    if (leader === null) return;
    const sendsOnly = this.prng.chance(0.5);
    for (const node of this.nodes) {
      if (node === leader) continue;
      this.network.block(leader.id, node.id);
      if (!sendsOnly) this.network.block(node.id, leader.id);
    }
    this.partitionUntil = this.now + this.prng.between(1, 3 * this.options.electionTicks);
    this.log(`isolate leader ${leader.id}${sendsOnly ? ' (its sends only)' : ''} until ${this.partitionUntil}`);
  }

  private partition(): void {
    const { prng } = this;
    const ids = this.nodes.map((node) => node.id);
    const kind = prng.nextInt(4);
    const shuffled = ids.map((id) => ({ id, key: prng.nextU32() })).sort((a, b) => a.key - b.key);
    const sideSize = kind === 0 ? 1 : prng.between(1, Math.floor(ids.length / 2));
    const side = new Set(shuffled.slice(0, sideSize).map((entry) => entry.id));
    const oneWayOut = kind === 2; // side cannot send
    const oneWayIn = kind === 3; // side cannot receive
    for (const from of ids) {
      for (const to of ids) {
        if (side.has(from) === side.has(to)) continue;
        const fromSide = side.has(from);
        if (oneWayOut && !fromSide) continue;
        if (oneWayIn && fromSide) continue;
        this.network.block(from, to);
      }
    }
    this.partitionUntil = this.now + prng.between(5, this.options.partitionTicksMax);
    const mode = oneWayOut ? 'cannot send' : oneWayIn ? 'cannot receive' : 'isolated';
    this.log(`partition {${[...side].join(',')}} ${mode} until ${this.partitionUntil}`);
  }

  private currentLeader(): SimNode | null {
    let best: SimNode | null = null;
    for (const node of this.nodes) {
      const core = node.core;
      if (core === null || !core.isLeader || node.paused(this.now)) continue;
      if (best === null || core.term > (best.core?.term ?? 0)) best = node;
    }
    return best;
  }

  private changeMembership(): void {
    const leader = this.currentLeader();
    if (leader === null || leader.core === null) return;
    const membership = leader.core.activeMembership();
    const outsiders = this.nodes.filter((node) => !membership.voters.includes(node.id) && !membership.learners.includes(node.id));
    const choices: ConfChange[] = [];
    for (const node of outsiders) choices.push({ type: 'addLearner', node: node.id });
    for (const learner of membership.learners) {
      choices.push({ type: 'promote', node: learner });
      choices.push({ type: 'remove', node: learner });
    }
    if (membership.voters.length > 3) for (const voter of membership.voters) choices.push({ type: 'remove', node: voter });
    if (choices.length === 0) return;
    const change = this.prng.pick(choices);
    if (change.type === 'remove' && change.node === leader.id) {
      // Removing the leader: hand leadership over first; a later change removes it from the new leader.
      const others = membership.voters.filter((id) => id !== leader.id);
      leader.transferLeadership(this.prng.pick(others));
      return;
    }
    const reason = leader.proposeConfChange(change);
    if (reason === null) this.membershipChanges++;
    else this.log(`${change.type} ${change.node} refused: ${reason}`);
  }

  private transferLeadership(): void {
    const leader = this.currentLeader();
    if (leader === null || leader.core === null) return;
    const voters = leader.core.activeMembership().voters.filter((id) => id !== leader.id);
    if (voters.length === 0) return;
    const target = this.prng.pick(voters);
    this.log(`transfer leadership ${leader.id} -> ${target}`);
    this.leadershipTransfers++;
    leader.transferLeadership(target);
  }

  // ------------------------------------------------------------------------------------- client

  /** Proposes to whichever node currently leads (possibly a stale leader), and tracks requests. */
  private client(rate: number): void {
    if (!this.prng.chance(rate)) return;
    const leader = this.currentLeader();
    if (leader === null) return;
    leader.propose(this.prng.between(1, this.options.proposalEntriesMax));
  }

  private submit(request: ClientRequest, leader: SimNode): void {
    const entries = leader.propose(1);
    if (entries === null) return;
    const entry = entries[0];
    assert(entry !== undefined);
    request.copies.push({ index: entry.index, id: entry.id, term: entry.term });
  }

  private requestDone(request: ClientRequest): boolean {
    if (request.done) return true;
    request.done = request.copies.some((copy) => this.checker.committedEntry(copy.index)?.id === copy.id);
    return request.done;
  }

  // ----------------------------------------------------------------------------------- liveness

  private heal(): void {
    this.log('HEAL: all faults off, every node up');
    this.faultPhase = false;
    this.crashAt.clear();
    for (const node of this.nodes) node.disk.setLatencyMax(this.options.diskLatencyMax);
    this.network.healAll();
    this.network.faults.dropRate = 0;
    this.network.faults.duplicateRate = 0;
    for (const node of this.nodes) {
      node.pausedUntil = 0;
      if (!node.alive) node.start();
    }
    this.downUntil.clear();
  }

  private liveness(): void {
    let lastMax = 0;
    let commitMin = Number.MAX_SAFE_INTEGER;
    for (const node of this.nodes) {
      lastMax = Math.max(lastMax, node.disk.log.lastIndex());
      commitMin = Math.min(commitMin, node.core?.commitIndex ?? 0);
    }
    const budget = this.options.livenessTicksMax + this.options.livenessTicksPerEntry * (lastMax - commitMin);
    const deadline = this.now + budget;
    let issued = 0;
    while (this.now < deadline) {
      this.now++;
      this.step();
      const leader = this.currentLeader();
      if (leader === null || leader.core === null) continue;
      if (issued < this.options.livenessRequests && this.prng.chance(0.3)) {
        assert(this.requests.length < REQUESTS_MAX);
        this.requests.push({ copies: [], done: false });
        issued++;
      }
      for (const request of this.requests) {
        if (this.requestDone(request)) continue;
        const latest = request.copies[request.copies.length - 1];
        if (latest === undefined || latest.term < leader.core.term) this.submit(request, leader);
      }
      if (issued === this.options.livenessRequests && this.requests.every((request) => this.requestDone(request)) && this.converged(leader)) {
        this.log(`liveness satisfied at t=${this.now}`);
        return;
      }
    }
    const leader = this.currentLeader();
    const pending = this.requests.filter((request) => !request.done).length;
    const progress = leader?.core?.status().progress.map((p) => `${p.id}:${p.state}/match${p.match}/next${p.next}/inflight${p.inflightBatches}`);
    throw new LivenessFailure(
      `no convergence within ${budget} ticks after healing: leader=${leader?.id ?? 'none'} ` +
        `requests pending=${pending}/${this.options.livenessRequests} ${this.describeNodes()} progress=${progress?.join(' ') ?? '-'}`,
    );
  }

  /** Every member of the leader's configuration has caught up with the leader's commit index. */
  private converged(leader: SimNode): boolean {
    const core = leader.core;
    if (core === null) return false;
    const membership = core.activeMembership();
    for (const id of [...membership.voters, ...membership.learners]) {
      const node = this.byId.get(id) as SimNode;
      if (node.core === null || node.core.commitIndex < core.commitIndex) return false;
    }
    return true;
  }

  private describeNodes(): string {
    return this.nodes
      .map((node) => {
        const core = node.core;
        if (core === null) return `${node.id}:down`;
        const status = core.status();
        return `${node.id}:${status.role}/t${status.term}/commit${status.commitIndex}/last${status.lastIndex}`;
      })
      .join(' ');
  }

  private log(text: string): void {
    if (this.trace !== null) this.trace(`t=${this.now} sim ${text}`);
  }
}
