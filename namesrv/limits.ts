// Every limit and default of the name server. Documented in README.md's limits table.
import assert from 'node:assert';

const KiB = 1024;
const MiB = 1024 * KiB;

/** A broker that has not registered for this long is dropped (RocketMQ's DEFAULT_BROKER_CHANNEL_EXPIRED_TIME). */
export const BROKER_EXPIRED_MS_DEFAULT = 120_000;
/** How often live brokers are checked for expiry (RocketMQ 5.x scans every 5 s). */
export const SCAN_INTERVAL_MS_DEFAULT = 5_000;
/** Bounds of a broker's own `heartbeatTimeoutMillis` header and of the configured expiry. */
export const BROKER_EXPIRED_MS_MIN = 10;
export const BROKER_EXPIRED_MS_MAX = 24 * 3600_000;
export const SCAN_INTERVAL_MS_MIN = 5;

/** Live broker addresses (every node of every group). */
export const BROKERS_MAX = 4096;
/** Broker names (groups). */
export const BROKER_NAMES_MAX = 1024;
/** Clusters. */
export const CLUSTERS_MAX = 256;
/** Addresses (broker ids) per broker name: a Raft group of 5 plus room for replaced nodes. */
export const ADDRESSES_PER_BROKER_NAME_MAX = 32;
/** Distinct topics across all brokers. */
export const TOPICS_MAX = 200_000;
/** Topics in one registration's topic table. */
export const TOPICS_PER_REGISTRATION_MAX = 100_000;
/** Largest REGISTER_BROKER body we parse (a 100k-topic table is about 15 MiB; the frame limit is 16 MiB). */
export const REGISTER_BODY_BYTES_MAX = 16 * MiB;
/** Broker, cluster and namespace names. */
export const NAME_CHARS_MAX = 255;
/** `host:port` broker and HA addresses. */
export const ADDRESS_CHARS_MAX = 300;
/** Queue counts per topic per broker (RocketMQ caps queues at 1024 per topic on a broker by default; we allow more). */
export const QUEUE_NUMS_MAX = 65_535;

/** KV config (in memory only). */
export const KV_NAMESPACES_MAX = 256;
export const KV_KEYS_PER_NAMESPACE_MAX = 10_000;
export const KV_KEY_CHARS_MAX = 1024;
export const KV_VALUE_CHARS_MAX = 64 * KiB;

assert(SCAN_INTERVAL_MS_DEFAULT < BROKER_EXPIRED_MS_DEFAULT, 'the expiry scan must run more often than brokers expire');
assert(BROKER_EXPIRED_MS_MIN <= BROKER_EXPIRED_MS_DEFAULT && BROKER_EXPIRED_MS_DEFAULT <= BROKER_EXPIRED_MS_MAX);
assert(TOPICS_PER_REGISTRATION_MAX <= TOPICS_MAX);
assert(BROKER_NAMES_MAX <= BROKERS_MAX);
