// RemotingCommand: one request or response of the remoting protocol, independent of its header encoding.
import { PROTOCOL_VERSION, REQUEST_LANGUAGE, RESPONSE_LANGUAGE, RemotingFlag, SerializeType } from './codes.js';

/** Custom header fields. On the wire every value is a string (protocol section 1.5). */
export type ExtFields = Record<string, string>;

/**
 * Body bytes. A list of buffers lets a pull response hand over slices of a memory-mapped file that are
 * written to the socket as they are, without being concatenated.
 */
export type Body = Buffer | readonly Buffer[] | null;

/** A plain mutable record rather than a class: it is created on every frame of the hot path. */
export interface RemotingCommand {
  code: number;
  /** Language *name* (`JAVA`, `OTHER`, ...); binary headers carry it as a byte. */
  language: string;
  version: number;
  /** Correlation id: a response echoes its request's opaque. */
  opaque: number;
  /** Bit 0 response, bit 1 oneway (RemotingFlag). */
  flag: number;
  remark: string | null;
  extFields: ExtFields | null;
  body: Body;
  /** Header encoding used on the wire for this command. */
  serializeType: SerializeType;
}

const OPAQUE_MAX = 0x7fff_ffff;
let lastOpaque = -1;

/** The opaque that follows `previous`: stays a non-negative int32, wrapping to 0 after the maximum. */
export function opaqueAfter(previous: number): number {
  return previous >= OPAQUE_MAX ? 0 : previous + 1;
}

/** Process-wide request id, like Java's static counter. */
export function nextOpaque(): number {
  lastOpaque = opaqueAfter(lastOpaque);
  return lastOpaque;
}

export function isResponse(command: RemotingCommand): boolean {
  return (command.flag & RemotingFlag.RESPONSE) !== 0;
}

export function isOneway(command: RemotingCommand): boolean {
  return (command.flag & RemotingFlag.ONEWAY) !== 0;
}

/**
 * A new request with a fresh opaque, binary header encoding and language `OTHER`. A RemotingClient
 * re-stamps the serialize type with its own setting when it sends the request.
 */
export function createRequest(code: number, extFields: ExtFields | null = null, body: Body = null): RemotingCommand {
  return {
    code,
    language: REQUEST_LANGUAGE,
    version: PROTOCOL_VERSION,
    opaque: nextOpaque(),
    flag: 0,
    remark: null,
    extFields,
    body,
    serializeType: SerializeType.ROCKETMQ,
  };
}

/** A response to `request`: same opaque and header encoding, response bit set. */
export function createResponse(
  request: RemotingCommand,
  code: number,
  remark: string | null = null,
  extFields: ExtFields | null = null,
  body: Body = null,
): RemotingCommand {
  return {
    code,
    language: RESPONSE_LANGUAGE,
    version: PROTOCOL_VERSION,
    opaque: request.opaque,
    flag: RemotingFlag.RESPONSE,
    remark,
    extFields,
    body,
    serializeType: request.serializeType,
  };
}

/** Sets a field even when the key is `__proto__`, which plain assignment would swallow. */
export function defineExtField(ext: ExtFields, key: string, value: string): void {
  if (key === '__proto__') {
    Object.defineProperty(ext, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    ext[key] = value;
  }
}

/** Total body length in bytes. */
export function bodyBytes(body: Body): number {
  if (body === null) return 0;
  if (Buffer.isBuffer(body)) return body.length;
  let total = 0;
  for (const part of body as readonly Buffer[]) total += part.length;
  return total;
}
