// Builders for stored-message drafts used by store tests and benchmarks.
import { encodeProperties, type Properties } from '../../common/properties.js';
import type { MessageDraft, HostV4 } from '../../common/message.js';

const LOCAL: HostV4 = { ip: 0x7f000001, port: 10911 };
const topicBytesCache = new Map<string, Buffer>();

export function topicBytes(topic: string): Buffer {
  let b = topicBytesCache.get(topic);
  if (!b) {
    b = Buffer.from(topic);
    topicBytesCache.set(topic, b);
  }
  return b;
}

export function draft(topic: string, queueId: number, body: Uint8Array, props: Properties = {}, bornTimestamp = Date.now()): MessageDraft {
  return {
    topic,
    topicBytes: topicBytes(topic),
    queueId,
    flag: 0,
    sysFlag: 0,
    bornTimestamp,
    bornHost: { ip: 0x7f000001, port: 50000 },
    storeHost: LOCAL,
    reconsumeTimes: 0,
    preparedTransactionOffset: 0,
    body,
    properties: encodeProperties(props),
  };
}
