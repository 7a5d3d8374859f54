// Every limit and default of the client, in one place. Units are the last word of each name.
// Java's names (DefaultMQProducer / DefaultMQPushConsumer / ClientConfig) are given where they differ.
import { COMPRESS_BODY_BYTES_MIN, MESSAGE_BODY_BYTES_MAX, MiB } from '../common/limits.js';

// ---- every client ---------------------------------------------------------------------------------

/** Timeout of an ordinary request (route lookup, offset query, heartbeat, ...). */
export const REQUEST_TIMEOUT_MS_DEFAULT = 3000;
/** Longest request or send timeout accepted (the remoting layer's ceiling). */
export const REQUEST_TIMEOUT_MS_MAX = 300_000;
/** How often cached routes are refreshed from a name server (Java `pollNameServerInterval`). */
export const POLL_NAME_SERVER_INTERVAL_MS_DEFAULT = 30_000;
/** How often every broker master in use gets a heartbeat (Java `heartbeatBrokerInterval`). */
export const HEARTBEAT_INTERVAL_MS_DEFAULT = 30_000;
/** Shortest interval accepted for the periodic timers above, so a typo cannot turn them into a busy loop. */
export const TIMER_INTERVAL_MS_MIN = 10;
/** Topics whose routes one client caches; a client using more is almost certainly leaking topic names. */
export const ROUTE_CACHE_TOPICS_MAX = 4096;
/**
 * A route borrowed from the auto-create template topic (the topic itself has none yet) is re-fetched
 * after this long, so the real route replaces it as soon as the broker has registered the new topic.
 */
export const PROVISIONAL_ROUTE_TTL_MS = 1000;
/** How long a leader address named in a not-leader answer overrides the route's master of that group. */
export const LEADER_HINT_TTL_MS = 5000;
/** Time allowed for UNREGISTER_CLIENT at shutdown; an unreachable broker must not delay shutdown long. */
export const UNREGISTER_TIMEOUT_MS = 1000;
/** Longest remark copied into an error message. */
export const ERROR_REMARK_CHARS_MAX = 512;

// ---- producer --------------------------------------------------------------------------------------

/** Timeout of one send attempt (Java `sendMsgTimeout`); retries get a fresh one. */
export const SEND_TIMEOUT_MS_DEFAULT = 3000;
/** Extra attempts after a retriable failure (Java `retryTimesWhenSendFailed`). */
export const RETRY_TIMES_WHEN_SEND_FAILED_DEFAULT = 2;
/** Upper bound of the option above. */
export const RETRY_TIMES_WHEN_SEND_FAILED_MAX = 16;
/** Sends allowed in flight at once; further sends wait for a slot. */
export const MAX_OUTSTANDING_SENDS_DEFAULT = 1024;
/** Sends allowed to wait for a slot; beyond it send() rejects with a retriable BUSY error. */
export const SEND_WAITERS_MAX = 65_536;
/** Bodies at least this large are zlib-compressed (Java `compressMsgBodyOverHowmuch`). */
export const COMPRESS_BODY_OVER_BYTES_DEFAULT = COMPRESS_BODY_BYTES_MIN;
/** Largest body (before compression) or batch body a producer accepts (Java `maxMessageSize`). */
export const MAX_MESSAGE_BYTES_DEFAULT = MESSAGE_BODY_BYTES_MAX;
/** How long a broker group that failed a send is skipped by queue selection. */
export const FAULT_AVOIDANCE_MS_DEFAULT = 10_000;
/** Pause before a retry that goes back to the broker group that just failed (doubles per attempt). */
export const SEND_RETRY_BACKOFF_MS_DEFAULT = 100;
/**
 * While a send waits out the reconnect backoff of a master that stopped answering, the route is asked for again
 * this often, so a new master (a failover) is used as soon as the name server knows it.
 */
export const ROUTE_POLL_DURING_RECONNECT_WAIT_MS = 100;
/** Auto-create template topic named in every send header (`defaultTopic`, Java `createTopicKey`). */
export const DEFAULT_TOPIC = 'TBW102';
/** Queue count asked for when the broker auto-creates a topic (Java `defaultTopicQueueNums`). */
export const DEFAULT_TOPIC_QUEUE_NUMS = 4;
/** Messages in one SEND_BATCH_MESSAGE. */
export const BATCH_MESSAGES_MAX = 4096;
/** Keys in one message's KEYS property. */
export const MESSAGE_KEYS_MAX = 64;

// ---- transactional producer ------------------------------------------------------------------------

/** Check requests (CHECK_TRANSACTION_STATE) whose listener runs at once (Java `checkThreadPoolMaxSize` is 1). */
export const CHECK_CONCURRENCY_DEFAULT = 4;
export const CHECK_CONCURRENCY_MAX = 256;
/** Check requests waiting for a slot; beyond it a check is dropped (the broker asks again). Java `checkRequestHoldMax`. */
export const CHECK_REQUESTS_QUEUED_MAX = 2000;
/** A check listener still running after this long counts as UNKNOWN and frees its slot (its late answer is ignored). */
export const CHECK_TIMEOUT_MS_DEFAULT = 30_000;
/** Attempts of one END_TRANSACTION after a local transaction (not-leader answers and transport failures retry). */
export const END_TRANSACTION_ATTEMPTS = 3;
/** Pause before an END_TRANSACTION attempt after the first (doubles per attempt). */
export const END_TRANSACTION_RETRY_BACKOFF_MS = 200;
/** How long shutdown waits for running check listeners. */
export const CHECK_DRAIN_TIMEOUT_MS = 3000;

// ---- consumers -------------------------------------------------------------------------------------

/** Messages asked for per pull (Java `pullBatchSize`). */
export const PULL_BATCH_SIZE_DEFAULT = 32;
export const PULL_BATCH_SIZE_MAX = 1024;
/** Messages handed to the listener per call (Java `consumeMessageBatchMaxSize`). */
export const CONSUME_BATCH_SIZE_DEFAULT = 1;
export const CONSUME_BATCH_SIZE_MAX = 1024;
/** Listener calls running at once across all queues (Java `consumeThreadMax`). */
export const CONSUME_CONCURRENCY_DEFAULT = 20;
export const CONSUME_CONCURRENCY_MAX = 1000;
/** Unconsumed messages buffered per queue before its pulling pauses (Java `pullThresholdForQueue`). */
export const PULL_THRESHOLD_FOR_QUEUE_DEFAULT = 1000;
export const PULL_THRESHOLD_FOR_QUEUE_MAX = 65_535;
/** Unconsumed body bytes buffered per queue before its pulling pauses (Java `pullThresholdSizeForQueue`). */
export const PULL_THRESHOLD_BYTES_FOR_QUEUE_DEFAULT = 100 * MiB;
/** Deliveries before the broker moves a message to the dead-letter queue (Java `maxReconsumeTimes`). */
export const MAX_RECONSUME_TIMES_DEFAULT = 16;
/** Upper bound of the option above (the broker's delay levels stop long before it). */
export const MAX_RECONSUME_TIMES_MAX = 1000;
/** How often consumed offsets are committed (Java `persistConsumerOffsetInterval`). */
export const PERSIST_OFFSET_INTERVAL_MS_DEFAULT = 5000;
/** How often queues are re-balanced without a trigger (Java `rebalance` service, 20 s). */
export const REBALANCE_INTERVAL_MS_DEFAULT = 20_000;
/**
 * After a re-balance round that could not finish (no route or member list yet, an offset query that
 * failed), another round runs after this delay, doubling per failed round up to the re-balance interval.
 */
export const REBALANCE_RETRY_DELAY_MS = 500;
/** Re-balance rounds in a row without a route for a group's retry topic before it is warned about (see rebalance.ts). */
export const RETRY_ROUTE_MISSES_BEFORE_WARNING = 3;
/** How long the broker may hold a pull that found nothing (Java `brokerSuspendMaxTimeMillis`, 15 s). */
export const SUSPEND_TIMEOUT_MS_DEFAULT = 15_000;
/** Longest hold accepted: the pull's socket timeout is this plus the margin below, within remoting's 300 s cap. */
export const SUSPEND_TIMEOUT_MS_MAX = 120_000;
/** A long-polling pull's socket timeout exceeds its suspend time by this (Java: 30 s socket vs 15 s hold). */
export const PULL_TIMEOUT_MARGIN_MS = 15_000;
/** Pause before pulling a queue again after a failed pull (Java `pullTimeDelayMillsWhenException`). */
export const PULL_ERROR_BACKOFF_MS_DEFAULT = 3000;
/** During that pause after a pull the master could not serve, the route is asked for again this often... */
export const PULL_ROUTE_POLL_AFTER_ERROR_MS = 500;
/** ...and the queue's master (route or leader hint) is looked at this often; a new one ends the pause. */
export const PULL_MASTER_CHECK_MS = 50;
/**
 * Empty answers (19/20) that arrive this quickly are suspicious: a broker that does not honour SUSPEND
 * would otherwise be polled in a tight loop. After EMPTY_PULLS_QUICK_MAX of them in a row the queue
 * waits EMPTY_PULL_BACKOFF_MS (Java's short-polling interval) before the next pull.
 */
export const EMPTY_PULL_QUICK_MS = 20;
export const EMPTY_PULLS_QUICK_MAX = 8;
export const EMPTY_PULL_BACKOFF_MS = 1000;
/** Delay before a batch whose send-back failed is consumed again locally (Java: 5 s). */
export const LOCAL_RETRY_DELAY_MS_DEFAULT = 5000;
/**
 * How long releasing a queue (re-balance or shutdown) waits for listener calls still running on it.
 * The committed offset never passes an unfinished message, so giving up only risks a redelivery.
 */
export const QUEUE_DRAIN_TIMEOUT_MS_DEFAULT = 10_000;
/** Topics one consumer may subscribe to. */
export const SUBSCRIPTIONS_MAX = 256;
/** Tags in one subscription expression. */
export const SUBSCRIPTION_TAGS_MAX = 256;
/** Start point when consuming from a timestamp and none was given (Java: half an hour ago). */
export const CONSUME_TIMESTAMP_LOOKBACK_MS_DEFAULT = 30 * 60 * 1000;
/** Queues one consumer may be assigned. */
export const ASSIGNED_QUEUES_MAX = 65_536;

// ---- admin -----------------------------------------------------------------------------------------

/** Queues of a topic created without a count (Java `defaultTopicQueueNums` for mqadmin is 8). */
export const CREATE_TOPIC_QUEUES_DEFAULT = 8;
/** Upper bound on queues per topic per broker group that createTopic accepts. */
export const CREATE_TOPIC_QUEUES_MAX = 1024;
/** Messages asked for per broker by queryMessagesByKey when no maxNum is given. */
export const QUERY_MESSAGE_MAX_NUM_DEFAULT = 32;
/** Upper bound of maxNum for queryMessagesByKey. */
export const QUERY_MESSAGE_MAX_NUM_MAX = 1024;

/** Automatic batching of plain sends (producer option autoBatch): messages and bytes per batch, batches in flight per topic. */
export const AUTO_BATCH_MESSAGES_MAX_DEFAULT = 64;
export const AUTO_BATCH_BYTES_MAX_DEFAULT = 256 * 1024;
export const AUTO_BATCH_INFLIGHT_PER_TOPIC_DEFAULT = 8;
