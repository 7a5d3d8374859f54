// Named limits and defaults of the storage engine. Every limit the store enforces lives here.

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

/** Default size of one commit-log segment file. Tests use much smaller segments to exercise rolling. */
export const COMMIT_LOG_SEGMENT_BYTES_DEFAULT = 1 * GiB;
/** Largest message body a producer may send (RocketMQ's maxMessageSize). */
export const MESSAGE_BODY_BYTES_MAX = 4 * MiB;
/** Largest encoded properties string: its length is stored as a signed short. */
export const PROPERTIES_BYTES_MAX = 32767;
/** Longest topic name: a V1 stored message keeps the topic length in one signed byte. */
export const TOPIC_NAME_LENGTH_MAX = 127;
/** Largest single commit-log record (entry header + payload); a batch entry may hold several messages. */
export const RECORD_BYTES_MAX = 4 * MiB + 64 * KiB;
