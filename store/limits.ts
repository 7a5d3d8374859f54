// Named limits and defaults of the storage engine. Every limit the store enforces lives here.
import { KiB, MiB, MESSAGE_BODY_BYTES_MAX } from '../common/limits.js';
import assert from 'node:assert/strict';

export const GiB = 1024 * MiB;

/** Default size of one commit-log segment file. Tests use much smaller segments to exercise rolling. */
export const COMMIT_LOG_SEGMENT_BYTES_DEFAULT = 1 * GiB;
/** Smallest segment size accepted (keeps a maximal record plus padding inside one segment). */
export const COMMIT_LOG_SEGMENT_BYTES_MIN = 64 * KiB;
/** Largest single commit-log record (entry header + payload). A batch entry holds several messages up to this. */
export const RECORD_BYTES_MAX = MESSAGE_BODY_BYTES_MAX + 256 * KiB;
/** Entries per sample of the sparse index -> position table (a lookup scans at most this many headers). */
export const SPARSE_INDEX_STEP = 64;
/** Consume-queue entries per consume-queue file (RocketMQ's default: 300,000 x 20 bytes = 6,000,000 bytes). */
export const CONSUME_QUEUE_ENTRIES_PER_FILE_DEFAULT = 300_000;
/** Hash slots and entries of one index file. RocketMQ uses 5M/20M; ours default smaller to keep files ~42 MB. */
export const INDEX_SLOTS_DEFAULT = 500_000;
export const INDEX_ENTRIES_DEFAULT = 2_000_000;
/** Results a key query returns at most (RocketMQ's maxMsgsNumBatch for queries). */
export const QUERY_RESULTS_MAX = 64;
/** Flush interval under ASYNC_FLUSH. */
export const FLUSH_INTERVAL_MS_DEFAULT = 500;
/** Longest a SYNC_FLUSH append waits for its fsync before reporting FLUSH_DISK_TIMEOUT. */
export const SYNC_FLUSH_TIMEOUT_MS_DEFAULT = 5_000;
/** How often the dispatcher checkpoint is written. */
export const CHECKPOINT_INTERVAL_MS_DEFAULT = 1_000;
/** Retention: segments older than this are deleted. */
export const RETENTION_MS_DEFAULT = 72 * 3600 * 1000;
/** Retention: above this share of the disk in use, the oldest segments are deleted even if young. */
export const DISK_USE_RATIO_DELETE_DEFAULT = 0.75;
/** Above this share of the disk in use, new appends are refused (RocketMQ's diskMaxUsedSpaceRatio-style guard). */
export const DISK_USE_RATIO_REFUSE_DEFAULT = 0.9;
/**
 * Free space a new commit-log segment must leave on the disk, so consume queues and the index (written after
 * commit) can still grow: without it a full disk would stall the dispatcher and hide committed messages.
 */
export const DERIVED_DATA_RESERVE_BYTES_DEFAULT = 128 * MiB;
/** Zero-fill chunk used to preallocate segment files (so a full disk is seen at allocation, not as SIGBUS). */
export const PREALLOCATE_CHUNK_BYTES = 4 * MiB;
/** Largest number of entries the dispatcher handles in one event-loop turn before yielding. */
export const DISPATCH_BATCH_ENTRIES_MAX = 4096;
/** Largest number of messages a single pull returns. */
export const PULL_MESSAGES_MAX = 256;
/** Largest number of bytes a single pull returns (a message bigger than this is still returned alone). */
export const PULL_BYTES_MAX = 4 * MiB;

assert(COMMIT_LOG_SEGMENT_BYTES_MIN >= 16 * KiB);
assert(RECORD_BYTES_MAX < COMMIT_LOG_SEGMENT_BYTES_DEFAULT);
