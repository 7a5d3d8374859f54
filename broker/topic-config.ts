// Topic configuration (RocketMQ's TopicConfig) and the broker's table of topics. The table is replicated state:
// it changes only when a committed STATE entry is applied, so every node of the group holds the same table.

import { Perm } from '../common/protocol.js';

export { Perm };

export interface TopicConfig {
  topicName: string;
  readQueueNums: number;
  writeQueueNums: number;
  perm: number;
  topicFilterType: 'SINGLE_TAG' | 'MULTI_TAG';
  topicSysFlag: number;
  order: boolean;
  attributes: Record<string, string>;
}

export function topicConfig(topicName: string, queues: number, perm: number = Perm.READ | Perm.WRITE): TopicConfig {
  return { topicName, readQueueNums: queues, writeQueueNums: queues, perm, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false, attributes: {} };
}

export const isWritable = (perm: number): boolean => (perm & Perm.WRITE) !== 0;
export const isReadable = (perm: number): boolean => (perm & Perm.READ) !== 0;

export interface DataVersion {
  timestamp: number;
  counter: number;
  stateVersion: number;
}

export class TopicTable {
  private readonly topics = new Map<string, TopicConfig>();
  /** Bumped on every change; name servers skip unchanged tables. */
  readonly dataVersion: DataVersion = { timestamp: 0, counter: 0, stateVersion: 0 };

  get(topic: string): TopicConfig | undefined {
    return this.topics.get(topic);
  }

  has(topic: string): boolean {
    return this.topics.has(topic);
  }

  get size(): number {
    return this.topics.size;
  }

  all(): TopicConfig[] {
    return [...this.topics.values()];
  }

  /** Applies a committed upsert. */
  put(config: TopicConfig, now: number): void {
    this.topics.set(config.topicName, { ...config, attributes: { ...config.attributes } });
    this.bump(now);
  }

  /** Applies a committed delete. */
  delete(topic: string, now: number): void {
    if (this.topics.delete(topic)) this.bump(now);
  }

  private bump(now: number): void {
    this.dataVersion.timestamp = now;
    this.dataVersion.counter++;
  }

  /** The JSON form name servers and GET_ALL_TOPIC_CONFIG expect (TopicConfigSerializeWrapper). */
  serializeWrapper(extra: TopicConfig[] = []): { topicConfigTable: Record<string, TopicConfig>; dataVersion: DataVersion } {
    const table: Record<string, TopicConfig> = {};
    for (const c of this.topics.values()) table[c.topicName] = c;
    for (const c of extra) table[c.topicName] ??= c;
    return { topicConfigTable: table, dataVersion: { ...this.dataVersion } };
  }

  snapshot(): TopicConfig[] {
    return this.all();
  }

  restore(configs: TopicConfig[]): void {
    this.topics.clear();
    for (const c of configs) this.topics.set(c.topicName, c);
    this.dataVersion.counter++;
  }
}
