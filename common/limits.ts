// Limits of the message format shared by store, broker and clients.
export const KiB = 1024;
export const MiB = 1024 * KiB;

/** Largest message body (RocketMQ's maxMessageSize default). */
export const MESSAGE_BODY_BYTES_MAX = 4 * MiB;
/** Largest encoded properties string: its length is a signed short in the stored layout. */
export const PROPERTIES_BYTES_MAX = 32767;
/** Longest topic name: a V1 stored message keeps the topic length in one byte. */
export const TOPIC_NAME_LENGTH_MAX = 127;
/** Bodies at least this large are zlib-compressed by producers (RocketMQ's compressMsgBodyOverHowmuch). */
export const COMPRESS_BODY_BYTES_MIN = 4 * KiB;
