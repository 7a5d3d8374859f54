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
/** Peer messages buffered per peer while its connection is down (older ones are dropped: Raft retries). */
export const PEER_OUTBOX_MAX = 1024;
