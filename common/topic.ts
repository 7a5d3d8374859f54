// Topic and group naming rules (RocketMQ's TopicValidator) and system topic names.
import { TOPIC_NAME_LENGTH_MAX } from './limits.js';

const VALID_TOPIC = /^[%|a-zA-Z0-9_-]+$/;

export const SystemTopic = {
  /** Template topic producers fall back to when a topic has no route (auto-create). */
  DEFAULT: 'TBW102',
  TRANS_HALF: 'RMQ_SYS_TRANS_HALF_TOPIC',
  TRANS_OP_HALF: 'RMQ_SYS_TRANS_OP_HALF_TOPIC',
  TRANS_CHECK_MAX_TIME: 'TRANS_CHECK_MAX_TIME_TOPIC',
  SCHEDULE: 'SCHEDULE_TOPIC_XXXX',
  /** ledgermq: op messages recording delayed-delivery progress, written in the same entry as the deliveries. */
  SCHEDULE_PROGRESS: 'RMQ_SYS_SCHEDULE_PROGRESS',
} as const;

export const RETRY_GROUP_TOPIC_PREFIX = '%RETRY%';
export const DLQ_GROUP_TOPIC_PREFIX = '%DLQ%';

export function retryTopic(group: string): string {
  return RETRY_GROUP_TOPIC_PREFIX + group;
}

export function dlqTopic(group: string): string {
  return DLQ_GROUP_TOPIC_PREFIX + group;
}

/** Returns why `topic` is not a valid topic name, or null when it is. */
export function topicNameProblem(topic: unknown): string | null {
  if (typeof topic !== 'string' || topic.length === 0) return 'the topic name is empty';
  if (Buffer.byteLength(topic) > TOPIC_NAME_LENGTH_MAX) return `the topic name is longer than ${TOPIC_NAME_LENGTH_MAX} characters`;
  if (!VALID_TOPIC.test(topic)) return `the topic name "${topic}" contains characters outside ^[%|a-zA-Z0-9_-]+$`;
  return null;
}

/** Topics that producers may not send to directly. */
export function isSystemTopic(topic: string): boolean {
  return topic === SystemTopic.TRANS_HALF || topic === SystemTopic.TRANS_OP_HALF || topic === SystemTopic.SCHEDULE || topic === SystemTopic.SCHEDULE_PROGRESS || topic === SystemTopic.TRANS_CHECK_MAX_TIME;
}
