// Protocol constants shared by the broker and the clients (RocketMQ's PermName, PullSysFlag and the one-letter
// field names of SEND_MESSAGE_V2), so both sides read them from one place.

/** Topic/broker permission bits (`PermName`). */
export const Perm = {
  PRIORITY: 8,
  READ: 4,
  WRITE: 2,
  INHERIT: 1,
} as const;

/** PULL_MESSAGE sysFlag bits (`PullSysFlag`). */
export const PullSysFlag = {
  COMMIT_OFFSET: 1,
  SUSPEND: 2,
  SUBSCRIPTION: 4,
  CLASS_FILTER: 8,
  LITE_PULL: 16,
} as const;

/** SendMessageRequestHeader field -> its one-letter name in SEND_MESSAGE_V2 and SEND_BATCH_MESSAGE. */
export const SEND_HEADER_V2_NAMES = {
  producerGroup: 'a',
  topic: 'b',
  defaultTopic: 'c',
  defaultTopicQueueNums: 'd',
  queueId: 'e',
  sysFlag: 'f',
  bornTimestamp: 'g',
  flag: 'h',
  properties: 'i',
  reconsumeTimes: 'j',
  unitMode: 'k',
  maxReconsumeTimes: 'l',
  batch: 'm',
  brokerName: 'n',
} as const;
