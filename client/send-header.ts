// SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE request header (one-letter names, protocol section 3.1), the send
// response header, and the batch body (section 4.7).
//
//   V2 header:  a producerGroup  b topic  c defaultTopic  d defaultTopicQueueNums  e queueId  f sysFlag
//               g bornTimestamp  h flag  i properties  j reconsumeTimes  k unitMode  l maxReconsumeTimes
//               m batch  n brokerName (5.x)
//   batch body: per message { TOTALSIZE int, MAGICCODE int (0), BODYCRC int (0), FLAG int,
//                             BODYLEN int, BODY, PROPERTIESLEN short, PROPERTIES }
import type { ExtFields } from '../remoting/index.js';
import { PROPERTIES_BYTES_MAX } from '../common/limits.js';

export interface SendMessageHeader {
  producerGroup: string;
  topic: string;
  defaultTopic: string;
  defaultTopicQueueNums: number;
  queueId: number;
  sysFlag: number;
  bornTimestamp: number;
  flag: number;
  properties: string;
  reconsumeTimes: number;
  unitMode: boolean;
  /** Sent only for retry-topic sends, as the Java client does. */
  maxReconsumeTimes?: number;
  batch: boolean;
  brokerName?: string;
}

export function encodeSendHeaderV2(h: SendMessageHeader): ExtFields {
  const ext: ExtFields = {
    a: h.producerGroup,
    b: h.topic,
    c: h.defaultTopic,
    d: String(h.defaultTopicQueueNums),
    e: String(h.queueId),
    f: String(h.sysFlag),
    g: String(h.bornTimestamp),
    h: String(h.flag),
    i: h.properties,
    j: String(h.reconsumeTimes),
    k: String(h.unitMode),
    m: String(h.batch),
  };
  if (h.maxReconsumeTimes !== undefined) ext['l'] = String(h.maxReconsumeTimes);
  if (h.brokerName !== undefined) ext['n'] = h.brokerName;
  return ext;
}

/** Decodes a V2 header (as a broker would); throws on a missing required field. */
export function decodeSendHeaderV2(ext: ExtFields): SendMessageHeader {
  const need = (key: string): string => {
    const v = ext[key];
    if (v === undefined || v === null) throw new Error(`send header field ${key} is missing`);
    return v;
  };
  const int = (key: string): number => {
    const n = Number(need(key));
    if (!Number.isSafeInteger(n)) throw new Error(`send header field ${key} is not an integer`);
    return n;
  };
  const header: SendMessageHeader = {
    producerGroup: need('a'),
    topic: need('b'),
    defaultTopic: need('c'),
    defaultTopicQueueNums: int('d'),
    queueId: int('e'),
    sysFlag: int('f'),
    bornTimestamp: int('g'),
    flag: int('h'),
    properties: ext['i'] ?? '',
    reconsumeTimes: ext['j'] === undefined ? 0 : int('j'),
    unitMode: ext['k'] === 'true',
    batch: ext['m'] === 'true',
  };
  if (ext['l'] !== undefined) header.maxReconsumeTimes = int('l');
  if (ext['n'] !== undefined) header.brokerName = ext['n'];
  return header;
}

/** One message inside a batch body. */
export interface BatchItem {
  flag: number;
  body: Buffer;
  /** Encoded properties string (common/properties.ts). */
  properties: string;
}

/** Fixed bytes of a batch record besides body and properties. */
export const BATCH_RECORD_FIXED_BYTES = 4 + 4 + 4 + 4 + 4 + 2;

export function batchRecordBytes(item: BatchItem): number {
  return BATCH_RECORD_FIXED_BYTES + item.body.length + Buffer.byteLength(item.properties);
}

export function encodeBatchBody(items: readonly BatchItem[]): Buffer {
  const propertyBytes = items.map((item) => Buffer.from(item.properties, 'utf8'));
  let total = 0;
  for (let i = 0; i < items.length; i++) {
    const length = propertyBytes[i]!.length;
    if (length > PROPERTIES_BYTES_MAX) throw new RangeError(`batch message ${i}: properties are ${length} bytes, more than ${PROPERTIES_BYTES_MAX}`);
    total += BATCH_RECORD_FIXED_BYTES + items[i]!.body.length + length;
  }
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (let i = 0; i < items.length; i++) {
    const { flag, body } = items[i]!;
    const props = propertyBytes[i]!;
    const size = BATCH_RECORD_FIXED_BYTES + body.length + props.length;
    out.writeInt32BE(size, at);
    out.writeInt32BE(0, at + 4);
    out.writeInt32BE(0, at + 8);
    out.writeInt32BE(flag, at + 12);
    out.writeInt32BE(body.length, at + 16);
    at += 20;
    body.copy(out, at);
    at += body.length;
    out.writeInt16BE(props.length, at);
    at += 2;
    props.copy(out, at);
    at += props.length;
  }
  return out;
}
