// Public API of the pure Raft core. See README.md for the driver contract.

export { RaftCore, type ConfChangePlan, type ProgressStatus, type RaftCoreOptions, type RaftStatus } from './raft-core.js';
export type { LogView } from './log-view.js';
export * from './types.js';
export * from './reasons.js';
export * from './limits.js';
export { SeededPrng, type Prng } from './prng.js';
export {
  applyConfChange,
  invalidMembership,
  isLearner,
  isMember,
  isSingleStep,
  isVoter,
  makeMembership,
  sameMembership,
} from './membership.js';
export { invalidMessage } from './messages.js';
export { quorumMatchIndex, quorumSize, voteOutcome, VoteOutcome } from './quorum.js';
export { ProgressState } from './progress.js';
export { formatAction, formatInput, formatMessage } from './trace.js';
