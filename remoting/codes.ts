// Numeric constants of the RocketMQ remoting protocol (rocketmq-protocol.md sections 1.1-1.3, 2.1, 2.2).

/** Request codes. Direction in brackets: C client, B broker, N name server. */
export const RequestCode = {
  SEND_MESSAGE: 10, // C->B
  PULL_MESSAGE: 11, // C->B
  QUERY_MESSAGE: 12, // C->B
  QUERY_CONSUMER_OFFSET: 14, // C->B
  UPDATE_CONSUMER_OFFSET: 15, // C->B (ali-ons sends it without the oneway bit)
  UPDATE_AND_CREATE_TOPIC: 17, // admin->B
  GET_ALL_TOPIC_CONFIG: 21, // admin->B
  SEARCH_OFFSET_BY_TIMESTAMP: 29, // C->B
  GET_MAX_OFFSET: 30, // C->B
  GET_MIN_OFFSET: 31, // C->B
  GET_EARLIEST_MSG_STORETIME: 32, // C->B
  VIEW_MESSAGE_BY_ID: 33, // C->B
  HEART_BEAT: 34, // C->B
  UNREGISTER_CLIENT: 35, // C->B
  CONSUMER_SEND_MSG_BACK: 36, // C->B
  END_TRANSACTION: 37, // C->B oneway
  GET_CONSUMER_LIST_BY_GROUP: 38, // C->B
  CHECK_TRANSACTION_STATE: 39, // B->C oneway
  NOTIFY_CONSUMER_IDS_CHANGED: 40, // B->C oneway
  LOCK_BATCH_MQ: 41, // C->B
  UNLOCK_BATCH_MQ: 42, // C->B
  PUT_KV_CONFIG: 100, // ->N
  GET_KV_CONFIG: 101, // ->N
  DELETE_KV_CONFIG: 102, // ->N
  REGISTER_BROKER: 103, // B->N
  UNREGISTER_BROKER: 104, // B->N
  GET_ROUTEINFO_BY_TOPIC: 105, // C->N
  GET_BROKER_CLUSTER_INFO: 106, // admin->N
  GET_ALL_TOPIC_LIST_FROM_NAMESERVER: 206, // admin->N
  REGISTER_TOPIC_IN_NAMESRV: 217, // ->N (5.x)
  RESET_CONSUMER_CLIENT_OFFSET: 220, // B->C
  GET_CONSUMER_STATUS_FROM_CLIENT: 221, // B->C
  GET_CONSUMER_RUNNING_INFO: 307, // B->C sync
  CONSUME_MESSAGE_DIRECTLY: 309, // B->C sync
  SEND_MESSAGE_V2: 310, // C->B, one-letter header names
  SEND_BATCH_MESSAGE: 320, // C->B
  BROKER_HEARTBEAT: 904, // B->N (5.x)
} as const;
export type RequestCode = (typeof RequestCode)[keyof typeof RequestCode];

/** Response codes (`ResponseCode` and `RemotingSysResponseCode`). */
export const ResponseCode = {
  SUCCESS: 0,
  SYSTEM_ERROR: 1,
  SYSTEM_BUSY: 2,
  REQUEST_CODE_NOT_SUPPORTED: 3,
  TRANSACTION_FAILED: 4,
  FLUSH_DISK_TIMEOUT: 10,
  SLAVE_NOT_AVAILABLE: 11,
  FLUSH_SLAVE_TIMEOUT: 12,
  MESSAGE_ILLEGAL: 13,
  SERVICE_NOT_AVAILABLE: 14,
  VERSION_NOT_SUPPORTED: 15,
  NO_PERMISSION: 16,
  TOPIC_NOT_EXIST: 17,
  TOPIC_EXIST_ALREADY: 18,
  PULL_NOT_FOUND: 19,
  PULL_RETRY_IMMEDIATELY: 20,
  PULL_OFFSET_MOVED: 21,
  QUERY_NOT_FOUND: 22,
  SUBSCRIPTION_PARSE_FAILED: 23,
  SUBSCRIPTION_NOT_EXIST: 24,
  SUBSCRIPTION_NOT_LATEST: 25,
  SUBSCRIPTION_GROUP_NOT_EXIST: 26,
  FILTER_DATA_NOT_EXIST: 27,
  FILTER_DATA_NOT_LATEST: 28,
  INVALID_PARAMETER: 29,
  TRANSACTION_SHOULD_COMMIT: 200,
  TRANSACTION_SHOULD_ROLLBACK: 201,
  TRANSACTION_STATE_UNKNOW: 202, // sic, as spelled by RocketMQ
  TRANSACTION_STATE_GROUP_WRONG: 203,
  NO_BUYER_ID: 204,
  NOT_IN_CURRENT_UNIT: 205,
  CONSUMER_NOT_ONLINE: 206,
  CONSUME_MSG_TIMEOUT: 207,
  NO_MESSAGE: 208,
  POLLING_FULL: 209,
  POLLING_TIMEOUT: 210,
  BROKER_NOT_EXIST: 211,
  BROKER_DISPATCH_NOT_COMPLETE: 212,
  BROADCAST_CONSUMPTION: 213,
  FLOW_CONTROL: 215,
  NOT_LEADER_FOR_QUEUE: 501,
  ILLEGAL_OPERATION: 604,
  GO_AWAY: 1500,
} as const;
export type ResponseCode = (typeof ResponseCode)[keyof typeof ResponseCode];

/** Sender language: JSON headers carry the name, binary headers the byte. */
export const LanguageCode = {
  JAVA: 0,
  CPP: 1,
  DOTNET: 2,
  PYTHON: 3,
  DELPHI: 4,
  ERLANG: 5,
  RUBY: 6,
  OTHER: 7,
  HTTP: 8,
  GO: 9,
  PHP: 10,
  OMS: 11,
  RUST: 12,
  NODE_JS: 13, // 5.x only: a 4.x Java peer cannot parse it
} as const;
export type LanguageName = keyof typeof LanguageCode;

const languageNamesByByte: readonly string[] = Object.keys(LanguageCode);

/** The language name for a binary header byte; bytes this table does not know read as `OTHER`. */
export function languageName(byte: number): string {
  return languageNamesByByte[byte] ?? 'OTHER';
}

/** The binary header byte for a language name; names this table does not know are sent as `OTHER`. */
export function languageByte(name: string): number {
  return Object.hasOwn(LanguageCode, name) ? LanguageCode[name as LanguageName] : LanguageCode.OTHER;
}

/**
 * Language of requests we originate. `OTHER` is valid in every Java version (4.x and 5.x, JSON and
 * binary), whereas `NODE_JS` only exists from 5.x on and would break a 4.x Java peer's enum parsing.
 */
export const REQUEST_LANGUAGE = 'OTHER';
/** Language of responses we send: Java clients parse the name into their enum, and every version knows `JAVA`. */
export const RESPONSE_LANGUAGE = 'JAVA';

/** `MQVersion.Version` ordinal we announce: V4_9_8 (the remoting protocol generation we implement, >= 401 so
 * name servers answer with standard JSON routes). */
export const PROTOCOL_VERSION = 409;

/** Bits of the header's `flag` field. */
export const RemotingFlag = {
  RESPONSE: 1,
  ONEWAY: 2,
} as const;

/** Header encoding, stored in the top byte of the frame's header-length word. */
export const SerializeType = {
  JSON: 0,
  ROCKETMQ: 1,
} as const;
export type SerializeType = (typeof SerializeType)[keyof typeof SerializeType];

export function isSerializeType(value: number): value is SerializeType {
  return value === SerializeType.JSON || value === SerializeType.ROCKETMQ;
}

function reverseTable(table: Readonly<Record<string, number>>): ReadonlyMap<number, string> {
  return new Map(Object.entries(table).map(([name, code]) => [code, name]));
}

const requestCodeNames = reverseTable(RequestCode);
const responseCodeNames = reverseTable(ResponseCode);

/** `SEND_MESSAGE_V2(310)`-style label for logs and error messages. */
export function requestCodeLabel(code: number): string {
  return `${requestCodeNames.get(code) ?? 'UNKNOWN'}(${code})`;
}

export function responseCodeLabel(code: number): string {
  return `${responseCodeNames.get(code) ?? 'UNKNOWN'}(${code})`;
}
