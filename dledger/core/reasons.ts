// Named outcomes. They travel in responses, come back from the query methods and appear in traces.

type ValueOf<T> = T[keyof T];

/** Why a (pre-)vote was refused. */
export const VoteReject = {
  /** The request's term is below ours. */
  StaleTerm: 'staleTerm',
  /** We already voted for someone else in this term. */
  AlreadyVoted: 'alreadyVoted',
  /** We follow a leader in this term (a pre-vote for our own term). */
  LeaderKnown: 'leaderKnown',
  /** The candidate's last entry has an older term than ours. */
  StaleLogTerm: 'staleLogTerm',
  /** Same last term, but the candidate's log is shorter. */
  ShortLog: 'shortLog',
} as const;
export type VoteReject = ValueOf<typeof VoteReject>;

/** Why an append was refused. */
export const AppendReject = {
  /** The sender's term is below ours: it is a deposed leader. */
  StaleTerm: 'staleTerm',
  /** We have no entry at prevIndex. */
  PrevIndexBeyondEnd: 'prevIndexBeyondEnd',
  /** Our entry at prevIndex has another term. */
  PrevTermMismatch: 'prevTermMismatch',
} as const;
export type AppendReject = ValueOf<typeof AppendReject>;

/** Why `canPropose()` refuses a proposal. */
export const ProposeReject = {
  NotLeader: 'notLeader',
  /** A leadership transfer is under way. */
  Transferring: 'transferring',
  /** The new leader has not yet appended its no-op entry. */
  NoopPending: 'noopPending',
  UncommittedEntriesFull: 'uncommittedEntriesFull',
  UncommittedBytesFull: 'uncommittedBytesFull',
} as const;
export type ProposeReject = ValueOf<typeof ProposeReject>;

/** Why `planConfChange()` refuses a membership change (in addition to the proposal reasons). */
export const ConfChangeReject = {
  ...ProposeReject,
  /** An earlier configuration entry is not committed yet (one change at a time). */
  ConfChangePending: 'confChangePending',
  /** This leader has not committed an entry of its own term yet. */
  TermNotCommitted: 'termNotCommitted',
  AlreadyMember: 'alreadyMember',
  NotLearner: 'notLearner',
  NotMember: 'notMember',
  /** Transfer leadership first, then remove the old leader from the new leader. */
  RemovingLeader: 'removingLeader',
  /** The learner is not caught up (see `learnerReadiness`). */
  LearnerLagging: 'learnerLagging',
  MembersFull: 'membersFull',
  LastVoter: 'lastVoter',
} as const;
export type ConfChangeReject = ValueOf<typeof ConfChangeReject>;

/** Why a leadership transfer cannot start. */
export const TransferReject = {
  NotLeader: 'notLeader',
  AlreadyTransferring: 'alreadyTransferring',
  TargetIsSelf: 'targetIsSelf',
  TargetNotVoter: 'targetNotVoter',
} as const;
export type TransferReject = ValueOf<typeof TransferReject>;

/** Why a learner may not be promoted yet. */
export const LearnerLag = {
  NotLearner: 'notLearner',
  NotLeader: 'notLeader',
  NotReplicating: 'notReplicating',
  NotRecentlyActive: 'notRecentlyActive',
  TooFarBehind: 'tooFarBehind',
} as const;
export type LearnerLag = ValueOf<typeof LearnerLag>;

/** Why an input changed nothing. */
export const IgnoreReason = {
  InvalidMessage: 'invalidMessage',
  WrongRecipient: 'wrongRecipient',
  StaleTerm: 'staleTerm',
  /** A (pre-)vote arrived while we heard from a live leader within the election timeout (check-quorum lease). */
  InLease: 'inLease',
  /** Only a leader handles this input. */
  NotLeader: 'notLeader',
  /** A response or report that no longer matches our state (role, term, progress). */
  StaleResponse: 'staleResponse',
  UnknownPeer: 'unknownPeer',
  /** Only voters campaign. */
  NotVoter: 'notVoter',
  /** A persisted report for entries that are no longer (or not yet) in the log. */
  StalePersisted: 'stalePersisted',
  TransferRejected: 'transferRejected',
  /** The snapshot is older than what we already have. */
  SnapshotNotNewer: 'snapshotNotNewer',
} as const;
export type IgnoreReason = ValueOf<typeof IgnoreReason>;
