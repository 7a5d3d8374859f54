// RaftCore: the pure, deterministic, synchronous Raft state machine of one node.
//
// ============================================ DRIVER CONTRACT ============================================
// (Also in dledger/core/README.md. The production driver and the simulator in test/sim obey the same rules.)
//
// Inputs.  `tick()` once per tick period; `step(input)` for every peer message received and every local
// event (types.ts: appended, persisted, snapshotStatus, transferLeadership, unreachable, campaign).
// Both return an ordered list of actions. Queries (`canPropose`, `planConfChange`, `learnerReadiness`,
// `canTransferLeadership`, `status`, `membershipState`) change nothing.
//
// R1  Execute the returned actions in order, all of them, before calling into the core again.
//     Log mutations (`truncate`, `appendEntries`, `installSnapshot`) must be visible through LogView by
//     the next call; their durability may complete later.
// R2  Persistence actions (`persistHardState`, `truncate`, `appendEntries`, `installSnapshot`) become
//     durable in the order they were emitted. Leader writes made by the driver (below) join the same
//     order: they are durable only after every persistence action emitted before them.
// R3  `send` with `afterPersist: true` leaves only once every persistence action emitted before it (in
//     this or an earlier call) is durable. Other sends may leave at once. The transport may drop,
//     duplicate and reorder messages; the core tolerates it.
// R4  After durable progress, step `{ type: 'persisted', index, term }`: the log through `index`
//     (whose entry has `term`) and every earlier persistence action are durable. Reports about entries
//     that were truncated since are recognised by their term and ignored.
// R5  Proposals (leader): `canPropose()` must return null; then write entries at lastIndex()+1.. with
//     term `core.term` and immediately step `{ type: 'appended', lastIndex, bytes }`, with no other
//     core call in between. A configuration change is planned with `planConfChange(change)`, written as
//     a single entry and stepped as `appended` with `confChange: { index, membership }`.
// R6  On `roleChanged` to `leader`, append one no-op entry of the new term at once and step `appended`
//     (nothing of an earlier term is committed until an entry of the leader's term is).
// R7  `send` of an `append` message with lastIndex > prevIndex: attach the entries prevIndex+1..lastIndex
//     as `message.payload` (read them while executing the action). The follower's core hands that
//     payload back in `appendEntries`; write its entries fromIndex..lastIndex (skip the ones before).
// R8  `sendSnapshot`: transfer the segments holding entries up to `message.index` out of band; when they
//     have arrived (staged on the follower, not yet adopted), step `message` into the follower's core.
//     If it answers with `installSnapshot`, adopt them so that lastIndex() === index and
//     term(index) === message.indexTerm (firstIndex() may be anything <= index+1); otherwise discard
//     them. On the leader, step `snapshotStatus { to, ok }` when the transfer finished or failed.
// R9  `commit { index }`: entries through index are committed; apply them in order (after an
//     `installSnapshot`, entries through the snapshot index count as applied by the install).
// R10 Construct a core only from durable state: the hard state, a LogView of the durable log, and the
//     membership (MembershipState: a committed base plus every configuration entry of the log above it).
//     Retention may drop entries up to the applied index at any time between calls.
//
// Decisions (reasons in README.md): a configuration takes effect as soon as its entry is in a node's
// log (thesis 4.1), one single-server change at a time, and only once the leader has committed an
// entry of its own term. Segment installs are cut at the leader's commit index. A leader counts its
// own log toward commit only up to its durable index.
// ========================================================================================================

import assert from 'node:assert/strict';

import { ByteMarks } from './byte-marks.js';
import { planFollowerAppend } from './follower-append.js';
import {
  APPENDED_MARKS_MAX,
  CONF_ENTRIES_MAX,
  CONF_ENTRIES_PER_APPEND_MAX,
  PREFERRED_LEADER_RETRY_ELECTIONS,
  type RaftConfig,
  resolveRaftConfig,
  TERM_RUNS_PER_APPEND_MAX,
} from './limits.js';
import { lastIndexWithTermAtMost, lastTermOf, type LogView, termAt, termRunsOf } from './log-view.js';
import {
  applyConfChange,
  isLearner,
  isMember,
  isSingleStep,
  isVoter,
  members,
  MembershipTracker,
} from './membership.js';
import { invalidMessage } from './messages.js';
import { Progress, ProgressState } from './progress.js';
import type { Prng } from './prng.js';
import { hasActiveQuorum, quorumMatchIndex, VoteOutcome, voteOutcome } from './quorum.js';
import {
  AppendReject,
  ConfChangeReject,
  IgnoreReason,
  LearnerLag,
  ProposeReject,
  TransferReject,
  VoteReject,
} from './reasons.js';
import {
  type Action,
  type AppendedEvent,
  type AppendMessage,
  type AppendResponseMessage,
  type ConfChange,
  type HardState,
  type HeartbeatMessage,
  type Input,
  type InstallSnapshotMessage,
  type LocalEvent,
  type Membership,
  type MembershipState,
  type Message,
  type NodeId,
  type PreVoteMessage,
  Role,
  type VoteMessage,
  type VoteResponseMessage,
} from './types.js';

type CoreRole = typeof Role.Follower | typeof Role.PreCandidate | typeof Role.Candidate | typeof Role.Leader;

const CampaignKind = { PreVote: 'preVote', Vote: 'vote', Transfer: 'transfer' } as const;
type CampaignKind = (typeof CampaignKind)[keyof typeof CampaignKind];

export interface RaftCoreOptions {
  readonly id: NodeId;
  readonly log: LogView;
  readonly rng: Prng;
  readonly hardState: HardState;
  readonly membership: MembershipState;
  /** An index the driver knows to be committed (e.g. its applied checkpoint); at least firstIndex()-1 is assumed. */
  readonly commitIndex?: number;
  readonly config?: Partial<RaftConfig>;
}

export interface ProgressStatus {
  readonly id: NodeId;
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly inflightBatches: number;
  readonly inflightBytes: number;
  readonly recentActive: boolean;
  readonly pendingSnapshot: number;
}

export interface RaftStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly votedFor: NodeId | null;
  readonly leaderId: NodeId | null;
  readonly commitIndex: number;
  readonly durableIndex: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly membership: Membership;
  readonly transferee: NodeId | null;
  readonly electionsStarted: number;
  readonly electionsWon: number;
  readonly preVotesStarted: number;
  /** Leader only: one entry per other member. */
  readonly progress: readonly ProgressStatus[];
}

export type ConfChangePlan =
  | { readonly ok: true; readonly membership: Membership }
  | { readonly ok: false; readonly reason: ConfChangeReject };

export class RaftCore {
  readonly id: NodeId;
  readonly config: RaftConfig;
  private readonly log: LogView;
  private readonly rng: Prng;

  // Persistent state (Raft figure 2), durable through persistHardState actions.
  private currentTerm: number;
  private votedFor: NodeId | null;

  // Volatile state of every role.
  private role: CoreRole = Role.Follower;
  private leader: NodeId | null = null;
  private commit: number;
  /** The log is known durable through this index (R4). */
  private durableIndex: number;
  private electionElapsed = 0;
  private randomizedElectionTicks = 0;
  private readonly membership: MembershipTracker;

  // Candidates.
  private readonly votes = new Map<NodeId, boolean>();

  // Leaders.
  private readonly progress = new Map<NodeId, Progress>();
  private heartbeatElapsed = 0;
  private transferee: NodeId | null = null;
  private transferElapsed = 0;
  private preferredCooldownTicks = 0;
  private readonly marks = new ByteMarks(APPENDED_MARKS_MAX);

  // Observability.
  private electionsStarted = 0;
  private electionsWon = 0;
  private preVotesStarted = 0;
  private reportedRole: Role;
  private reportedLeader: NodeId | null = null;

  private actions: Action[] = [];

  constructor(options: RaftCoreOptions) {
    assert(options.id.length > 0, 'node id must not be empty');
    this.id = options.id;
    this.config = resolveRaftConfig(options.config);
    this.log = options.log;
    this.rng = options.rng;
    const { term, votedFor } = options.hardState;
    assert(Number.isSafeInteger(term) && term >= 0, 'hard state term');
    this.currentTerm = term;
    this.votedFor = votedFor;

    const firstIndex = this.log.firstIndex();
    const lastIndex = this.log.lastIndex();
    assert(lastIndex >= firstIndex - 1, 'LogView: lastIndex below firstIndex-1');
    assert(lastTermOf(this.log) <= term, 'log holds a term above the durable current term');
    this.commit = Math.max(options.commitIndex ?? 0, firstIndex - 1);
    assert(this.commit <= lastIndex, 'commit index beyond the log');
    this.durableIndex = lastIndex;
    this.membership = new MembershipTracker(options.membership, CONF_ENTRIES_MAX);
    assert(this.membership.baseIndex() <= this.commit, 'membership base must be committed');
    for (const entry of options.membership.entries) {
      assert(entry.index <= lastIndex, 'configuration entry beyond the log');
    }
    this.resetRandomizedElectionTicks();
    this.reportedRole = this.publicRole();
  }

  // --------------------------------------------------------------------------------------- queries

  get term(): number {
    return this.currentTerm;
  }

  get commitIndex(): number {
    return this.commit;
  }

  get leaderId(): NodeId | null {
    return this.leader;
  }

  get isLeader(): boolean {
    return this.role === Role.Leader;
  }

  /** The role as reported to the outside world: `learner` for a follower that is a learner. */
  publicRole(): Role {
    if (this.role === Role.Follower && isLearner(this.membership.active(), this.id)) return Role.Learner;
    return this.role;
  }

  activeMembership(): Membership {
    return this.membership.active();
  }

  /** For the driver to checkpoint along with its applied index (R10). */
  membershipState(): MembershipState {
    return this.membership.state();
  }

  /** Null when a proposal may be written now (R5), otherwise why not. */
  canPropose(): ProposeReject | null {
    if (this.role !== Role.Leader) return ProposeReject.NotLeader;
    if (this.transferee !== null) return ProposeReject.Transferring;
    const lastIndex = this.log.lastIndex();
    if (termAt(this.log, lastIndex) !== this.currentTerm) return ProposeReject.NoopPending;
    if (lastIndex - this.commit >= this.config.uncommittedEntriesMax) return ProposeReject.UncommittedEntriesFull;
    if (this.marks.bytesAfter(this.commit) >= this.config.uncommittedBytesMax) return ProposeReject.UncommittedBytesFull;
    return null;
  }

  /** Checks a single-server membership change and computes the membership to write (R5). */
  planConfChange(change: ConfChange): ConfChangePlan {
    const proposeReason = this.canPropose();
    if (proposeReason !== null) return { ok: false, reason: proposeReason };
    if (termAt(this.log, this.commit) !== this.currentTerm) return { ok: false, reason: ConfChangeReject.TermNotCommitted };
    if (this.membership.latest().index > this.commit) return { ok: false, reason: ConfChangeReject.ConfChangePending };
    if (change.type === 'remove' && change.node === this.id) return { ok: false, reason: ConfChangeReject.RemovingLeader };
    if (change.type === 'promote' && this.learnerReadiness(change.node) !== null) {
      return { ok: false, reason: ConfChangeReject.LearnerLagging };
    }
    const next = applyConfChange(this.membership.active(), change);
    if (typeof next === 'string') return { ok: false, reason: next };
    return { ok: true, membership: next };
  }

  /** Null when the learner is caught up enough to be promoted, otherwise what is missing. */
  learnerReadiness(node: NodeId): LearnerLag | null {
    if (this.role !== Role.Leader) return LearnerLag.NotLeader;
    if (!isLearner(this.membership.active(), node)) return LearnerLag.NotLearner;
    const progress = this.progress.get(node);
    assert(progress !== undefined, 'every member has a progress');
    if (progress.state !== ProgressState.Replicate) return LearnerLag.NotReplicating;
    if (!progress.recentActive) return LearnerLag.NotRecentlyActive;
    if (progress.match + this.config.learnerCatchUpLagEntries < this.log.lastIndex()) return LearnerLag.TooFarBehind;
    return null;
  }

  canTransferLeadership(to: NodeId): TransferReject | null {
    if (this.role !== Role.Leader) return TransferReject.NotLeader;
    if (this.transferee !== null) return TransferReject.AlreadyTransferring;
    if (to === this.id) return TransferReject.TargetIsSelf;
    if (!isVoter(this.membership.active(), to)) return TransferReject.TargetNotVoter;
    return null;
  }

  status(): RaftStatus {
    const progress: ProgressStatus[] = [];
    for (const [id, pr] of this.progress) {
      progress.push({
        id,
        match: pr.match,
        next: pr.next,
        state: pr.state,
        inflightBatches: pr.inflights.batches,
        inflightBytes: pr.inflights.bytes,
        recentActive: pr.recentActive,
        pendingSnapshot: pr.pendingSnapshot,
      });
    }
    return {
      id: this.id,
      role: this.publicRole(),
      term: this.currentTerm,
      votedFor: this.votedFor,
      leaderId: this.leader,
      commitIndex: this.commit,
      durableIndex: this.durableIndex,
      firstIndex: this.log.firstIndex(),
      lastIndex: this.log.lastIndex(),
      membership: this.membership.active(),
      transferee: this.transferee,
      electionsStarted: this.electionsStarted,
      electionsWon: this.electionsWon,
      preVotesStarted: this.preVotesStarted,
      progress,
    };
  }

  // ---------------------------------------------------------------------------------------- inputs

  tick(): Action[] {
    this.begin();
    if (this.role === Role.Leader) this.tickLeader();
    else this.tickElection();
    return this.finish();
  }

  step(input: Input): Action[] {
    this.begin();
    if (isLocalEvent(input)) this.stepLocal(input);
    else this.stepMessage(input);
    return this.finish();
  }

  private begin(): void {
    assert(this.actions.length === 0, 're-entrant call into the core');
    const lastIndex = this.log.lastIndex();
    assert(this.commit <= lastIndex, 'commit index beyond the log (driver skipped an action?)');
    assert(this.durableIndex <= lastIndex, 'durable index beyond the log');
    assert(this.membership.baseIndex() <= this.commit);
  }

  private finish(): Action[] {
    this.reportRole();
    const actions = this.actions;
    this.actions = [];
    return actions;
  }

  private stepLocal(event: LocalEvent): void {
    switch (event.type) {
      case 'appended':
        return this.handleAppended(event);
      case 'persisted':
        return this.handlePersisted(event.index, event.term);
      case 'snapshotStatus':
        return this.handleSnapshotStatus(event.to, event.ok);
      case 'transferLeadership':
        return this.handleTransferRequest(event.to);
      case 'unreachable':
        return this.handleUnreachable(event.to);
      case 'campaign':
        if (this.role === Role.Leader) return this.ignore(event, IgnoreReason.StaleResponse);
        if (!isVoter(this.membership.active(), this.id)) return this.ignore(event, IgnoreReason.NotVoter);
        return this.campaign(this.config.preVote ? CampaignKind.PreVote : CampaignKind.Vote);
    }
  }

  private stepMessage(message: Message): void {
    const invalid = invalidMessage(message);
    if (invalid !== null) return this.ignore(message, IgnoreReason.InvalidMessage);
    if (message.to !== this.id) return this.ignore(message, IgnoreReason.WrongRecipient);
    if (message.term > this.currentTerm) {
      if (!this.adoptHigherTerm(message)) return;
    } else if (message.term < this.currentTerm) {
      return this.handleStaleTerm(message);
    }
    this.dispatch(message);
  }

  /**
   * A message from a higher term. Returns false when it must be dropped instead (a vote request
   * inside the leader lease). Pre-vote traffic never changes our term.
   */
  private adoptHigherTerm(message: Message): boolean {
    if (message.type === 'preVote' || message.type === 'vote') {
      const transfer = message.type === 'vote' && message.transfer;
      if (this.inLease() && !transfer) {
        this.ignore(message, IgnoreReason.InLease);
        return false;
      }
    }
    if (message.type === 'preVote') return true;
    if (message.type === 'preVoteResponse' && message.granted) return true;
    const fromLeader = message.type === 'append' || message.type === 'heartbeat' || message.type === 'installSnapshot';
    this.becomeFollower(message.term, fromLeader ? message.from : null);
    return true;
  }

  /**
   * A message from a lower term. A deposed leader gets an answer carrying our term so it steps down
   * (needed with check-quorum/pre-vote, where our term may have moved without it hearing); a stale
   * pre-candidate learns it is behind. Everything else is dropped.
   */
  private handleStaleTerm(message: Message): void {
    if (message.type === 'append' || message.type === 'heartbeat') {
      this.send(
        {
          type: 'appendResponse',
          from: this.id,
          to: message.from,
          term: this.currentTerm,
          success: false,
          index: 0,
          hintIndex: 0,
          hintTerm: 0,
          reason: AppendReject.StaleTerm,
        },
        true,
      );
      return;
    }
    if (message.type === 'preVote') {
      this.sendVoteResponse(message, this.currentTerm, VoteReject.StaleTerm);
      return;
    }
    this.ignore(message, IgnoreReason.StaleTerm);
  }

  private dispatch(message: Message): void {
    switch (message.type) {
      case 'preVote':
      case 'vote':
        return this.handleVoteRequest(message);
      case 'preVoteResponse':
      case 'voteResponse':
        return this.handleVoteResponse(message);
      case 'append':
      case 'heartbeat':
      case 'installSnapshot':
        return this.handleFromLeader(message);
      case 'appendResponse':
        if (this.role !== Role.Leader) return this.ignore(message, IgnoreReason.NotLeader);
        return this.handleAppendResponse(message);
      case 'heartbeatResponse':
        if (this.role !== Role.Leader) return this.ignore(message, IgnoreReason.NotLeader);
        return this.handleHeartbeatResponse(message.from);
      case 'timeoutNow':
        return this.handleTimeoutNow(message);
    }
  }

  // ------------------------------------------------------------------------------------- elections

  private tickElection(): void {
    this.electionElapsed = Math.min(this.electionElapsed + 1, 2 * this.config.electionTicks);
    if (this.electionElapsed < this.randomizedElectionTicks) return;
    this.electionElapsed = 0;
    if (!isVoter(this.membership.active(), this.id)) return; // learners and removed nodes never campaign
    this.campaign(this.config.preVote ? CampaignKind.PreVote : CampaignKind.Vote);
  }

  /** Check-quorum lease: we heard from a live leader within the (minimum) election timeout. */
  private inLease(): boolean {
    return this.config.checkQuorum && this.leader !== null && this.electionElapsed < this.config.electionTicks;
  }

  private campaign(kind: CampaignKind): void {
    assert(this.role !== Role.Leader, 'a leader does not campaign');
    assert(isVoter(this.membership.active(), this.id), 'only voters campaign');
    if (kind === CampaignKind.PreVote) this.becomePreCandidate();
    else this.becomeCandidate();
    this.votes.clear();
    this.votes.set(this.id, true);
    if (voteOutcome(this.membership.active().voters, this.votes) === VoteOutcome.Won) {
      // A single voter: its own (durable, R2) vote decides.
      if (kind === CampaignKind.PreVote) this.campaign(CampaignKind.Vote);
      else this.becomeLeader();
      return;
    }
    const lastIndex = this.log.lastIndex();
    const lastTerm = termAt(this.log, lastIndex);
    for (const voter of this.membership.active().voters) {
      if (voter === this.id) continue;
      if (kind === CampaignKind.PreVote) {
        this.send({ type: 'preVote', from: this.id, to: voter, term: this.currentTerm + 1, lastIndex, lastTerm }, false);
      } else {
        const transfer = kind === CampaignKind.Transfer;
        // afterPersist: our own vote (and term) must be durable before it can help win the election.
        this.send({ type: 'vote', from: this.id, to: voter, term: this.currentTerm, lastIndex, lastTerm, transfer }, true);
      }
    }
  }

  private handleVoteRequest(message: PreVoteMessage | VoteMessage): void {
    const preVote = message.type === 'preVote';
    const canVote =
      this.votedFor === message.from ||
      (this.votedFor === null && this.leader === null) ||
      (preVote && message.term > this.currentTerm);
    let reason: VoteReject | null;
    if (!canVote) reason = this.votedFor === null ? VoteReject.LeaderKnown : VoteReject.AlreadyVoted;
    else reason = this.logNotUpToDate(message.lastIndex, message.lastTerm);
    if (reason !== null) return this.sendVoteResponse(message, this.currentTerm, reason);
    if (preVote) return this.sendVoteResponse(message, message.term, null);
    assert(message.term === this.currentTerm);
    this.electionElapsed = 0;
    this.setHardState(this.currentTerm, message.from);
    this.sendVoteResponse(message, this.currentTerm, null);
  }

  /** Raft 5.4.1: vote only for a candidate whose log is at least as up-to-date as ours. */
  private logNotUpToDate(lastIndex: number, lastTerm: number): VoteReject | null {
    const ourLastIndex = this.log.lastIndex();
    const ourLastTerm = termAt(this.log, ourLastIndex);
    if (lastTerm < ourLastTerm) return VoteReject.StaleLogTerm;
    if (lastTerm === ourLastTerm && lastIndex < ourLastIndex) return VoteReject.ShortLog;
    return null;
  }

  private sendVoteResponse(request: PreVoteMessage | VoteMessage, term: number, reason: VoteReject | null): void {
    // A vote answer waits for the persisted vote/term; a pre-vote answer changes no state.
    const preVote = request.type === 'preVote';
    const type = preVote ? 'preVoteResponse' : 'voteResponse';
    this.send({ type, from: this.id, to: request.from, term, granted: reason === null, reason }, !preVote);
  }

  private handleVoteResponse(message: VoteResponseMessage): void {
    const preVote = message.type === 'preVoteResponse';
    const expectedRole = preVote ? Role.PreCandidate : Role.Candidate;
    // A granted pre-vote carries the term we would campaign in; a rejection carries the voter's term.
    const expectedTerm = preVote && message.granted ? this.currentTerm + 1 : this.currentTerm;
    if (this.role !== expectedRole || message.term !== expectedTerm) {
      return this.ignore(message, IgnoreReason.StaleResponse);
    }
    this.votes.set(message.from, message.granted);
    const outcome = voteOutcome(this.membership.active().voters, this.votes);
    if (outcome === VoteOutcome.Won) {
      if (preVote) this.campaign(CampaignKind.Vote);
      else this.becomeLeader();
    } else if (outcome === VoteOutcome.Lost) {
      this.becomeFollower(this.currentTerm, null);
    }
  }

  private handleTimeoutNow(message: Message): void {
    if (this.role === Role.Leader) return this.ignore(message, IgnoreReason.StaleResponse);
    if (!isVoter(this.membership.active(), this.id)) return this.ignore(message, IgnoreReason.NotVoter);
    this.campaign(CampaignKind.Transfer);
  }

  // ----------------------------------------------------------------------------------- transitions

  private becomeFollower(term: number, leader: NodeId | null): void {
    assert(term >= this.currentTerm);
    if (term > this.currentTerm) this.setHardState(term, null);
    if (this.role === Role.Leader) this.clearLeaderState();
    this.role = Role.Follower;
    this.leader = leader;
    this.votes.clear();
    this.electionElapsed = 0;
    this.resetRandomizedElectionTicks();
  }

  private becomePreCandidate(): void {
    assert(this.role !== Role.Leader, 'invalid transition leader -> preCandidate');
    this.role = Role.PreCandidate;
    this.leader = null;
    this.electionElapsed = 0;
    this.resetRandomizedElectionTicks();
    this.preVotesStarted++;
  }

  private becomeCandidate(): void {
    assert(this.role !== Role.Leader, 'invalid transition leader -> candidate');
    this.setHardState(this.currentTerm + 1, this.id);
    this.role = Role.Candidate;
    this.leader = null;
    this.electionElapsed = 0;
    this.resetRandomizedElectionTicks();
    this.electionsStarted++;
  }

  private becomeLeader(): void {
    assert(this.role === Role.Candidate, `invalid transition ${this.role} -> leader`);
    assert(this.votedFor === this.id);
    this.role = Role.Leader;
    this.leader = this.id;
    this.votes.clear();
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.transferee = null;
    this.preferredCooldownTicks = 0;
    const lastIndex = this.log.lastIndex();
    this.marks.reset(lastIndex);
    this.progress.clear();
    for (const id of members(this.membership.active())) {
      if (id !== this.id) this.addProgress(id, lastIndex + 1);
    }
    this.electionsWon++;
    // R6: the driver appends the no-op now; replication starts with its `appended` event.
  }

  private clearLeaderState(): void {
    this.progress.clear();
    this.transferee = null;
    this.heartbeatElapsed = 0;
  }

  private addProgress(id: NodeId, next: number): void {
    const progress = new Progress(next, this.config.inflightBatchesMax, this.config.inflightBytesMax);
    progress.recentActive = true; // a grace period, so a new leader is not deposed before hearing back
    this.progress.set(id, progress);
  }

  private setHardState(term: number, votedFor: NodeId | null): void {
    assert(term >= this.currentTerm, 'term never decreases');
    assert(term > this.currentTerm || this.votedFor === null || this.votedFor === votedFor, 'one vote per term');
    this.currentTerm = term;
    this.votedFor = votedFor;
    // A term bump directly followed by a vote becomes one write: nothing was emitted in between.
    const last = this.actions[this.actions.length - 1];
    if (last?.type === 'persistHardState') this.actions.pop();
    this.actions.push({ type: 'persistHardState', term, votedFor });
  }

  private resetRandomizedElectionTicks(): void {
    this.randomizedElectionTicks = this.config.electionTicks + this.rng.nextInt(this.config.electionTicks);
  }

  private reportRole(): void {
    const role = this.publicRole();
    if (role === this.reportedRole && this.leader === this.reportedLeader) return;
    this.reportedRole = role;
    this.reportedLeader = this.leader;
    this.actions.push({ type: 'roleChanged', role, term: this.currentTerm, leaderId: this.leader });
  }

  // ----------------------------------------------------------------------------- follower: the log

  private handleFromLeader(message: AppendMessage | HeartbeatMessage | InstallSnapshotMessage): void {
    assert(message.term === this.currentTerm);
    assert(this.role !== Role.Leader, `two leaders in term ${this.currentTerm}: ${this.id} and ${message.from}`);
    if (this.role !== Role.Follower) this.becomeFollower(this.currentTerm, message.from);
    this.leader = message.from;
    this.electionElapsed = 0;
    if (message.type === 'append') this.handleAppend(message);
    else if (message.type === 'heartbeat') this.handleHeartbeat(message);
    else this.handleInstallSnapshot(message);
  }

  private handleAppend(message: AppendMessage): void {
    const plan = planFollowerAppend(this.log, this.commit, message);
    if (plan.kind === 'belowCommit') return this.sendAppendResponse(message.from, true, this.commit, null);
    if (plan.kind === 'reject') {
      return this.sendAppendResponse(message.from, false, message.prevIndex, plan.reason, plan.hintIndex, plan.hintTerm);
    }
    if (plan.truncateFrom !== null) {
      this.actions.push({ type: 'truncate', fromIndex: plan.truncateFrom });
      this.membership.truncateFrom(plan.truncateFrom);
      this.durableIndex = Math.min(this.durableIndex, plan.truncateFrom - 1);
    }
    if (plan.writeFrom !== null) {
      const writeFrom = plan.writeFrom;
      this.actions.push({ type: 'appendEntries', fromIndex: writeFrom, lastIndex: message.lastIndex, payload: message.payload });
      for (const entry of message.confEntries) {
        if (entry.index >= writeFrom) this.addConfEntry(entry);
      }
    }
    const commit = Math.min(message.commit, message.lastIndex);
    if (commit > this.commit) this.advanceCommit(commit);
    this.sendAppendResponse(message.from, true, message.lastIndex, null);
  }

  private handleHeartbeat(message: HeartbeatMessage): void {
    if (message.commit > this.commit) {
      // The leader sends min(our match, its commit), and our match only covers durable entries.
      assert(message.commit <= this.log.lastIndex(), 'heartbeat commit beyond the log');
      this.advanceCommit(message.commit);
    }
    this.send({ type: 'heartbeatResponse', from: this.id, to: message.from, term: this.currentTerm }, false);
  }

  private handleInstallSnapshot(message: InstallSnapshotMessage): void {
    if (message.index <= this.commit) {
      this.ignore(message, IgnoreReason.SnapshotNotNewer);
      return this.sendAppendResponse(message.from, true, this.commit, null);
    }
    if (this.log.term(message.index) === message.indexTerm) {
      // We already hold that entry, hence everything before it: only the commit index moves.
      this.advanceCommit(message.index);
      return this.sendAppendResponse(message.from, true, message.index, null);
    }
    this.actions.push({ type: 'installSnapshot', index: message.index, term: message.indexTerm, membership: message.membership });
    this.membership.reset({ index: message.index, membership: message.membership });
    this.durableIndex = Math.min(this.durableIndex, this.commit);
    this.advanceCommit(message.index);
    this.sendAppendResponse(message.from, true, message.index, null);
  }

  private sendAppendResponse(
    to: NodeId,
    success: boolean,
    index: number,
    reason: AppendReject | null,
    hintIndex = 0,
    hintTerm = 0,
  ): void {
    // afterPersist: the answer describes our log and term, which must be durable first (R3).
    this.send(
      { type: 'appendResponse', from: this.id, to, term: this.currentTerm, success, index, hintIndex, hintTerm, reason },
      true,
    );
  }

  private addConfEntry(entry: { index: number; membership: Membership }): void {
    // Keep as many entries as allowed: a follower that needs one folded away gets a segment install.
    if (this.membership.count() >= CONF_ENTRIES_MAX) this.membership.foldOldest(this.commit);
    this.membership.add(entry);
  }

  private advanceCommit(index: number): void {
    assert(index > this.commit, 'the commit index never moves backwards');
    this.commit = index;
    this.actions.push({ type: 'commit', index });
    // Configuration entries below the stored log can no longer be sent to anyone.
    this.membership.foldThrough(Math.min(index, this.log.firstIndex() - 1));
  }

  private handlePersisted(index: number, term: number): void {
    if (index <= this.durableIndex) return;
    if (index > this.log.lastIndex() || this.log.term(index) !== term) {
      return this.ignore({ type: 'persisted', index, term }, IgnoreReason.StalePersisted);
    }
    this.durableIndex = index;
    if (this.role === Role.Leader) this.maybeCommit();
  }

  // ---------------------------------------------------------------------------- leader: replication

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.preferredCooldownTicks > 0) this.preferredCooldownTicks--;
    if (this.transferee !== null && ++this.transferElapsed >= this.config.electionTicks) this.abortTransfer();
    if (this.electionElapsed >= this.config.electionTicks) {
      this.electionElapsed = 0;
      if (this.config.checkQuorum && !this.checkQuorum()) return;
      for (const progress of this.progress.values()) progress.recentActive = false;
    }
    if (this.heartbeatElapsed >= this.config.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.broadcastHeartbeat();
      this.maybeTransferToPreferred();
    }
  }

  /** Steps down without a recently active majority; returns whether we are still leader. */
  private checkQuorum(): boolean {
    const voters = this.membership.active().voters;
    const active = hasActiveQuorum(voters, (id) => id === this.id || this.progress.get(id)?.recentActive === true);
    if (!active) this.becomeFollower(this.currentTerm, null);
    return active;
  }

  private broadcastHeartbeat(): void {
    for (const [id, progress] of this.progress) {
      progress.appendSentSinceHeartbeat = false;
      this.sendHeartbeat(id, progress);
    }
  }

  private sendHeartbeat(to: NodeId, progress: Progress): void {
    const commit = Math.min(progress.match, this.commit);
    progress.commitSent = Math.max(progress.commitSent, commit);
    this.send({ type: 'heartbeat', from: this.id, to, term: this.currentTerm, commit }, false);
  }

  private handleAppended(event: AppendedEvent): void {
    assert(this.role === Role.Leader, 'appended outside leadership (R5: canPropose first)');
    const lastIndex = this.log.lastIndex();
    assert(event.lastIndex === lastIndex, 'appended: lastIndex does not match the log');
    assert(termAt(this.log, lastIndex) === this.currentTerm, 'appended: entries must carry the current term');
    this.marks.record(lastIndex, event.bytes);
    if (event.confChange !== undefined) this.appendConfChange(event.confChange);
    this.maybeCommit();
    for (const [id, progress] of this.progress) this.sendAppends(id, progress);
  }

  private appendConfChange(entry: { index: number; membership: Membership }): void {
    assert(entry.index === this.log.lastIndex(), 'a configuration change is the last entry written');
    assert(this.membership.latest().index <= this.commit, 'one configuration change at a time');
    assert(isSingleStep(this.membership.active(), entry.membership), 'configuration change is not a single step');
    assert(isVoter(entry.membership, this.id), 'a leader does not remove itself (transfer first)');
    this.addConfEntry(entry);
    const active = this.membership.active();
    for (const id of members(active)) {
      if (id !== this.id && !this.progress.has(id)) this.addProgress(id, this.log.lastIndex() + 1);
    }
    if (this.transferee !== null && !isVoter(active, this.transferee)) this.abortTransfer();
  }

  /**
   * Nodes removed by a configuration entry keep receiving the log until that entry commits, so they
   * learn of their removal (and stop campaigning) instead of timing out and disturbing the group.
   */
  private pruneRemovedProgress(): void {
    if (this.membership.latest().index > this.commit) return;
    const active = this.membership.active();
    for (const id of [...this.progress.keys()]) {
      if (!isMember(active, id)) this.progress.delete(id);
    }
  }

  private handleAppendResponse(message: AppendResponseMessage): void {
    const progress = this.progress.get(message.from);
    if (progress === undefined) return this.ignore(message, IgnoreReason.UnknownPeer);
    progress.recentActive = true;
    if (!message.success) return this.handleAppendReject(message, progress);
    const updated = progress.maybeUpdate(message.index);
    if (progress.state === ProgressState.Probe) {
      progress.becomeReplicate();
    } else if (progress.state === ProgressState.Snapshot && progress.match + 1 >= this.log.firstIndex()) {
      progress.becomeReplicate();
    }
    if (updated) this.maybeCommit();
    if (this.role !== Role.Leader) return;
    this.sendAppends(message.from, progress);
    this.maybeSendTimeoutNow(message.from, progress);
  }

  private handleAppendReject(message: AppendResponseMessage, progress: Progress): void {
    if (message.reason === AppendReject.StaleTerm) return this.ignore(message, IgnoreReason.StaleResponse);
    const hintNext = this.nextFromHint(message.hintIndex, message.hintTerm);
    if (!progress.maybeBackOff(message.index, hintNext)) return this.ignore(message, IgnoreReason.StaleResponse);
    this.sendAppends(message.from, progress);
  }

  /** Where to probe next given the follower's hint (its last entry with term <= our prevTerm). */
  private nextFromHint(hintIndex: number, hintTerm: number): number {
    const firstIndex = this.log.firstIndex();
    if (hintIndex < firstIndex - 1) return hintIndex + 1; // below our log: a snapshot will follow
    const ours = lastIndexWithTermAtMost(this.log, hintIndex, hintTerm);
    return ours.index + 1;
  }

  private handleHeartbeatResponse(from: NodeId): void {
    const progress = this.progress.get(from);
    if (progress === undefined) return this.ignore({ type: 'heartbeatResponse', from, to: this.id, term: this.currentTerm }, IgnoreReason.UnknownPeer);
    progress.recentActive = true;
    if (progress.state === ProgressState.Probe) progress.probeSent = false;
    const lagging = progress.match < this.log.lastIndex();
    if (progress.state === ProgressState.Replicate && lagging && !progress.appendSentSinceHeartbeat) {
      // Nothing was sent to this follower for a heartbeat interval, yet it lags: batches (or their
      // answers) may have been lost. An empty append at `next` exposes a gap as a rejection
      // (etcd sends the same probe); at most one per heartbeat interval.
      this.sendEmptyAppend(from, progress);
      return;
    }
    if (lagging || progress.state === ProgressState.Probe) this.sendAppends(from, progress, true);
  }

  private sendEmptyAppend(to: NodeId, progress: Progress): void {
    const prevIndex = progress.next - 1;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === undefined || prevIndex < this.membership.baseIndex()) {
      this.startSnapshot(to, progress); // our log no longer reaches back to what it needs
      return;
    }
    this.send(
      { type: 'append', from: this.id, to, term: this.currentTerm, prevIndex, prevTerm, lastIndex: prevIndex, runs: [], commit: this.commit, confEntries: [] },
      false,
    );
    progress.appendSentSinceHeartbeat = true;
  }

  /** Sends as many batches as the follower's state and window allow; an empty probe if asked. */
  private sendAppends(to: NodeId, progress: Progress, allowEmpty = false): void {
    for (let batch = 0; batch < this.config.inflightBatchesMax; batch++) {
      if (progress.paused()) return;
      const lastIndex = this.log.lastIndex();
      // An empty append only probes; in replicate state it would race the batches in flight.
      const probeEmpty = allowEmpty && batch === 0 && progress.state === ProgressState.Probe;
      if (progress.next > lastIndex && !probeEmpty) break;
      if (!this.sendOneAppend(to, progress)) return;
      if (progress.state !== ProgressState.Replicate) return;
    }
    this.maybeSendCommitNotice(to, progress);
  }

  /** Returns false when the follower needs a snapshot instead. */
  private sendOneAppend(to: NodeId, progress: Progress): boolean {
    const prevIndex = progress.next - 1;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === undefined || prevIndex < this.membership.baseIndex()) {
      this.startSnapshot(to, progress);
      return false;
    }
    const lastIndex = this.log.lastIndex();
    let batchLast = prevIndex;
    let runs: ReturnType<typeof termRunsOf>['runs'] = [];
    let bytes = 0;
    if (progress.next <= lastIndex) {
      const budget =
        progress.state === ProgressState.Replicate
          ? Math.max(1, Math.min(this.config.batchBytesMax, progress.inflights.bytesAvailable()))
          : this.config.batchBytesMax;
      const cut = this.cutBatch(progress.next, budget);
      batchLast = cut.lastIndex;
      runs = cut.runs;
      // batchEnd keeps a batch of several entries within the budget; a single entry may exceed it.
      const estimate = this.marks.bytesBetween(prevIndex, batchLast) ?? budget;
      bytes = batchLast > progress.next ? Math.min(estimate, budget) : estimate;
    }
    const confEntries = this.membership.between(prevIndex, batchLast);
    const message: AppendMessage = {
      type: 'append',
      from: this.id,
      to,
      term: this.currentTerm,
      prevIndex,
      prevTerm,
      lastIndex: batchLast,
      runs,
      commit: this.commit,
      confEntries,
    };
    this.send(message, false);
    progress.appendSentSinceHeartbeat = true;
    progress.commitSent = Math.max(progress.commitSent, Math.min(this.commit, batchLast));
    progress.sent(batchLast, bytes);
    return true;
  }

  /** The batch starting at `from`: bounded by bytes (LogView.batchEnd), term runs and conf entries. */
  private cutBatch(from: number, budget: number): { lastIndex: number; runs: ReturnType<typeof termRunsOf>['runs'] } {
    const lastIndex = this.log.lastIndex();
    let end = this.log.batchEnd(from, budget);
    assert(end >= from && end <= lastIndex, `LogView.batchEnd(${from}) returned ${end}`);
    const confEntries = this.membership.between(from - 1, end);
    if (confEntries.length > CONF_ENTRIES_PER_APPEND_MAX) {
      end = (confEntries[CONF_ENTRIES_PER_APPEND_MAX - 1] as { index: number }).index;
    }
    const cut = termRunsOf(this.log, from, end, TERM_RUNS_PER_APPEND_MAX);
    return { lastIndex: cut.lastIndex, runs: cut.runs };
  }

  /**
   * Tells an idle follower (nothing in flight, nothing left to send) about a commit index that no
   * append will carry soon, instead of leaving it to the next heartbeat.
   */
  private maybeSendCommitNotice(to: NodeId, progress: Progress): void {
    if (progress.state === ProgressState.Snapshot || progress.inflights.batches > 0) return;
    if (progress.next <= this.log.lastIndex()) return;
    if (Math.min(progress.match, this.commit) > progress.commitSent) this.sendHeartbeat(to, progress);
  }

  private startSnapshot(to: NodeId, progress: Progress): void {
    if (progress.state === ProgressState.Snapshot) return;
    const index = this.commit;
    const indexTerm = termAt(this.log, index);
    assert(index >= this.log.firstIndex() - 1, 'entries below the first index are committed');
    progress.becomeSnapshot(index);
    const membership = this.membership.at(index);
    this.actions.push({
      type: 'sendSnapshot',
      message: { type: 'installSnapshot', from: this.id, to, term: this.currentTerm, index, indexTerm, membership },
    });
  }

  private handleSnapshotStatus(to: NodeId, ok: boolean): void {
    const progress = this.progress.get(to);
    if (this.role !== Role.Leader || progress === undefined || progress.state !== ProgressState.Snapshot) {
      return this.ignore({ type: 'snapshotStatus', to, ok }, IgnoreReason.StaleResponse);
    }
    if (!ok) progress.pendingSnapshot = 0; // probe from match again; a new snapshot will be cut if still needed
    progress.becomeProbe();
    progress.probeSent = true; // wait for the follower's answer or the next heartbeat response
  }

  private handleUnreachable(to: NodeId): void {
    const progress = this.progress.get(to);
    if (this.role !== Role.Leader || progress === undefined) {
      return this.ignore({ type: 'unreachable', to }, IgnoreReason.StaleResponse);
    }
    if (progress.state === ProgressState.Replicate) progress.becomeProbe();
  }

  /** Commits the highest index matched by a majority of voters, if it is of the current term (Raft 5.4.2). */
  private maybeCommit(): void {
    const voters = this.membership.active().voters;
    const quorumIndex = quorumMatchIndex(voters, (id) => {
      if (id === this.id) return this.durableIndex;
      return this.progress.get(id)?.match ?? 0;
    });
    if (quorumIndex <= this.commit) return;
    if (termAt(this.log, quorumIndex) !== this.currentTerm) return;
    this.advanceCommit(quorumIndex);
    this.pruneRemovedProgress();
    let minimumMatch = this.commit;
    for (const progress of this.progress.values()) minimumMatch = Math.min(minimumMatch, progress.match);
    this.marks.trimBelow(minimumMatch);
  }

  // -------------------------------------------------------------------------- leader: transfers

  private handleTransferRequest(to: NodeId): void {
    const reason = this.canTransferLeadership(to);
    if (reason !== null) return this.ignore({ type: 'transferLeadership', to }, IgnoreReason.TransferRejected);
    this.startTransfer(to);
  }

  private startTransfer(to: NodeId): void {
    this.transferee = to;
    this.transferElapsed = 0;
    const progress = this.progress.get(to);
    assert(progress !== undefined);
    if (progress.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.sendAppends(to, progress);
  }

  private maybeSendTimeoutNow(from: NodeId, progress: Progress): void {
    if (this.transferee === from && progress.match === this.log.lastIndex()) this.sendTimeoutNow(from);
  }

  private sendTimeoutNow(to: NodeId): void {
    this.send({ type: 'timeoutNow', from: this.id, to, term: this.currentTerm }, false);
  }

  private abortTransfer(): void {
    if (this.transferee !== null && this.transferee === this.config.preferredLeader) {
      this.preferredCooldownTicks = PREFERRED_LEADER_RETRY_ELECTIONS * this.config.electionTicks;
    }
    this.transferee = null;
    this.transferElapsed = 0;
  }

  /** Hands leadership to the preferred voter once it is healthy and caught up. */
  private maybeTransferToPreferred(): void {
    const preferred = this.config.preferredLeader;
    if (preferred === null || preferred === this.id || this.transferee !== null || this.preferredCooldownTicks > 0) return;
    if (!isVoter(this.membership.active(), preferred)) return;
    if (termAt(this.log, this.commit) !== this.currentTerm) return; // settle our own term first
    const progress = this.progress.get(preferred);
    if (progress === undefined || progress.state !== ProgressState.Replicate || !progress.recentActive) return;
    if (progress.match + this.config.learnerCatchUpLagEntries < this.log.lastIndex()) return;
    this.startTransfer(preferred);
  }

  // ----------------------------------------------------------------------------------------- output

  private send(message: Message, afterPersist: boolean): void {
    this.actions.push({ type: 'send', message, afterPersist });
  }

  private ignore(input: Input, reason: IgnoreReason): void {
    const from = 'from' in input ? input.from : null;
    this.actions.push({ type: 'ignored', input: input.type, from, reason });
  }
}

function isLocalEvent(input: Input): input is LocalEvent {
  switch (input.type) {
    case 'appended':
    case 'persisted':
    case 'snapshotStatus':
    case 'transferLeadership':
    case 'unreachable':
    case 'campaign':
      return true;
    default:
      return false;
  }
}
