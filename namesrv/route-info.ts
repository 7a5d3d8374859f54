// The route table: soft state rebuilt from broker registrations, with no I/O and an injected clock.
//
//   clusters:  cluster    -> broker names
//   groups:    brokerName -> { cluster, brokerAddrs: brokerId -> "ip:port", whose topic table is applied }
//   topics:    topic      -> brokerName -> queue data (only from the master, brokerId 0)
//   live:      "ip:port"  -> { group, id, connection, last registration time, expiry, data version }
//
// Invariant (checkInvariants): every address in a group's brokerAddrs is live and registered under that
// group; every broker name with queue data has a group with a master (id 0); no empty cluster, group or
// topic.
// An address may be live without a mapping: a former master whose id 0 another node has taken keeps its
// live entry until it re-registers as a follower (or goes away).
import assert from 'node:assert';
import { NamesrvRequestError } from './errors.js';
import {
  ADDRESSES_PER_BROKER_NAME_MAX,
  BROKER_EXPIRED_MS_DEFAULT,
  BROKER_NAMES_MAX,
  BROKERS_MAX,
  CLUSTERS_MAX,
  TOPICS_MAX,
} from './limits.js';
import { sameDataVersion, type DataVersion, type TopicTable } from './register-body.js';

export const MASTER_ID = 0;

export interface QueueData {
  readonly brokerName: string;
  readonly readQueueNums: number;
  readonly writeQueueNums: number;
  readonly perm: number;
  readonly topicSysFlag: number;
}

/** A broker group as routes show it: ids sorted ascending. */
export interface BrokerData {
  readonly cluster: string;
  readonly brokerName: string;
  readonly brokerAddrs: ReadonlyArray<readonly [id: number, address: string]>;
}

export interface TopicRoute {
  readonly brokerDatas: readonly BrokerData[];
  readonly queueDatas: readonly QueueData[];
}

export interface ClusterInfo {
  readonly brokers: readonly BrokerData[];
  readonly clusters: ReadonlyMap<string, readonly string[]>;
}

export interface LiveBroker {
  readonly address: string;
  readonly cluster: string;
  readonly brokerName: string;
  /** The id of its latest registration (another node may have taken that id since). */
  readonly brokerId: number;
  readonly haServerAddr: string;
  /** The connection it registered on: closing it drops the broker. */
  readonly connectionId: number;
  readonly lastUpdateMs: number;
  readonly expiredMs: number;
  readonly dataVersion: DataVersion | null;
}

export interface BrokerRegistration {
  readonly cluster: string;
  readonly brokerName: string;
  readonly brokerAddr: string;
  readonly brokerId: number;
  readonly haServerAddr: string;
  readonly connectionId: number;
  /** The broker's own expiry (`heartbeatTimeoutMillis`), null for the name server's default. */
  readonly heartbeatTimeoutMs: number | null;
  /** Null when the registration carried no body: the topic table is then left as it is. */
  readonly topicTable: TopicTable | null;
}

export interface RegistrationResult {
  /** Address of id 0 of the broker name, if any (may be the registering broker itself). */
  readonly masterAddr: string | null;
  /** HA address the master registered with. */
  readonly haServerAddr: string | null;
  /** Whether the master's topic table was (re)applied; false when the data version was unchanged. */
  readonly topicsUpdated: boolean;
  readonly events: readonly RouteEvent[];
}

export type DropReason = 'connection_closed' | 'expired' | 'unregistered';

export type RouteEvent =
  | {
      readonly kind: 'registered' | 'role_changed';
      readonly address: string;
      readonly cluster: string;
      readonly brokerName: string;
      readonly brokerId: number;
      /** For role_changed: the id and broker name of the previous registration. */
      readonly previousId: number | null;
      readonly previousBrokerName: string | null;
      /** Another address that held this id until now. */
      readonly replacedAddress: string | null;
      /** Topics of the broker name that left routes because its master stepped down. */
      readonly topicsWithdrawn: number;
    }
  | {
      readonly kind: 'dropped';
      readonly reason: DropReason;
      readonly address: string;
      readonly cluster: string;
      readonly brokerName: string;
      readonly brokerId: number;
      readonly topicsWithdrawn: number;
    };

export interface RouteStats {
  readonly liveBrokersByCluster: ReadonlyMap<string, number>;
  readonly brokerNames: number;
  readonly topics: number;
}

export interface RouteInfoOptions {
  /** Monotonic milliseconds. */
  readonly clock: () => number;
  readonly brokerExpiredMs?: number;
}

interface BrokerGroup {
  cluster: string;
  readonly brokerName: string;
  readonly addrs: Map<number, string>;
  /** The master registration whose topic table the queue data reflects; null when none is applied. */
  applied: { readonly address: string; readonly dataVersion: DataVersion } | null;
}

export class RouteInfo {
  private readonly clock: () => number;
  private readonly brokerExpiredMs: number;
  private readonly clusters = new Map<string, Set<string>>();
  private readonly groups = new Map<string, BrokerGroup>();
  private readonly topics = new Map<string, Map<string, QueueData>>();
  private readonly live = new Map<string, LiveBroker>();

  constructor(options: RouteInfoOptions) {
    this.clock = options.clock;
    this.brokerExpiredMs = options.brokerExpiredMs ?? BROKER_EXPIRED_MS_DEFAULT;
    assert(this.brokerExpiredMs > 0, 'brokerExpiredMs must be positive');
  }

  /** Applies a REGISTER_BROKER. Checks every limit before changing anything, so a refusal leaves no trace. */
  registerBroker(registration: BrokerRegistration): RegistrationResult {
    const { brokerAddr: address, brokerName, brokerId, cluster } = registration;
    assert(Number.isSafeInteger(brokerId) && brokerId >= 0, 'brokerId must be validated by the caller');
    const previous = this.live.get(address) ?? null;
    const masterTable = brokerId === MASTER_ID ? registration.topicTable : null;
    this.checkRegistrationLimits(registration, previous, masterTable);

    const events: RouteEvent[] = [];
    let topicsWithdrawn = 0;
    if (previous !== null && previous.brokerName !== brokerName) {
      // The address moved to another broker name: leave the old group as if it had gone away.
      topicsWithdrawn += this.detachAddress(previous.brokerName, address);
    }
    const group = this.groupFor(brokerName, cluster);
    for (const [id, mapped] of group.addrs) {
      // One address, one id per group: a new leader re-registers as 0, the old one as a follower.
      if (mapped === address && id !== brokerId) {
        group.addrs.delete(id);
        if (id === MASTER_ID) topicsWithdrawn += this.withdrawQueueData(group);
      }
    }
    const heldBy = group.addrs.get(brokerId);
    const replacedAddress = heldBy !== undefined && heldBy !== address ? heldBy : null;
    group.addrs.set(brokerId, address);

    const topicsUpdated = masterTable !== null && this.applyTopicTableIfChanged(group, address, masterTable);
    this.live.set(address, {
      address,
      cluster,
      brokerName,
      brokerId,
      haServerAddr: registration.haServerAddr,
      connectionId: registration.connectionId,
      lastUpdateMs: this.clock(),
      expiredMs: registration.heartbeatTimeoutMs ?? this.brokerExpiredMs,
      dataVersion: registration.topicTable?.dataVersion ?? previous?.dataVersion ?? null,
    });
    const changed = previous === null || previous.brokerId !== brokerId || previous.brokerName !== brokerName || replacedAddress !== null;
    if (changed) {
      events.push({
        kind: previous === null ? 'registered' : 'role_changed',
        address,
        cluster,
        brokerName,
        brokerId,
        previousId: previous === null ? null : previous.brokerId,
        previousBrokerName: previous === null ? null : previous.brokerName,
        replacedAddress,
        topicsWithdrawn,
      });
    }
    const masterAddr = group.addrs.get(MASTER_ID) ?? null;
    const haServerAddr = masterAddr === null ? null : (this.live.get(masterAddr)?.haServerAddr ?? null);
    return { masterAddr, haServerAddr, topicsUpdated, events };
  }

  /** UNREGISTER_BROKER: the address leaves its group, whatever id it holds now. Unknown addresses are ignored. */
  unregisterBroker(brokerAddr: string): RouteEvent[] {
    return this.live.has(brokerAddr) ? [this.dropAddress(brokerAddr, 'unregistered')] : [];
  }

  /** A connection closed: drops every broker that registered on it (and has not re-registered elsewhere). */
  dropConnection(connectionId: number): RouteEvent[] {
    const addresses: string[] = [];
    for (const broker of this.live.values()) if (broker.connectionId === connectionId) addresses.push(broker.address);
    return addresses.map((address) => this.dropAddress(address, 'connection_closed'));
  }

  /** Drops brokers whose last registration is older than their expiry. */
  expireBrokers(): RouteEvent[] {
    const now = this.clock();
    const addresses: string[] = [];
    for (const broker of this.live.values()) if (now - broker.lastUpdateMs > broker.expiredMs) addresses.push(broker.address);
    return addresses.map((address) => this.dropAddress(address, 'expired'));
  }

  /** A lightweight heartbeat (5.x BROKER_HEARTBEAT) from a registered broker keeps it alive. */
  touchBroker(brokerAddr: string, brokerName: string): boolean {
    const broker = this.live.get(brokerAddr);
    if (broker === undefined || broker.brokerName !== brokerName) return false;
    this.live.set(brokerAddr, { ...broker, lastUpdateMs: this.clock() });
    return true;
  }

  /** The route of `topic`, or null when no live master serves it. */
  topicRoute(topic: string): TopicRoute | null {
    const byBroker = this.topics.get(topic);
    if (byBroker === undefined) return null;
    const brokerDatas: BrokerData[] = [];
    const queueDatas: QueueData[] = [];
    for (const brokerName of Array.from(byBroker.keys()).sort()) {
      const group = this.groups.get(brokerName);
      if (group === undefined) continue;
      brokerDatas.push(brokerDataOf(group));
      queueDatas.push(byBroker.get(brokerName)!);
    }
    return brokerDatas.length === 0 ? null : { brokerDatas, queueDatas };
  }

  clusterInfo(): ClusterInfo {
    const brokers = Array.from(this.groups.values(), brokerDataOf).sort((a, b) => compare(a.brokerName, b.brokerName));
    const clusters = new Map<string, string[]>();
    for (const name of Array.from(this.clusters.keys()).sort()) clusters.set(name, Array.from(this.clusters.get(name)!).sort());
    return { brokers, clusters };
  }

  topicNames(): string[] {
    return Array.from(this.topics.keys()).sort();
  }

  liveBroker(address: string): LiveBroker | undefined {
    return this.live.get(address);
  }

  stats(): RouteStats {
    const liveBrokersByCluster = new Map<string, number>();
    for (const broker of this.live.values()) liveBrokersByCluster.set(broker.cluster, (liveBrokersByCluster.get(broker.cluster) ?? 0) + 1);
    return { liveBrokersByCluster, brokerNames: this.groups.size, topics: this.topics.size };
  }

  /** Asserts the table's invariants; for tests. */
  checkInvariants(): void {
    for (const [cluster, names] of this.clusters) {
      assert(names.size > 0, `cluster ${cluster} is empty`);
      for (const name of names) assert.equal(this.groups.get(name)?.cluster, cluster, `${name} is listed under ${cluster}`);
    }
    for (const group of this.groups.values()) {
      assert(group.addrs.size > 0, `group ${group.brokerName} has no address`);
      assert(this.clusters.get(group.cluster)?.has(group.brokerName), `${group.brokerName} missing from its cluster`);
      const seen = new Set<string>();
      for (const address of group.addrs.values()) {
        assert(!seen.has(address), `${address} holds two ids in ${group.brokerName}`);
        seen.add(address);
        assert.equal(this.live.get(address)?.brokerName, group.brokerName, `${address} of ${group.brokerName} is not live there`);
      }
      // The applied table may come from a master another node has since replaced, never from no master at all.
      if (group.applied !== null) assert(group.addrs.has(MASTER_ID), `${group.brokerName} has queue data but no master`);
    }
    for (const [topic, byBroker] of this.topics) {
      assert(byBroker.size > 0, `topic ${topic} has no queue data`);
      for (const name of byBroker.keys()) assert(this.groups.get(name)?.applied != null, `${topic} has queue data of ${name} without a master table`);
    }
  }

  private checkRegistrationLimits(registration: BrokerRegistration, previous: LiveBroker | null, masterTable: TopicTable | null): void {
    const { brokerAddr, brokerName, brokerId, cluster } = registration;
    if (previous === null && this.live.size >= BROKERS_MAX) refuse(`the name server already tracks ${BROKERS_MAX} brokers`);
    const group = this.groups.get(brokerName);
    if (group === undefined && this.groups.size >= BROKER_NAMES_MAX) refuse(`the name server already tracks ${BROKER_NAMES_MAX} broker names`);
    if (!this.clusters.has(cluster) && this.clusters.size >= CLUSTERS_MAX) refuse(`the name server already tracks ${CLUSTERS_MAX} clusters`);
    if (group !== undefined && !group.addrs.has(brokerId)) {
      let others = 0;
      for (const address of group.addrs.values()) if (address !== brokerAddr) others += 1;
      if (others >= ADDRESSES_PER_BROKER_NAME_MAX) refuse(`${brokerName} already has ${ADDRESSES_PER_BROKER_NAME_MAX} broker ids`);
    }
    if (masterTable !== null) {
      let added = 0;
      for (const topic of masterTable.topics.keys()) if (!this.topics.has(topic)) added += 1;
      if (this.topics.size + added > TOPICS_MAX) refuse(`registering ${added} new topics would exceed the ${TOPICS_MAX} topics the name server holds`);
    }
  }

  private groupFor(brokerName: string, cluster: string): BrokerGroup {
    let group = this.groups.get(brokerName);
    if (group === undefined) {
      group = { cluster, brokerName, addrs: new Map(), applied: null };
      this.groups.set(brokerName, group);
    } else if (group.cluster !== cluster) {
      // A broker name belongs to one cluster; the latest registration says which.
      this.removeFromCluster(group);
      group.cluster = cluster;
    }
    let names = this.clusters.get(cluster);
    if (names === undefined) {
      names = new Set();
      this.clusters.set(cluster, names);
    }
    names.add(brokerName);
    return group;
  }

  /** Applies the master's topic table unless the same master already applied this data version. */
  private applyTopicTableIfChanged(group: BrokerGroup, address: string, table: TopicTable): boolean {
    const applied = group.applied;
    if (applied !== null && applied.address === address && sameDataVersion(applied.dataVersion, table.dataVersion)) return false;
    for (const [topic, config] of table.topics) {
      let byBroker = this.topics.get(topic);
      if (byBroker === undefined) {
        byBroker = new Map();
        this.topics.set(topic, byBroker);
      }
      byBroker.set(group.brokerName, { brokerName: group.brokerName, ...config });
    }
    for (const [topic, byBroker] of this.topics) {
      if (table.topics.has(topic) || !byBroker.delete(group.brokerName)) continue;
      if (byBroker.size === 0) this.topics.delete(topic);
    }
    group.applied = { address, dataVersion: table.dataVersion };
    return true;
  }

  /** Removes the broker name's queue data (its master is gone); returns how many topics lost it. */
  private withdrawQueueData(group: BrokerGroup): number {
    group.applied = null;
    let withdrawn = 0;
    for (const [topic, byBroker] of this.topics) {
      if (!byBroker.delete(group.brokerName)) continue;
      withdrawn += 1;
      if (byBroker.size === 0) this.topics.delete(topic);
    }
    return withdrawn;
  }

  private dropAddress(address: string, reason: DropReason): RouteEvent {
    const broker = this.live.get(address);
    assert(broker !== undefined, `dropping ${address}, which is not live`);
    this.live.delete(address);
    const topicsWithdrawn = this.detachAddress(broker.brokerName, address);
    return {
      kind: 'dropped',
      reason,
      address,
      cluster: broker.cluster,
      brokerName: broker.brokerName,
      brokerId: broker.brokerId,
      topicsWithdrawn,
    };
  }

  /**
   * Removes every id `address` holds in the group. Losing id 0 withdraws the group's queue data (followers
   * stay listed); losing the last address removes the group. Returns how many topics lost queue data.
   */
  private detachAddress(brokerName: string, address: string): number {
    const group = this.groups.get(brokerName);
    if (group === undefined) return 0;
    let withdrawn = 0;
    for (const [id, mapped] of group.addrs) {
      if (mapped !== address) continue;
      group.addrs.delete(id);
      if (id === MASTER_ID) withdrawn += this.withdrawQueueData(group);
    }
    if (group.addrs.size === 0) {
      withdrawn += this.withdrawQueueData(group);
      this.groups.delete(brokerName);
      this.removeFromCluster(group);
    }
    return withdrawn;
  }

  private removeFromCluster(group: BrokerGroup): void {
    const names = this.clusters.get(group.cluster);
    if (names === undefined) return;
    names.delete(group.brokerName);
    if (names.size === 0) this.clusters.delete(group.cluster);
  }
}

function brokerDataOf(group: BrokerGroup): BrokerData {
  const brokerAddrs = Array.from(group.addrs.entries()).sort((a, b) => a[0] - b[0]);
  return { cluster: group.cluster, brokerName: group.brokerName, brokerAddrs };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function refuse(message: string): never {
  throw new NamesrvRequestError(`registration refused: ${message}`);
}
