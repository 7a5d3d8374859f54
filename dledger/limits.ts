// Limits and defaults of the Raft driver (the core's own are in core/limits.ts).

/** Real time per core tick. With the core's default 10 election ticks, a follower waits 0.5-1 s for a leader. */
export const TICK_MS_DEFAULT = 50;
/** Proposals waiting to be written at once; beyond it proposals are refused as busy. */
export const PROPOSALS_QUEUED_MAX = 50_000;
/** Request code of Raft peer messages (outside RocketMQ's code space). */
export const RAFT_MESSAGE_CODE = 10_001;
/** Request code of a broker status query between peers and from the CLI. */
export const RAFT_STATUS_CODE = 10_002;
/** Request code of a leadership transfer request (CLI). */
export const RAFT_TRANSFER_CODE = 10_003;
/** Request code of a membership change request (CLI). */
export const RAFT_MEMBERSHIP_CODE = 10_004;
/** Request code of the pending-transactions listing (CLI `txn list`). */
export const TXN_LIST_CODE = 10_006;
/** Request codes of segment install (snapshot) transfer. */
export const RAFT_INSTALL_CHUNK_CODE = 10_005;
/** Bytes per segment-install chunk. */
export const INSTALL_CHUNK_BYTES = 1024 * 1024;
/** A staged segment install that receives no chunk for this long is dropped (its sender is gone). */
export const INSTALL_IDLE_MS = 60_000;
/** Largest queue table (end of every consume queue, JSON) a segment install may carry. */
export const INSTALL_QUEUE_TABLE_BYTES_MAX = 256 * 1024 * 1024;
/** Answers held until the log is durable (SYNC_FLUSH); beyond it new ones are dropped (Raft retries). */
export const DEFERRED_SENDS_MAX = 65_536;
/**
 * Ticks a leader may go without being able to append (its no-op or anything else refused by the store) before
 * it hands leadership to another voter, so the group stays writable.
 */
export const LEADER_UNWRITABLE_TICKS = 20;
