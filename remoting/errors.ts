// Typed errors of the remoting layer. Operating errors (bad bytes from a peer, a closed socket, a
// timeout, a full queue) are these classes; programmer errors are `assert` failures instead.

/** Base class: `retriable` says whether the same request may succeed if sent again (maybe elsewhere). */
export class RemotingError extends Error {
  readonly retriable: boolean;

  constructor(message: string, retriable: boolean, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.retriable = retriable;
  }
}

/** Why a frame or header was rejected; stable names so tests and logs can match on them. */
export const DecodeReason = {
  FrameTooShort: 'frame-too-short',
  FrameTooLarge: 'frame-too-large',
  HeaderTooLarge: 'header-too-large',
  HeaderBeyondFrame: 'header-beyond-frame',
  UnknownSerializeType: 'unknown-serialize-type',
  MalformedJsonHeader: 'malformed-json-header',
  MalformedBinaryHeader: 'malformed-binary-header',
} as const;
export type DecodeReason = (typeof DecodeReason)[keyof typeof DecodeReason];

/** Bytes from a peer that do not form a valid frame or header. The connection that sent them is closed. */
export class DecodeError extends RemotingError {
  readonly reason: DecodeReason;

  constructor(reason: DecodeReason, detail: string, options?: ErrorOptions) {
    super(`${reason}: ${detail}`, false, options);
    this.reason = reason;
  }
}

/** A command that cannot be framed within the configured limits; nothing was written. */
export class FrameTooLargeError extends RemotingError {
  constructor(detail: string) {
    super(detail, false);
  }
}

/** The connection closed (or was never open) before the request got its response. */
export class ConnectionClosedError extends RemotingError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, true, options);
  }
}

/** A TCP connection could not be established (refused, timed out, or still in reconnect backoff). */
export class ConnectError extends RemotingError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, true, options);
  }
}

/** No response arrived within the request's timeout. The request may still have been processed. */
export class RequestTimeoutError extends RemotingError {
  readonly timeoutMs: number;

  constructor(message: string, timeoutMs: number) {
    super(message, true);
    this.timeoutMs = timeoutMs;
  }
}

/** The connection's in-flight bound and its bounded wait queue are both full. */
export class InflightLimitError extends RemotingError {
  constructor(message: string) {
    super(message, true);
  }
}

/** Too many bytes are already queued for a peer that is not reading; nothing was written. */
export class OutboundBufferFullError extends RemotingError {
  constructor(message: string) {
    super(message, true);
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
