// Typed client errors. A broker or name server answer carries its response code; conditions found on
// this side (bad input, no route, a socket problem, shutdown) use the negative codes below.
import { RemotingError, RequestTimeoutError, ResponseCode, responseCodeLabel, requestCodeLabel } from '../remoting/index.js';
import { ERROR_REMARK_CHARS_MAX } from './limits.js';

/** Codes of errors raised on the client side; negative so they never collide with response codes. */
export const ClientErrorCode = {
  /** The caller passed something invalid (topic name, empty body, too large, ...). */
  ILLEGAL_ARGUMENT: -1,
  /** No name server knows the topic, or it has no usable queue. */
  NO_ROUTE: -2,
  /** A request timed out. */
  TIMEOUT: -3,
  /** A connection could not be opened or broke before the answer arrived. */
  CONNECTION: -4,
  /** The client was shut down (or not started). */
  CLOSED: -5,
  /** Too many operations are already waiting (a bounded queue is full). */
  BUSY: -6,
  /** A peer's answer lacked a required field or did not decode. */
  MALFORMED_RESPONSE: -7,
} as const;

/** Response codes after which a send is retried (on another broker group when possible). */
export const RETRIABLE_SEND_CODES: ReadonlySet<number> = new Set<number>([
  ResponseCode.TOPIC_NOT_EXIST,
  ResponseCode.SERVICE_NOT_AVAILABLE,
  ResponseCode.SYSTEM_ERROR,
  ResponseCode.NO_PERMISSION,
  ResponseCode.SYSTEM_BUSY,
  ResponseCode.NO_BUYER_ID,
  ResponseCode.NOT_IN_CURRENT_UNIT,
  ResponseCode.FLOW_CONTROL,
  ResponseCode.NOT_LEADER_FOR_QUEUE,
  ResponseCode.GO_AWAY,
]);

/** Answers that suggest our picture of who leads a broker group is out of date. */
export const ROUTE_STALE_CODES: ReadonlySet<number> = new Set<number>([
  ResponseCode.SERVICE_NOT_AVAILABLE,
  ResponseCode.NO_PERMISSION,
  ResponseCode.TOPIC_NOT_EXIST,
  ResponseCode.NOT_LEADER_FOR_QUEUE,
  ResponseCode.GO_AWAY,
]);

export class ClientError extends Error {
  /** A response code (>= 0) or a ClientErrorCode (< 0). */
  readonly code: number;
  /** Whether trying again (maybe elsewhere, after a route refresh) may succeed. */
  readonly retriable: boolean;
  /** The peer's remark, when the error is an answer. */
  readonly remark: string | null;
  /** `host:port` the failed request went to, when there was one. */
  readonly address: string | null;

  constructor(message: string, code: number, retriable: boolean, remark: string | null = null, address: string | null = null, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ClientError';
    this.code = code;
    this.retriable = retriable;
    this.remark = remark;
    this.address = address;
  }

  /** True when the failure was the transport (timeout, connect, broken connection) rather than an answer. */
  get isTransport(): boolean {
    return this.code === ClientErrorCode.TIMEOUT || this.code === ClientErrorCode.CONNECTION;
  }
}

export function illegalArgument(message: string): ClientError {
  return new ClientError(message, ClientErrorCode.ILLEGAL_ARGUMENT, false);
}

export function clientClosed(what: string): ClientError {
  return new ClientError(`${what} is not running`, ClientErrorCode.CLOSED, false);
}

function clip(text: string): string {
  return text.length > ERROR_REMARK_CHARS_MAX ? `${text.slice(0, ERROR_REMARK_CHARS_MAX)}...` : text;
}

/** An error for a non-success answer to `requestCode`. */
export function responseError(requestCode: number, address: string, code: number, remark: string | null, retriable: boolean): ClientError {
  const detail = remark === null || remark === '' ? '' : `: ${clip(remark)}`;
  return new ClientError(`${requestCodeLabel(requestCode)} to ${address} failed with ${responseCodeLabel(code)}${detail}`, code, retriable, remark, address);
}

/** Wraps a transport failure from the remoting layer (or anything else thrown by an invoke). */
export function transportError(requestCode: number, address: string, error: unknown): ClientError {
  if (error instanceof ClientError) return error;
  const message = error instanceof Error ? error.message : String(error);
  // Non-retriable remoting errors (a frame over the size limit, a malformed address) are still transport problems.
  const retriable = error instanceof RemotingError ? error.retriable : false;
  const code = error instanceof RequestTimeoutError ? ClientErrorCode.TIMEOUT : ClientErrorCode.CONNECTION;
  return new ClientError(`${requestCodeLabel(requestCode)} to ${address} failed: ${message}`, code, retriable, null, address, { cause: error });
}

/** `retriable` is false where the request may already have taken effect (a send that was stored). */
export function malformedResponse(requestCode: number, address: string, detail: string, retriable = true): ClientError {
  return new ClientError(`${requestCodeLabel(requestCode)} to ${address}: malformed answer: ${detail}`, ClientErrorCode.MALFORMED_RESPONSE, retriable, null, address);
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The leader address a not-leader answer names, e.g. "not leader, leader is 10.0.0.2:10911".
 * Only an address that follows the word "leader" counts, so unrelated addresses in a remark are ignored.
 */
export function leaderHintFromRemark(remark: string | null): string | null {
  if (remark === null) return null;
  const match = /leader\D{0,40}?((?:\d{1,3}\.){3}\d{1,3}:\d{1,5})/i.exec(remark);
  return match === null ? null : match[1]!;
}
