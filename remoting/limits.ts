// Named limits and defaults of the remoting layer. Every bound the layer enforces lives here; the
// relationships between them are asserted when this module loads and when a caller overrides them.
import assert from 'node:assert';

export const KiB = 1024;
export const MiB = 1024 * KiB;

/**
 * Largest frame, counting the 4-byte length prefix (as Netty's length-field decoder does in Java,
 * `com.rocketmq.remoting.frameMaxLength`). A peer announcing more is cut off before we buffer it.
 */
export const FRAME_BYTES_MAX = 16 * MiB;

/**
 * Largest header. The biggest legitimate header is a send request: a properties string of up to
 * 32767 bytes whose \u0001/\u0002 separators JSON escapes to 6 bytes each (about 3.5x for short
 * key/value pairs, 6x at worst), plus the other fields and a remark. 256 KiB covers that worst case
 * while keeping JSON.parse work per frame small compared with a 16 MiB frame.
 */
export const HEADER_BYTES_MAX = 256 * KiB;

/** Hard ceiling of the 24-bit header-length field (protocol section 1.1). */
export const HEADER_BYTES_WIRE_MAX = 0xff_ffff;

/** Invokes awaiting a response on one connection; beyond it invokes wait in a bounded queue. Long-polling
 * pulls (one per queue, held up to ~15 s) occupy slots, so this is sized for a consumer with many queues. */
export const INFLIGHT_REQUESTS_MAX = 1024;
/** Invokes allowed to wait for an in-flight slot; beyond it invoke rejects with InflightLimitError. */
export const INVOKE_WAITERS_MAX = 4096;

/** Requests from one peer being processed at once before we stop reading its socket. Above our own
 * client's INFLIGHT_REQUESTS_MAX so a well-behaved ledgermq client never trips it. Parked long-poll
 * pulls count too. */
export const INBOUND_REQUESTS_HIGH_WATER = 2048;
/** Reading resumes once the in-process count falls to this. */
export const INBOUND_REQUESTS_LOW_WATER = 1024;

/** Corked outbound bytes that force an immediate flush instead of waiting for the end of the microtask. */
export const FLUSH_BYTES_THRESHOLD = 64 * KiB;
/** Unsent bytes queued for a peer above which we stop reading its requests until the socket drains. */
export const OUTBOUND_BYTES_HIGH_WATER = 8 * MiB;
/** Unsent bytes above which new invokes and oneways are refused (responses are bounded by the pause above). */
export const OUTBOUND_BYTES_MAX = 64 * MiB;

/** Default time an invoke waits for its response (Java's default send timeout). */
export const REQUEST_TIMEOUT_MS_DEFAULT = 3000;
/** Longest timeout an invoke may ask for; long-polling pulls use ~30 s. */
export const REQUEST_TIMEOUT_MS_MAX = 5 * 60 * 1000;
/** Default time allowed for a TCP connect (Java's connectTimeoutMillis). */
export const CONNECT_TIMEOUT_MS_DEFAULT = 3000;
/** Time a gracefully closing connection gets to flush before it is destroyed. */
export const CLOSE_GRACE_MS = 1000;

/** First reconnect delay after a connection to an address closed or failed; doubles per consecutive failure. */
export const RECONNECT_BACKOFF_BASE_MS = 100;
/** Ceiling of the reconnect delay. */
export const RECONNECT_BACKOFF_MAX_MS = 3000;

/** Accepted connections per server (net.Server.maxConnections). */
export const SERVER_CONNECTIONS_MAX = 10_000;
/** Remote addresses one client keeps state for (connections and backoff). */
export const CLIENT_ADDRESSES_MAX = 1024;

/** Characters of an error message copied into a SYSTEM_ERROR remark; stack traces and huge messages are cut. */
export const ERROR_REMARK_CHARS_MAX = 1024;

/** Per-connection limits; every field can be overridden (tests use tiny values). */
export interface ConnectionLimits {
  readonly frameBytesMax: number;
  readonly headerBytesMax: number;
  readonly inflightRequestsMax: number;
  readonly invokeWaitersMax: number;
  readonly inboundRequestsHighWater: number;
  readonly inboundRequestsLowWater: number;
  readonly flushBytesThreshold: number;
  readonly outboundBytesHighWater: number;
  readonly outboundBytesMax: number;
  readonly closeGraceMs: number;
}

export const CONNECTION_LIMITS_DEFAULT: ConnectionLimits = Object.freeze({
  frameBytesMax: FRAME_BYTES_MAX,
  headerBytesMax: HEADER_BYTES_MAX,
  inflightRequestsMax: INFLIGHT_REQUESTS_MAX,
  invokeWaitersMax: INVOKE_WAITERS_MAX,
  inboundRequestsHighWater: INBOUND_REQUESTS_HIGH_WATER,
  inboundRequestsLowWater: INBOUND_REQUESTS_LOW_WATER,
  flushBytesThreshold: FLUSH_BYTES_THRESHOLD,
  outboundBytesHighWater: OUTBOUND_BYTES_HIGH_WATER,
  outboundBytesMax: OUTBOUND_BYTES_MAX,
  closeGraceMs: CLOSE_GRACE_MS,
});

/** Frame prefix: 4-byte total length + 4-byte (serialize type | header length) word. */
const FRAME_PREFIX_BYTES = 8;

/** Merges overrides into the defaults and checks that the result is coherent. */
export function connectionLimits(overrides: Partial<ConnectionLimits> = {}): ConnectionLimits {
  const limits = Object.freeze({ ...CONNECTION_LIMITS_DEFAULT, ...overrides });
  assertConnectionLimits(limits);
  return limits;
}

function assertConnectionLimits(l: ConnectionLimits): void {
  for (const [name, value] of Object.entries(l)) {
    assert(Number.isSafeInteger(value) && value >= 0, `limit ${name} must be a non-negative integer, got ${value}`);
  }
  assert(l.frameBytesMax >= FRAME_PREFIX_BYTES, 'frameBytesMax must hold at least the frame prefix');
  // The length field is a signed int that does not count itself.
  assert(l.frameBytesMax - 4 <= 0x7fff_ffff, 'frameBytesMax must fit the signed 32-bit length field');
  assert(l.headerBytesMax <= HEADER_BYTES_WIRE_MAX, 'headerBytesMax must fit the 24-bit header-length field');
  assert(l.headerBytesMax + FRAME_PREFIX_BYTES <= l.frameBytesMax, 'a maximal header must fit in a frame');
  assert(l.inflightRequestsMax >= 1, 'inflightRequestsMax must be at least 1');
  assert(l.inboundRequestsHighWater >= 1, 'inboundRequestsHighWater must be at least 1');
  assert(l.inboundRequestsLowWater < l.inboundRequestsHighWater, 'inbound low water must be below high water');
  assert(l.flushBytesThreshold >= 1, 'flushBytesThreshold must be at least 1');
  // A single maximal frame must always be accepted on an otherwise drained socket.
  assert(l.outboundBytesMax >= l.frameBytesMax, 'outboundBytesMax must hold one maximal frame');
  assert(l.outboundBytesHighWater <= l.outboundBytesMax, 'outbound high water must not exceed outboundBytesMax');
}

assertConnectionLimits(CONNECTION_LIMITS_DEFAULT);
assert(HEADER_BYTES_MAX < FRAME_BYTES_MAX);
assert(INBOUND_REQUESTS_HIGH_WATER >= INFLIGHT_REQUESTS_MAX, 'our own client must hit its bound before the server pauses');
assert(FLUSH_BYTES_THRESHOLD < OUTBOUND_BYTES_HIGH_WATER);
assert(REQUEST_TIMEOUT_MS_DEFAULT <= REQUEST_TIMEOUT_MS_MAX);
assert(RECONNECT_BACKOFF_BASE_MS > 0 && RECONNECT_BACKOFF_BASE_MS <= RECONNECT_BACKOFF_MAX_MS);
// Worst case a remark character costs 6 header bytes (a JSON \uXXXX escape); a SYSTEM_ERROR reply must fit.
assert(ERROR_REMARK_CHARS_MAX * 6 + 4 * KiB <= HEADER_BYTES_MAX);
