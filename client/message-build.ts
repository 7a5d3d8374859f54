// Turning a user's Message into what goes on the wire: validation with clear errors, the system
// properties every send carries (UNIQ_KEY, TAGS, KEYS, DELAY, WAIT), and zlib compression of big bodies.
import { promisify } from 'node:util';
import { deflate } from 'node:zlib';
import { PROPERTIES_BYTES_MAX } from '../common/limits.js';
import { SysFlag } from '../common/message.js';
import { encodeProperties, NAME_VALUE_SEPARATOR, Prop, PROPERTY_SEPARATOR, type Properties } from '../common/properties.js';
import { isSystemTopic, SystemTopic, topicNameProblem } from '../common/topic.js';
import { illegalArgument } from './errors.js';
import { MESSAGE_KEYS_MAX } from './limits.js';

const deflateAsync = promisify(deflate);
/** Java's default `zipCompressLevel`. */
const ZLIB_LEVEL = 5;

export interface Message {
  topic: string;
  body: Buffer | string;
  tags?: string;
  /** Business keys for the index; several are sent space separated. */
  keys?: string | string[];
  /** User properties; names the client or broker set themselves are refused. */
  properties?: Record<string, string>;
  /** Delay level 1..n of the broker's `messageDelayLevel` list; 0 or absent = deliver now. */
  delayLevel?: number;
  /** User flag stored with the message. */
  flag?: number;
}

/** Property names owned by the client or broker; user code may not set them. */
const RESERVED_PROPERTIES: ReadonlySet<string> = new Set([
  Prop.KEYS,
  Prop.TAGS,
  Prop.WAIT_STORE_MSG_OK,
  Prop.DELAY_TIME_LEVEL,
  Prop.RETRY_TOPIC,
  Prop.REAL_TOPIC,
  Prop.REAL_QUEUE_ID,
  Prop.TRANSACTION_PREPARED,
  Prop.PRODUCER_GROUP,
  Prop.MIN_OFFSET,
  Prop.MAX_OFFSET,
  Prop.CLUSTER,
  Prop.ORIGIN_MESSAGE_ID,
  Prop.RECONSUME_TIME,
  Prop.MAX_RECONSUME_TIMES,
  Prop.UNIQ_KEY,
  Prop.TRANSACTION_PREPARED_QUEUE_OFFSET,
  Prop.TRANSACTION_ID,
  Prop.TRANSACTION_CHECK_TIMES,
]);

/** A message ready to be framed: final body, sysFlag and encoded properties. */
export interface PreparedMessage {
  topic: string;
  body: Buffer;
  sysFlag: number;
  flag: number;
  properties: Properties;
  propertiesText: string;
  uniqKey: string;
  /** Original body length, before compression. */
  rawBytes: number;
}

export interface PrepareOptions {
  maxMessageBytes: number;
  /** Bodies of at least this many bytes are compressed; Infinity turns compression off (batches). */
  compressOverBytes: number;
  uniqKey: () => string;
}

function hasSeparator(text: string): boolean {
  return text.includes(NAME_VALUE_SEPARATOR) || text.includes(PROPERTY_SEPARATOR);
}

/** Checks the topic a producer may send to; throws ILLEGAL_ARGUMENT. */
export function checkSendTopic(topic: unknown): asserts topic is string {
  const problem = topicNameProblem(topic);
  if (problem !== null) throw illegalArgument(`invalid message: ${problem}`);
  if (topic === SystemTopic.DEFAULT || isSystemTopic(topic as string)) throw illegalArgument(`invalid message: topic ${topic as string} is reserved for the system`);
}

function bodyBuffer(body: unknown): Buffer {
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  throw illegalArgument('invalid message: body must be a Buffer or a string');
}

function keysText(keys: Message['keys']): string | undefined {
  if (keys === undefined || keys === null) return undefined;
  const list = (Array.isArray(keys) ? keys : [keys]).flatMap((k) => {
    if (typeof k !== 'string') throw illegalArgument('invalid message: keys must be strings');
    return k.split(' ');
  }).filter((k) => k !== '');
  if (list.length > MESSAGE_KEYS_MAX) throw illegalArgument(`invalid message: more than ${MESSAGE_KEYS_MAX} keys`);
  for (const k of list) if (hasSeparator(k)) throw illegalArgument('invalid message: a key contains a \\u0001 or \\u0002 character');
  return list.length === 0 ? undefined : list.join(' ');
}

/** Validates everything but the body size and builds the system + user properties (without UNIQ_KEY). */
export function messageProperties(msg: Message): Properties {
  // No prototype: a user property called "__proto__" is data, not a prototype change.
  const props: Properties = Object.create(null) as Properties;
  if (msg.properties !== undefined && msg.properties !== null) {
    if (typeof msg.properties !== 'object') throw illegalArgument('invalid message: properties must be an object of strings');
    for (const [name, value] of Object.entries(msg.properties)) {
      if (typeof value !== 'string') throw illegalArgument(`invalid message: property ${name} is not a string`);
      if (name === '' || hasSeparator(name) || hasSeparator(value)) throw illegalArgument(`invalid message: property ${JSON.stringify(name)} has an empty name or a \\u0001/\\u0002 character`);
      if (RESERVED_PROPERTIES.has(name)) throw illegalArgument(`invalid message: property ${name} is reserved for the system`);
      props[name] = value;
    }
  }
  if (msg.tags !== undefined && msg.tags !== null) {
    if (typeof msg.tags !== 'string' || hasSeparator(msg.tags) || msg.tags.includes('||')) throw illegalArgument('invalid message: tags must be a string without "||" or \\u0001/\\u0002');
    if (msg.tags !== '') props[Prop.TAGS] = msg.tags;
  }
  const keys = keysText(msg.keys);
  if (keys !== undefined) props[Prop.KEYS] = keys;
  if (msg.delayLevel !== undefined && msg.delayLevel !== null) {
    if (!Number.isSafeInteger(msg.delayLevel) || msg.delayLevel < 0) throw illegalArgument('invalid message: delayLevel must be an integer >= 0');
    if (msg.delayLevel > 0) props[Prop.DELAY_TIME_LEVEL] = String(msg.delayLevel);
  }
  props[Prop.WAIT_STORE_MSG_OK] = 'true';
  return props;
}

export function messageFlag(msg: Message): number {
  const flag = msg.flag ?? 0;
  if (!Number.isInteger(flag) || flag < -0x8000_0000 || flag > 0x7fff_ffff) throw illegalArgument('invalid message: flag must be a 32-bit integer');
  return flag;
}

export function encodedProperties(props: Properties): string {
  const text = encodeProperties(props);
  const bytes = Buffer.byteLength(text);
  if (bytes > PROPERTIES_BYTES_MAX) throw illegalArgument(`invalid message: properties take ${bytes} bytes, more than ${PROPERTIES_BYTES_MAX}`);
  return text;
}

/** Validates `msg` and produces the bytes to send. Throws ClientError ILLEGAL_ARGUMENT. */
export async function prepareMessage(msg: Message, options: PrepareOptions): Promise<PreparedMessage> {
  if (typeof msg !== 'object' || msg === null) throw illegalArgument('invalid message: not an object');
  checkSendTopic(msg.topic);
  const raw = bodyBuffer(msg.body);
  if (raw.length === 0) throw illegalArgument('invalid message: the body is empty');
  if (raw.length > options.maxMessageBytes) throw illegalArgument(`invalid message: the body is ${raw.length} bytes, more than the ${options.maxMessageBytes} allowed`);
  const flag = messageFlag(msg);
  const properties = messageProperties(msg);
  const uniqKey = options.uniqKey();
  properties[Prop.UNIQ_KEY] = uniqKey;
  const propertiesText = encodedProperties(properties);
  let body = raw;
  let sysFlag = 0;
  if (raw.length >= options.compressOverBytes) {
    body = await deflateAsync(raw, { level: ZLIB_LEVEL });
    sysFlag |= SysFlag.COMPRESSED;
  }
  return { topic: msg.topic, body, sysFlag, flag, properties, propertiesText, uniqKey, rawBytes: raw.length };
}
