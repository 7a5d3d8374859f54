// Message properties: `name \u0001 value \u0002` repeated (RocketMQ's MessageDecoder format).

export const NAME_VALUE_SEPARATOR = '\u0001';
export const PROPERTY_SEPARATOR = '\u0002';

/** Well-known property keys (RocketMQ's MessageConst). */
export const Prop = {
  KEYS: 'KEYS',
  TAGS: 'TAGS',
  WAIT_STORE_MSG_OK: 'WAIT',
  DELAY_TIME_LEVEL: 'DELAY',
  RETRY_TOPIC: 'RETRY_TOPIC',
  REAL_TOPIC: 'REAL_TOPIC',
  REAL_QUEUE_ID: 'REAL_QID',
  TRANSACTION_PREPARED: 'TRAN_MSG',
  PRODUCER_GROUP: 'PGROUP',
  MIN_OFFSET: 'MIN_OFFSET',
  MAX_OFFSET: 'MAX_OFFSET',
  CLUSTER: 'CLUSTER',
  ORIGIN_MESSAGE_ID: 'ORIGIN_MESSAGE_ID',
  RECONSUME_TIME: 'RECONSUME_TIME',
  MAX_RECONSUME_TIMES: 'MAX_RECONSUME_TIMES',
  UNIQ_KEY: 'UNIQ_KEY',
  TRANSACTION_PREPARED_QUEUE_OFFSET: 'TRAN_PREPARED_QUEUE_OFFSET',
  TRANSACTION_ID: '__transactionId__',
  TRANSACTION_CHECK_TIMES: 'TRANSACTION_CHECK_TIMES',
  CHECK_IMMUNITY_TIME_IN_SECONDS: 'CHECK_IMMUNITY_TIME_IN_SECONDS',
  SHARDING_KEY: '__SHARDINGKEY',
  DLQ_ORIGIN_TOPIC: 'DLQ_ORIGIN_TOPIC',
  DLQ_ORIGIN_MESSAGE_ID: 'DLQ_ORIGIN_MESSAGE_ID',
} as const;

export type Properties = Record<string, string>;

/** Encodes properties; entries whose value is empty are dropped, as the Java decoder would drop them. */
export function encodeProperties(props: Properties): string {
  let out = '';
  for (const name in props) {
    const value = props[name];
    if (value === undefined || value === null || value === '') continue;
    out += name + NAME_VALUE_SEPARATOR + value + PROPERTY_SEPARATOR;
  }
  return out;
}

export function decodeProperties(text: string): Properties {
  // No prototype: a property named "__proto__" is data like any other.
  const props: Properties = Object.create(null) as Properties;
  let start = 0;
  const length = text.length;
  while (start < length) {
    let end = text.indexOf(PROPERTY_SEPARATOR, start);
    if (end < 0) end = length;
    const sep = text.indexOf(NAME_VALUE_SEPARATOR, start);
    if (sep > start && sep < end) {
      const value = text.slice(sep + 1, end);
      if (value !== '') props[text.slice(start, sep)] = value;
    }
    start = end + 1;
  }
  return props;
}

/**
 * Reads one property without decoding the whole string (the dispatcher's hot path).
 * Returns undefined when the key is absent or its value is empty.
 */
export function findProperty(text: string, name: string): string | undefined {
  let from = 0;
  const needle = name + NAME_VALUE_SEPARATOR;
  for (;;) {
    const at = text.indexOf(needle, from);
    if (at < 0) return undefined;
    if (at === 0 || text.charCodeAt(at - 1) === 2) {
      const valueStart = at + needle.length;
      let end = text.indexOf(PROPERTY_SEPARATOR, valueStart);
      if (end < 0) end = text.length;
      return end > valueStart ? text.slice(valueStart, end) : undefined;
    }
    from = at + 1;
  }
}

/** Splits the KEYS property (space separated) into individual keys. */
export function splitKeys(keys: string | undefined): string[] {
  if (!keys) return [];
  return keys.split(' ').filter((k) => k.length > 0);
}
