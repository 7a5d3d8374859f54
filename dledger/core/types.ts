// Plain-data types of the Raft core: identities, membership, peer messages, local events and actions.
// Everything here is serialisable data; nothing holds a reference to the core or to I/O.

import type { AppendReject, IgnoreReason, VoteReject } from './reasons.js';

/** A member of the group, e.g. the broker's `host:port` or a configured node name. */
export type NodeId = string;

/** Persistent Raft state that must be durable before any vote or append response leaves. */
export interface HardState {
  readonly term: number;
  readonly votedFor: NodeId | null;
}

/** Voters decide elections and commits; learners only receive the log. Both lists are sorted and disjoint. */
export interface Membership {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

/** A configuration-change entry: the entry at `index` switches the group to `membership`. */
export interface ConfEntry {
  readonly index: number;
  readonly membership: Membership;
}

/**
 * What the core knows about configurations: `base` is in effect from `base.index` on (a committed
 * point, e.g. the first index - 1 after retention or a snapshot), and `entries` lists every
 * configuration entry of the log above `base.index`, ascending. The active membership is the last
 * entry's, or the base's (a configuration takes effect when it is in the log, see README.md).
 */
export interface MembershipState {
  readonly base: ConfEntry;
  readonly entries: readonly ConfEntry[];
}

/** One server at a time (Raft thesis 4.1). */
export type ConfChange =
  | { readonly type: 'addLearner'; readonly node: NodeId }
  | { readonly type: 'promote'; readonly node: NodeId }
  | { readonly type: 'remove'; readonly node: NodeId };

/** A run of consecutive entries sharing a term: `[firstIndexOfRun, term]`. */
export type TermRun = readonly [firstIndex: number, term: number];

export const Role = {
  Follower: 'follower',
  PreCandidate: 'preCandidate',
  Candidate: 'candidate',
  Leader: 'leader',
  /** A follower that is a learner in its active membership: never campaigns. Reported, not a state of its own. */
  Learner: 'learner',
} as const;
export type Role = (typeof Role)[keyof typeof Role];

// ---------------------------------------------------------------------------------------------------
// Peer messages. `term` is the sender's term, except in a pre-vote request and a granted pre-vote
// response, where it is the term the pre-candidate would campaign in (its term + 1).

interface Envelope {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
}

export interface PreVoteMessage extends Envelope {
  readonly type: 'preVote';
  readonly lastIndex: number;
  readonly lastTerm: number;
}

export interface VoteMessage extends Envelope {
  readonly type: 'vote';
  readonly lastIndex: number;
  readonly lastTerm: number;
  /** Campaign started by TimeoutNow (leadership transfer): voters answer even inside a leader lease. */
  readonly transfer: boolean;
}

export interface VoteResponseMessage extends Envelope {
  readonly type: 'preVoteResponse' | 'voteResponse';
  readonly granted: boolean;
  readonly reason: VoteReject | null;
}

/**
 * Entries `prevIndex+1 .. lastIndex` (none when `lastIndex === prevIndex`). `runs` gives their terms;
 * `confEntries` the configuration entries among them. `payload` is attached by the leader's driver
 * (the entry bytes) and handed back untouched to the follower's driver in `appendEntries`.
 */
export interface AppendMessage extends Envelope {
  readonly type: 'append';
  readonly prevIndex: number;
  readonly prevTerm: number;
  readonly lastIndex: number;
  readonly runs: readonly TermRun[];
  readonly commit: number;
  readonly confEntries: readonly ConfEntry[];
  payload?: unknown;
}

/**
 * success: the follower's log matches the leader's through `index`.
 * reject: `index` is the rejected prevIndex; the follower's entry at `hintIndex` has term
 * `hintTerm <= ` the leader's prevTerm (or hintIndex is its last index), so the leader can skip back.
 */
export interface AppendResponseMessage extends Envelope {
  readonly type: 'appendResponse';
  readonly success: boolean;
  readonly index: number;
  readonly hintIndex: number;
  readonly hintTerm: number;
  readonly reason: AppendReject | null;
}

/** `commit` is min(leader commit, the follower's match), so it never points past the follower's matching log. */
export interface HeartbeatMessage extends Envelope {
  readonly type: 'heartbeat';
  readonly commit: number;
}

export interface HeartbeatResponseMessage extends Envelope {
  readonly type: 'heartbeatResponse';
}

export interface TimeoutNowMessage extends Envelope {
  readonly type: 'timeoutNow';
}

/**
 * Segment install, stepped into the follower's core by its driver once the leader's segments up to
 * `index` have arrived (staged, not yet adopted). The core answers with an `installSnapshot` action
 * (adopt them) or not (discard them).
 */
export interface InstallSnapshotMessage extends Envelope {
  readonly type: 'installSnapshot';
  readonly index: number;
  readonly indexTerm: number;
  /** The membership in effect at `index`. */
  readonly membership: Membership;
}

export type Message =
  | PreVoteMessage
  | VoteMessage
  | VoteResponseMessage
  | AppendMessage
  | AppendResponseMessage
  | HeartbeatMessage
  | HeartbeatResponseMessage
  | TimeoutNowMessage
  | InstallSnapshotMessage;

// ---------------------------------------------------------------------------------------------------
// Local events: stepped by the driver of this node, never sent over the network.

/** Leader only: the driver wrote entries up to `lastIndex` in the current term (`bytes` in total). */
export interface AppendedEvent {
  readonly type: 'appended';
  readonly lastIndex: number;
  readonly bytes: number;
  /** Set when the last written entry is a configuration change planned with `planConfChange`. */
  readonly confChange?: ConfEntry;
}

/** Every log write up to `index` (whose entry has `term`) and every earlier persistence action is durable. */
export interface PersistedEvent {
  readonly type: 'persisted';
  readonly index: number;
  readonly term: number;
}

/** Leader only: the out-of-band segment transfer to `to` finished (`ok`) or failed. */
export interface SnapshotStatusEvent {
  readonly type: 'snapshotStatus';
  readonly to: NodeId;
  readonly ok: boolean;
}

export interface TransferLeadershipEvent {
  readonly type: 'transferLeadership';
  readonly to: NodeId;
}

/** Leader only: the transport lost its connection to `to`; stop pipelining to it and probe again. */
export interface UnreachableEvent {
  readonly type: 'unreachable';
  readonly to: NodeId;
}

/** Start an election now (admin or tests), as if the election timer had fired. */
export interface CampaignEvent {
  readonly type: 'campaign';
}

export type LocalEvent =
  | AppendedEvent
  | PersistedEvent
  | SnapshotStatusEvent
  | TransferLeadershipEvent
  | UnreachableEvent
  | CampaignEvent;

export type Input = Message | LocalEvent;

// ---------------------------------------------------------------------------------------------------
// Actions: returned by tick()/step() in the order the driver must execute them.

export interface PersistHardStateAction {
  readonly type: 'persistHardState';
  readonly term: number;
  readonly votedFor: NodeId | null;
}

/** Remove entries `fromIndex ..` (always above the commit index). */
export interface TruncateAction {
  readonly type: 'truncate';
  readonly fromIndex: number;
}

/** Write entries `fromIndex .. lastIndex` taken from `payload` (which starts at the message's prevIndex+1). */
export interface AppendEntriesAction {
  readonly type: 'appendEntries';
  readonly fromIndex: number;
  readonly lastIndex: number;
  readonly payload: unknown;
}

/** Adopt the staged segments: afterwards lastIndex() === index and term(index) === term. */
export interface InstallSnapshotAction {
  readonly type: 'installSnapshot';
  readonly index: number;
  readonly term: number;
  readonly membership: Membership;
}

export interface SendAction {
  readonly type: 'send';
  readonly message: Message;
  /** Hold the message until every persistence action emitted before it is durable. */
  readonly afterPersist: boolean;
}

/** Transfer segments up to `message.index` to `message.to`, then deliver `message` to its core. */
export interface SendSnapshotAction {
  readonly type: 'sendSnapshot';
  readonly message: InstallSnapshotMessage;
}

export interface CommitAction {
  readonly type: 'commit';
  readonly index: number;
}

export interface RoleChangedAction {
  readonly type: 'roleChanged';
  readonly role: Role;
  readonly term: number;
  readonly leaderId: NodeId | null;
}

/** An input that changed nothing, with the reason (for traces and counters; the driver may drop it). */
export interface IgnoredAction {
  readonly type: 'ignored';
  readonly input: Input['type'];
  readonly from: NodeId | null;
  readonly reason: IgnoreReason;
}

export type PersistenceAction = PersistHardStateAction | TruncateAction | AppendEntriesAction | InstallSnapshotAction;

export type Action =
  | PersistenceAction
  | SendAction
  | SendSnapshotAction
  | CommitAction
  | RoleChangedAction
  | IgnoredAction;

export function isPersistenceAction(action: Action): action is PersistenceAction {
  return (
    action.type === 'persistHardState' ||
    action.type === 'truncate' ||
    action.type === 'appendEntries' ||
    action.type === 'installSnapshot'
  );
}
