// Named limits and defaults of the Raft core, and the validated configuration built from them.
// Units last: `...Ticks`, `...Bytes`, `...Entries`, `...Batches`. Time is counted in ticks; the driver
// chooses the tick period (50 ms suggested: a leader is replaced within 0.5 s..1 s of going silent).

import assert from 'node:assert/strict';

import type { NodeId } from './types.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;

/** Followers wait a random timeout in [electionTicks, 2 * electionTicks) before campaigning. */
export const ELECTION_TICKS_DEFAULT = 10;
export const HEARTBEAT_TICKS_DEFAULT = 1;
/** Longest election timeout accepted (bounds every tick counter). */
export const ELECTION_TICKS_MAX = 10_000;

/** Most bytes in one append message (one entry alone may be bigger; see LogView.batchEnd). */
export const BATCH_BYTES_MAX_DEFAULT = 1 * MiB;
/** Append batches in flight to one follower in replicate state. */
export const INFLIGHT_BATCHES_MAX_DEFAULT = 64;
export const INFLIGHT_BATCHES_LIMIT = 4096;
/** Bytes in flight to one follower (upper-bound accounting, see byte-marks.ts). */
export const INFLIGHT_BYTES_MAX_DEFAULT = 16 * MiB;
/** The leader refuses proposals while this many entries are appended but not committed. */
export const UNCOMMITTED_ENTRIES_MAX_DEFAULT = 100_000;
/** ... or while this many bytes (as reported in `appended` events of this term) are not committed. */
export const UNCOMMITTED_BYTES_MAX_DEFAULT = 64 * MiB;
/** Term runs in one append message; a batch stops early rather than carry more. */
export const TERM_RUNS_PER_APPEND_MAX = 64;
/** Configuration entries carried in one append message (there is at most one per batch in practice). */
export const CONF_ENTRIES_PER_APPEND_MAX = 16;
/** Configuration entries the core remembers above its base; older committed ones fold into the base. */
export const CONF_ENTRIES_MAX = 64;
/** Voters plus learners. */
export const MEMBERS_MAX = 16;
/** Marks of appended byte counts kept by a leader for in-flight and uncommitted byte accounting. */
export const APPENDED_MARKS_MAX = 4096;
/** A learner within this many entries of the leader's last index (and replicating) may be promoted. */
export const LEARNER_CATCH_UP_LAG_ENTRIES_DEFAULT = 1024;
/** After a transfer to the preferred leader aborts, wait this many election timeouts before retrying. */
export const PREFERRED_LEADER_RETRY_ELECTIONS = 3;
/** Longest node id accepted in a message. */
export const NODE_ID_LENGTH_MAX = 255;

export interface RaftConfig {
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  /** Pre-vote: no term bump until a majority would grant the vote. */
  readonly preVote: boolean;
  /** Check-quorum: leaders step down without a live majority, voters honour a leader lease. */
  readonly checkQuorum: boolean;
  readonly batchBytesMax: number;
  readonly inflightBatchesMax: number;
  readonly inflightBytesMax: number;
  readonly uncommittedEntriesMax: number;
  readonly uncommittedBytesMax: number;
  readonly learnerCatchUpLagEntries: number;
  /** A leader hands leadership to this voter whenever it is healthy and caught up. */
  readonly preferredLeader: NodeId | null;
}

export const RAFT_CONFIG_DEFAULT: RaftConfig = {
  electionTicks: ELECTION_TICKS_DEFAULT,
  heartbeatTicks: HEARTBEAT_TICKS_DEFAULT,
  preVote: true,
  checkQuorum: true,
  batchBytesMax: BATCH_BYTES_MAX_DEFAULT,
  inflightBatchesMax: INFLIGHT_BATCHES_MAX_DEFAULT,
  inflightBytesMax: INFLIGHT_BYTES_MAX_DEFAULT,
  uncommittedEntriesMax: UNCOMMITTED_ENTRIES_MAX_DEFAULT,
  uncommittedBytesMax: UNCOMMITTED_BYTES_MAX_DEFAULT,
  learnerCatchUpLagEntries: LEARNER_CATCH_UP_LAG_ENTRIES_DEFAULT,
  preferredLeader: null,
};

function positiveInteger(value: number): boolean {
  return Number.isSafeInteger(value) && value > 0;
}

/** Returns the reason the configuration is unusable, or null. */
export function invalidRaftConfig(config: RaftConfig): string | null {
  const counts: Array<keyof RaftConfig> = [
    'electionTicks',
    'heartbeatTicks',
    'batchBytesMax',
    'inflightBatchesMax',
    'inflightBytesMax',
    'uncommittedEntriesMax',
    'uncommittedBytesMax',
    'learnerCatchUpLagEntries',
  ];
  for (const name of counts) {
    if (!positiveInteger(config[name] as number)) return `${name} must be a positive integer`;
  }
  if (config.electionTicks <= config.heartbeatTicks) return 'electionTicks must be > heartbeatTicks';
  if (config.electionTicks > ELECTION_TICKS_MAX) return `electionTicks > ${ELECTION_TICKS_MAX}`;
  if (config.inflightBatchesMax > INFLIGHT_BATCHES_LIMIT) return `inflightBatchesMax > ${INFLIGHT_BATCHES_LIMIT}`;
  if (config.inflightBytesMax < config.batchBytesMax) return 'inflightBytesMax must be >= batchBytesMax';
  if (config.uncommittedBytesMax < config.batchBytesMax) return 'uncommittedBytesMax must be >= batchBytesMax';
  if (config.preferredLeader !== null && config.preferredLeader.length === 0) return 'preferredLeader is empty';
  return null;
}

/** Fills defaults and validates; an invalid configuration is an operating error (thrown with its reason). */
export function resolveRaftConfig(partial: Partial<RaftConfig> | undefined): RaftConfig {
  const config: RaftConfig = { ...RAFT_CONFIG_DEFAULT, ...partial };
  const reason = invalidRaftConfig(config);
  if (reason !== null) throw new RangeError(`invalid Raft config: ${reason}`);
  return config;
}

assert(invalidRaftConfig(RAFT_CONFIG_DEFAULT) === null, 'default Raft config must be valid');
assert(TERM_RUNS_PER_APPEND_MAX >= 2, 'a batch must be able to cross at least one term boundary');
assert(CONF_ENTRIES_PER_APPEND_MAX <= CONF_ENTRIES_MAX);
assert(MEMBERS_MAX >= 3);
