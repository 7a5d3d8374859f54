// Named limits and defaults of the broker. Documented in README.md's limits table.

/** How often a broker re-registers with every name server (RocketMQ: registerNameServerPeriod). */
export const REGISTER_INTERVAL_MS_DEFAULT = 30_000;
/** Longest a pull is held when nothing is new (a client asks for its own suspend time, capped here). */
export const PULL_SUSPEND_MS_MAX = 30_000;
/** Pulls held at once per broker (long polling); beyond it, pulls are answered at once with PULL_NOT_FOUND. */
export const HELD_PULLS_MAX = 100_000;
/** A client connection that has not sent a heartbeat for this long is dropped (RocketMQ: 120 s). */
export const CLIENT_CHANNEL_EXPIRED_MS = 120_000;
/** How often expired client channels are looked for. */
export const CLIENT_SCAN_INTERVAL_MS = 10_000;
/** Default queues of an auto-created topic (RocketMQ: defaultTopicQueueNums). */
export const DEFAULT_TOPIC_QUEUE_NUMS = 4;
/** Most queues a topic may have. */
export const TOPIC_QUEUE_NUMS_MAX = 1024;
/** Topics a broker keeps at most. */
export const TOPICS_MAX = 100_000;
/** Reconsume attempts before a message goes to the group's DLQ (RocketMQ: maxReconsumeTimes). */
export const MAX_RECONSUME_TIMES_DEFAULT = 16;
/** Delay levels (RocketMQ's messageDelayLevel); level n delays by the n-th value. */
export const MESSAGE_DELAY_LEVELS_DEFAULT = '1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h';
/** Messages in one SEND_BATCH_MESSAGE request at most. */
export const BATCH_MESSAGES_MAX = 1024;
/** Consumer offset updates are batched into one replicated entry for at most this long. */
export const OFFSET_COMMIT_BATCH_MS = 10;
/** How often the replicated state (topics, offsets, groups) is snapshotted to disk. */
export const STATE_SNAPSHOT_INTERVAL_MS = 2_000;
/** Results of QUERY_MESSAGE at most. */
export const QUERY_MESSAGES_MAX = 64;
/** Consumer group members tracked per group at most. */
export const GROUP_MEMBERS_MAX = 10_000;
/** Scheduled-message deliveries proposed per delay level per scan. */
export const SCHEDULE_DELIVERIES_PER_SCAN_MAX = 256;
/** How often delay levels are scanned for due messages. */
export const SCHEDULE_SCAN_INTERVAL_MS = 100;
/** Half-queue offsets one transaction check round looks at, resolved ones included (the next round resumes). */
export const TXN_SCAN_OFFSETS_PER_ROUND_MAX = 10_000;
/** Half messages one check round parks at most (each also bounded by the commit log's record size). */
export const TXN_PARKED_PER_ROUND_MAX = 64;
/** Half-queue offsets a `txn list` looks at, from the lowest unresolved one. */
export const TXN_LIST_SCAN_OFFSETS_MAX = 100_000;
