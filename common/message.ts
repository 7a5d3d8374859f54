// RocketMQ's stored-message layout (MessageDecoder, V1 magic, IPv4 hosts), byte for byte.
// This is both the payload of a message entry in the commit log and what PULL_MESSAGE,
// QUERY_MESSAGE, VIEW_MESSAGE_BY_ID and CHECK_TRANSACTION_STATE bodies carry.
//
//  off size field                    off size field
//    0   4  TOTALSIZE                 56   8  STORETIMESTAMP
//    4   4  MAGICCODE (V1)            64   8  STOREHOST (ipv4 + port)
//    8   4  BODYCRC (& 0x7fffffff)    72   4  RECONSUMETIMES
//   12   4  QUEUEID                   76   8  PREPARED_TRANSACTION_OFFSET
//   16   4  FLAG                      84   4  BODYLEN
//   20   8  QUEUEOFFSET               88   n  BODY
//   28   8  PHYSICALOFFSET           88+n 1  TOPICLEN, then TOPIC
//   36   4  SYSFLAG                        2  PROPERTIESLEN, then PROPERTIES
//   40   8  BORNTIMESTAMP
//   48   8  BORNHOST (ipv4 + port)
import { inflateSync } from 'node:zlib';
import { readInt64BE, formatIPv4, getInt64, parseIPv4, setInt64 } from './bytes.js';
import { bodyCrc } from './crc.js';
import { decodeProperties, Prop, type Properties } from './properties.js';
import { createOffsetMessageId } from './message-id.js';
import { PROPERTIES_BYTES_MAX } from './limits.js';

export const MESSAGE_MAGIC_V1 = 0xdaa320a7 | 0;
export const MESSAGE_MAGIC_V2 = 0xdaa320ab | 0;

export const MsgOff = {
  TOTAL_SIZE: 0,
  MAGIC: 4,
  BODY_CRC: 8,
  QUEUE_ID: 12,
  FLAG: 16,
  QUEUE_OFFSET: 20,
  PHYSICAL_OFFSET: 28,
  SYS_FLAG: 36,
  BORN_TIMESTAMP: 40,
  BORN_HOST: 48,
  STORE_TIMESTAMP: 56,
  STORE_HOST: 64,
  RECONSUME_TIMES: 72,
  PREPARED_TRANSACTION_OFFSET: 76,
  BODY_LENGTH: 84,
  BODY: 88,
} as const;

/** Fixed bytes of a V1 message with IPv4 hosts, besides body, topic and properties. */
export const MESSAGE_FIXED_BYTES = 91;

export const SysFlag = {
  COMPRESSED: 0x1,
  MULTI_TAGS: 0x2,
  TRANSACTION_NOT_TYPE: 0x0,
  TRANSACTION_PREPARED_TYPE: 0x4,
  TRANSACTION_COMMIT_TYPE: 0x8,
  TRANSACTION_ROLLBACK_TYPE: 0xc,
  BORNHOST_V6: 0x10,
  STOREHOST_V6: 0x20,
} as const;

export function transactionType(sysFlag: number): number {
  return sysFlag & SysFlag.TRANSACTION_ROLLBACK_TYPE;
}

export function resetTransactionType(sysFlag: number, type: number): number {
  return (sysFlag & ~SysFlag.TRANSACTION_ROLLBACK_TYPE) | type;
}

export interface HostV4 {
  /** IPv4 address as an unsigned 32-bit number. */
  ip: number;
  port: number;
}

/** Parses "a.b.c.d:port"; a host that is not IPv4 becomes 0.0.0.0 (the stored layout only keeps IPv4 here). */
export function parseHost(text: string): HostV4 {
  const at = text.lastIndexOf(':');
  return { ip: Math.max(0, parseIPv4(text.slice(0, at))), port: Number(text.slice(at + 1)) || 0 };
}

export function formatHost(host: HostV4): string {
  return `${formatIPv4(host.ip)}:${host.port}`;
}

/** What a writer supplies for a new stored message; offsets and the store timestamp are filled in at append. */
export interface MessageDraft {
  topic: string;
  /** UTF-8 bytes of `topic` (callers cache them per topic). */
  topicBytes: Buffer;
  queueId: number;
  flag: number;
  sysFlag: number;
  bornTimestamp: number;
  bornHost: HostV4;
  storeHost: HostV4;
  reconsumeTimes: number;
  preparedTransactionOffset: number;
  body: Uint8Array;
  /** Encoded properties string (see properties.ts); written as UTF-8. */
  properties: string;
  /** UTF-8 length of `properties`, when the caller already knows it. */
  propertiesLength?: number;
  /** BODYCRC if already known (e.g. copied from an original message); computed otherwise. */
  bodyCrc?: number;
}

export function messageLength(topicBytes: number, bodyBytes: number, propertiesBytes: number): number {
  return MESSAGE_FIXED_BYTES + bodyBytes + topicBytes + propertiesBytes;
}

/**
 * A draft whose properties do not fit the stored layout's signed 16-bit PROPERTIESLEN. Written anyway, the length
 * would wrap negative and the message would never decode again, so nothing like it is ever written.
 */
export class PropertiesTooLongError extends Error {
  constructor(
    readonly bytes: number,
    readonly topic: string,
  ) {
    super(`the message properties are ${bytes} bytes (the broker's own properties included), more than the ${PROPERTIES_BYTES_MAX} a stored message can hold (topic ${topic})`);
    this.name = 'PropertiesTooLongError';
  }
}

/**
 * Total stored size of a draft; caches the UTF-8 length of its properties on the draft.
 * Throws PropertiesTooLongError when the properties cannot be stored.
 */
export function draftLength(d: MessageDraft): number {
  if (d.propertiesLength === undefined) d.propertiesLength = Buffer.byteLength(d.properties);
  if (d.propertiesLength > PROPERTIES_BYTES_MAX) throw new PropertiesTooLongError(d.propertiesLength, d.topic);
  return messageLength(d.topicBytes.length, d.body.length, d.propertiesLength);
}

/**
 * Writes `d` at `pos` (through `view`, a DataView over the same memory as `buf`); returns the bytes written.
 * The caller checked that draftLength(d) bytes fit. Throws PropertiesTooLongError (before writing anything)
 * when the properties cannot be stored.
 */
export function writeMessage(buf: Buffer, view: DataView, pos: number, d: MessageDraft, queueOffset: number, physicalOffset: number, storeTimestamp: number): number {
  const total = draftLength(d);
  view.setInt32(pos, total);
  view.setInt32(pos + 4, MESSAGE_MAGIC_V1);
  view.setInt32(pos + 8, d.bodyCrc ?? bodyCrc(d.body));
  view.setInt32(pos + 12, d.queueId);
  view.setInt32(pos + 16, d.flag);
  setInt64(view, pos + 20, queueOffset);
  setInt64(view, pos + 28, physicalOffset);
  view.setInt32(pos + 36, d.sysFlag & ~(SysFlag.BORNHOST_V6 | SysFlag.STOREHOST_V6));
  setInt64(view, pos + 40, d.bornTimestamp);
  view.setUint32(pos + 48, d.bornHost.ip >>> 0);
  view.setInt32(pos + 52, d.bornHost.port);
  setInt64(view, pos + 56, storeTimestamp);
  view.setUint32(pos + 64, d.storeHost.ip >>> 0);
  view.setInt32(pos + 68, d.storeHost.port);
  view.setInt32(pos + 72, d.reconsumeTimes);
  setInt64(view, pos + 76, d.preparedTransactionOffset);
  view.setInt32(pos + 84, d.body.length);
  let at = pos + 88;
  buf.set(d.body, at);
  at += d.body.length;
  view.setUint8(at++, d.topicBytes.length);
  buf.set(d.topicBytes, at);
  at += d.topicBytes.length;
  const propertiesLength = d.propertiesLength!; // set (and checked) by draftLength above
  view.setInt16(at, propertiesLength);
  at += 2;
  if (propertiesLength > 0) (buf as unknown as Utf8Writable).utf8Write(d.properties, at, propertiesLength);
  at += propertiesLength;
  return at - pos;
}

/** Buffer's native UTF-8 writer, without the argument juggling of Buffer.write (measurably cheaper per message). */
interface Utf8Writable {
  utf8Write(text: string, offset: number, length: number): number;
}

/** A decoded stored message (RocketMQ's MessageExt). */
export interface MessageExt {
  topic: string;
  queueId: number;
  flag: number;
  queueOffset: number;
  commitLogOffset: number;
  sysFlag: number;
  bornTimestamp: number;
  bornHost: string;
  storeTimestamp: number;
  storeHost: string;
  storeHostV4: HostV4;
  reconsumeTimes: number;
  preparedTransactionOffset: number;
  bodyCrc: number;
  /** The body as sent (decompressed when the COMPRESSED flag was set and `inflate` was asked for). */
  body: Buffer;
  properties: Properties;
  /** Offset message id: store host + commit-log offset, 32 upper-case hex characters. */
  offsetMsgId: string;
  /** The producer's UNIQ_KEY when present, else the offset message id (what Java's getMsgId() returns). */
  msgId: string;
  tags: string | undefined;
  keys: string | undefined;
  storeSize: number;
}

export class MessageDecodeError extends Error {
  constructor(reason: string) {
    super(`malformed stored message: ${reason}`);
    this.name = 'MessageDecodeError';
  }
}

export interface DecodeOptions {
  /** Verify BODYCRC (default true). */
  verifyCrc?: boolean;
  /** Inflate zlib-compressed bodies (default true). */
  inflate?: boolean;
}

/** Decodes one stored message at `buf[pos]`. Throws MessageDecodeError on malformed input. */
export function decodeMessage(buf: Buffer, pos = 0, options: DecodeOptions = {}): MessageExt {
  const remaining = buf.length - pos;
  if (remaining < MESSAGE_FIXED_BYTES) throw new MessageDecodeError(`${remaining} bytes left, need at least ${MESSAGE_FIXED_BYTES}`);
  const total = buf.readInt32BE(pos);
  if (total < MESSAGE_FIXED_BYTES || total > remaining) throw new MessageDecodeError(`TOTALSIZE ${total} outside [${MESSAGE_FIXED_BYTES}, ${remaining}]`);
  const magic = buf.readInt32BE(pos + 4);
  if (magic !== MESSAGE_MAGIC_V1 && magic !== MESSAGE_MAGIC_V2) throw new MessageDecodeError(`bad magic 0x${(magic >>> 0).toString(16)}`);
  const sysFlag = buf.readInt32BE(pos + 36);
  const bornHostBytes = sysFlag & SysFlag.BORNHOST_V6 ? 20 : 8;
  const storeHostBytes = sysFlag & SysFlag.STOREHOST_V6 ? 20 : 8;
  let at = pos + 48;
  const bornHost = readHost(buf, at, bornHostBytes);
  at += bornHostBytes;
  const storeTimestamp = readInt64BE(buf, at);
  at += 8;
  const storeHostV4 = { ip: buf.readUInt32BE(at), port: buf.readInt32BE(at + storeHostBytes - 4) };
  const storeHost = readHost(buf, at, storeHostBytes);
  at += storeHostBytes;
  const reconsumeTimes = buf.readInt32BE(at);
  const preparedTransactionOffset = readInt64BE(buf, at + 4);
  const bodyLength = buf.readInt32BE(at + 12);
  at += 16;
  const end = pos + total;
  if (bodyLength < 0 || at + bodyLength > end) throw new MessageDecodeError(`BODYLEN ${bodyLength} overruns the record`);
  let body = buf.subarray(at, at + bodyLength);
  at += bodyLength;
  const storedCrc = buf.readInt32BE(pos + 8);
  if (options.verifyCrc !== false && bodyCrc(body) !== storedCrc) throw new MessageDecodeError('BODYCRC mismatch');
  const topicLength = magic === MESSAGE_MAGIC_V2 ? buf.readInt16BE(at) : buf[at]!;
  at += magic === MESSAGE_MAGIC_V2 ? 2 : 1;
  if (topicLength < 0 || at + topicLength > end) throw new MessageDecodeError('TOPICLEN overruns the record');
  const topic = buf.toString('utf8', at, at + topicLength);
  at += topicLength;
  if (at + 2 > end) throw new MessageDecodeError('PROPERTIESLEN overruns the record');
  const propertiesLength = buf.readInt16BE(at);
  at += 2;
  if (propertiesLength < 0 || at + propertiesLength !== end) throw new MessageDecodeError('PROPERTIES do not end at TOTALSIZE');
  const properties = decodeProperties(buf.toString('utf8', at, at + propertiesLength));
  if (sysFlag & SysFlag.COMPRESSED && options.inflate !== false) {
    try {
      body = inflateSync(body);
    } catch (err) {
      throw new MessageDecodeError(`compressed body does not inflate: ${(err as Error).message}`);
    }
  }
  const commitLogOffset = readInt64BE(buf, pos + 28);
  const offsetMsgId = createOffsetMessageId(storeHostV4, commitLogOffset);
  return {
    topic,
    queueId: buf.readInt32BE(pos + 12),
    flag: buf.readInt32BE(pos + 16),
    queueOffset: readInt64BE(buf, pos + 20),
    commitLogOffset,
    sysFlag,
    bornTimestamp: readInt64BE(buf, pos + 40),
    bornHost,
    storeTimestamp,
    storeHost,
    storeHostV4,
    reconsumeTimes,
    preparedTransactionOffset,
    bodyCrc: storedCrc,
    body,
    properties,
    offsetMsgId,
    msgId: properties[Prop.UNIQ_KEY] ?? offsetMsgId,
    tags: properties[Prop.TAGS],
    keys: properties[Prop.KEYS],
    storeSize: total,
  };
}

/** Decodes a concatenation of stored messages (a pull body). */
export function decodeMessages(buf: Buffer, options: DecodeOptions = {}): MessageExt[] {
  const out: MessageExt[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const m = decodeMessage(buf, pos, options);
    out.push(m);
    pos += m.storeSize;
  }
  return out;
}

function readHost(buf: Buffer, at: number, bytes: number): string {
  if (bytes === 8) return `${formatIPv4(buf.readUInt32BE(at))}:${buf.readInt32BE(at + 4)}`;
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(buf.readUInt16BE(at + i).toString(16));
  return `[${parts.join(':')}]:${buf.readInt32BE(at + 16)}`;
}

/** Fast accessors on a stored message at `pos` (no full decode): numeric fields through a DataView. */
export const MessageView = {
  totalSize: (view: DataView, pos: number): number => view.getInt32(pos),
  magic: (view: DataView, pos: number): number => view.getInt32(pos + 4),
  queueId: (view: DataView, pos: number): number => view.getInt32(pos + 12),
  queueOffset: (view: DataView, pos: number): number => getInt64(view, pos + 20),
  physicalOffset: (view: DataView, pos: number): number => getInt64(view, pos + 28),
  sysFlag: (view: DataView, pos: number): number => view.getInt32(pos + 36),
  bornTimestamp: (view: DataView, pos: number): number => getInt64(view, pos + 40),
  /** Store timestamp; hosts are IPv4 in everything ledgermq writes. */
  storeTimestamp: (view: DataView, pos: number): number => getInt64(view, pos + 56),
  bodyLength: (view: DataView, pos: number): number => view.getInt32(pos + 84),
  /** Offset of TOPICLEN, for IPv4 hosts. */
  topicLengthOffset: (view: DataView, pos: number): number => pos + 88 + view.getInt32(pos + 84),
  topic(buf: Buffer, view: DataView, pos: number): string {
    const at = pos + 88 + view.getInt32(pos + 84);
    return buf.toString('utf8', at + 1, at + 1 + view.getUint8(at));
  },
  /** Offset of PROPERTIESLEN. */
  propertiesOffset(view: DataView, pos: number): number {
    const at = pos + 88 + view.getInt32(pos + 84);
    return at + 1 + view.getUint8(at);
  },
  properties(buf: Buffer, view: DataView, pos: number): string {
    const at = MessageView.propertiesOffset(view, pos);
    return buf.toString('utf8', at + 2, at + 2 + view.getInt16(at));
  },
};
