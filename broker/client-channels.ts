// Producers and consumers known to this broker, from their heartbeats, with the connection each arrived on:
// consumer group membership (GET_CONSUMER_LIST_BY_GROUP, rebalance notifications), subscriptions (pull
// filtering), and producer connections (transaction back-checks).
import type { Connection } from '../remoting/index.js';
import { RequestCode, createRequest } from '../remoting/index.js';
import { GROUP_MEMBERS_MAX } from './limits.js';

export interface SubscriptionData {
  topic: string;
  subString: string;
  tagsSet: string[];
  codeSet: number[];
  subVersion: number;
  expressionType: string;
}

export interface ClientChannel {
  connection: Connection;
  clientId: string;
  lastHeartbeat: number;
}

export interface ConsumerGroup {
  group: string;
  consumeType: string;
  messageModel: string;
  consumeFromWhere: string;
  channels: Map<number, ClientChannel>;
  subscriptions: Map<string, SubscriptionData>;
}

export class ConsumerRegistry {
  private readonly groups = new Map<string, ConsumerGroup>();

  constructor(private readonly log: (m: string) => void) {}

  get(group: string): ConsumerGroup | undefined {
    return this.groups.get(group);
  }

  groupNames(): string[] {
    return [...this.groups.keys()];
  }

  /** Records a consumer heartbeat; returns whether the group's membership changed (a rebalance is needed). */
  register(group: string, channel: ClientChannel, info: { consumeType: string; messageModel: string; consumeFromWhere: string }, subscriptions: SubscriptionData[]): boolean {
    let g = this.groups.get(group);
    if (!g) {
      g = { group, ...info, channels: new Map(), subscriptions: new Map() };
      this.groups.set(group, g);
    }
    g.consumeType = info.consumeType;
    g.messageModel = info.messageModel;
    g.consumeFromWhere = info.consumeFromWhere;
    const existing = g.channels.get(channel.connection.id);
    let changed = false;
    if (!existing) {
      if (g.channels.size >= GROUP_MEMBERS_MAX) throw new Error(`consumer group ${group} already has ${GROUP_MEMBERS_MAX} members`);
      g.channels.set(channel.connection.id, channel);
      changed = true;
    } else {
      if (existing.clientId !== channel.clientId) changed = true;
      existing.clientId = channel.clientId;
      existing.lastHeartbeat = channel.lastHeartbeat;
    }
    for (const sub of subscriptions) {
      const old = g.subscriptions.get(sub.topic);
      if (!old || old.subVersion < sub.subVersion) g.subscriptions.set(sub.topic, sub);
    }
    return changed;
  }

  /** Removes a client from a group; returns whether it was a member. */
  unregister(group: string, connectionId: number): boolean {
    const g = this.groups.get(group);
    if (!g || !g.channels.delete(connectionId)) return false;
    if (g.channels.size === 0) this.groups.delete(group);
    return true;
  }

  /** Removes a closed connection from every group; returns the groups it left. */
  connectionClosed(connectionId: number): string[] {
    const left: string[] = [];
    for (const g of [...this.groups.values()]) if (this.unregister(g.group, connectionId)) left.push(g.group);
    return left;
  }

  /** Drops channels without a heartbeat for `expiredMs`; returns the groups that lost members. */
  expire(now: number, expiredMs: number): string[] {
    const changed = new Set<string>();
    for (const g of [...this.groups.values()]) {
      for (const [id, ch] of g.channels) {
        if (now - ch.lastHeartbeat > expiredMs) {
          this.log(`consumer ${ch.clientId} of group ${g.group} sent no heartbeat for ${expiredMs} ms: dropped`);
          g.channels.delete(id);
          changed.add(g.group);
        }
      }
      if (g.channels.size === 0) this.groups.delete(g.group);
    }
    return [...changed];
  }

  clientIds(group: string): string[] {
    const g = this.groups.get(group);
    if (!g) return [];
    return [...new Set([...g.channels.values()].map((c) => c.clientId))].sort();
  }

  /** Tells every member of `group` to rebalance now (oneway NOTIFY_CONSUMER_IDS_CHANGED). */
  notifyIdsChanged(group: string): void {
    const g = this.groups.get(group);
    if (!g) return;
    for (const ch of g.channels.values()) {
      if (!ch.connection.isOpen) continue;
      try {
        ch.connection.invokeOneway(createRequest(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, { consumerGroup: group }));
      } catch (err) {
        this.log(`cannot notify ${ch.clientId} of group ${group}: ${(err as Error).message}`);
      }
    }
  }

  get memberCount(): number {
    let n = 0;
    for (const g of this.groups.values()) n += g.channels.size;
    return n;
  }
}

export class ProducerRegistry {
  private readonly groups = new Map<string, Map<number, ClientChannel>>();
  private rotation = 0;

  register(group: string, channel: ClientChannel): void {
    let g = this.groups.get(group);
    if (!g) {
      g = new Map();
      this.groups.set(group, g);
    }
    const existing = g.get(channel.connection.id);
    if (existing) {
      existing.lastHeartbeat = channel.lastHeartbeat;
      existing.clientId = channel.clientId;
    } else {
      if (g.size >= GROUP_MEMBERS_MAX) throw new Error(`producer group ${group} already has ${GROUP_MEMBERS_MAX} members`);
      g.set(channel.connection.id, channel);
    }
  }

  unregister(group: string, connectionId: number): void {
    const g = this.groups.get(group);
    if (!g) return;
    g.delete(connectionId);
    if (g.size === 0) this.groups.delete(group);
  }

  connectionClosed(connectionId: number): void {
    for (const group of [...this.groups.keys()]) this.unregister(group, connectionId);
  }

  expire(now: number, expiredMs: number): void {
    for (const [group, g] of [...this.groups]) {
      for (const [id, ch] of g) if (now - ch.lastHeartbeat > expiredMs) g.delete(id);
      if (g.size === 0) this.groups.delete(group);
    }
  }

  /** Live connections of a producer group, rotated so successive callers get different ones first. */
  channels(group: string): ClientChannel[] {
    const g = this.groups.get(group);
    if (!g) return [];
    const list = [...g.values()].filter((c) => c.connection.isOpen);
    if (list.length === 0) return list;
    const start = this.rotation++ % list.length;
    return [...list.slice(start), ...list.slice(0, start)];
  }

  groupNames(): string[] {
    return [...this.groups.keys()];
  }
}
