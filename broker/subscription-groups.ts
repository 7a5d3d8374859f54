// Subscription group configuration (RocketMQ's SubscriptionGroupConfig): replicated state, created when a group
// first heartbeats (if auto-create is on) or by an operator.
import { MAX_RECONSUME_TIMES_DEFAULT } from './limits.js';

export interface SubscriptionGroupConfig {
  groupName: string;
  consumeEnable: boolean;
  consumeBroadcastEnable: boolean;
  retryQueueNums: number;
  retryMaxTimes: number;
  whichBrokerWhenConsumeSlowly: number;
  notifyConsumerIdsChangedEnable: boolean;
}

export function subscriptionGroupConfig(groupName: string): SubscriptionGroupConfig {
  return {
    groupName,
    consumeEnable: true,
    consumeBroadcastEnable: true,
    retryQueueNums: 1,
    retryMaxTimes: MAX_RECONSUME_TIMES_DEFAULT,
    whichBrokerWhenConsumeSlowly: 1,
    notifyConsumerIdsChangedEnable: true,
  };
}

export class SubscriptionGroupTable {
  private readonly groups = new Map<string, SubscriptionGroupConfig>();

  get(group: string): SubscriptionGroupConfig | undefined {
    return this.groups.get(group);
  }

  put(config: SubscriptionGroupConfig): void {
    this.groups.set(config.groupName, { ...config });
  }

  delete(group: string): void {
    this.groups.delete(group);
  }

  all(): SubscriptionGroupConfig[] {
    return [...this.groups.values()];
  }

  snapshot(): SubscriptionGroupConfig[] {
    return this.all();
  }

  restore(configs: SubscriptionGroupConfig[]): void {
    this.groups.clear();
    for (const c of configs) this.groups.set(c.groupName, c);
  }
}
