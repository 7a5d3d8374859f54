// Per-topic route cache. Routes are fetched on first use, refreshed every poll interval, and refreshed
// at once (one request per topic at a time, however many callers ask) after an error that suggests the
// route is stale. Knows the master of each broker group, with short-lived overrides from not-leader answers.
import type { Logger } from '../remoting/index.js';
import { ClientError, ClientErrorCode, errorText } from './errors.js';
import { LEADER_HINT_TTL_MS, PROVISIONAL_ROUTE_TTL_MS, ROUTE_CACHE_TOPICS_MAX } from './limits.js';
import type { NameServerClient } from './name-server.js';
import {
  masterAddress,
  readableQueues,
  routeFingerprint,
  routeFromTemplate,
  writableQueues,
  type BrokerData,
  type MessageQueue,
  type TopicRouteData,
} from './route.js';

export interface TopicRoute {
  readonly topic: string;
  readonly data: TopicRouteData;
  readonly writable: readonly MessageQueue[];
  readonly readable: readonly MessageQueue[];
  readonly fetchedAt: number;
  /** Borrowed from the auto-create template topic; replaced as soon as the topic's own route exists. */
  readonly provisional: boolean;
  readonly fingerprint: string;
}

export interface RouteCacheOptions {
  nameServers: NameServerClient;
  logger: Logger;
  now: () => number;
  /** Template topic for routes of topics the name servers do not know yet (producers only). */
  templateTopic?: string;
  templateQueueNums?: number;
  /** A topic's route changed (or appeared). */
  onRouteChanged?: (topic: string, route: TopicRoute) => void;
  /** A master address not seen before. */
  onNewMaster?: (address: string) => void;
  topicsMax?: number;
}

interface LeaderHint {
  address: string;
  until: number;
}

export class RouteCache {
  private readonly routes = new Map<string, TopicRoute>();
  private readonly inflight = new Map<string, Promise<TopicRoute | null>>();
  /** Topics polled even while they have no route (a consumer's retry topic before the broker creates it). */
  private readonly watched = new Set<string>();
  private readonly brokers = new Map<string, BrokerData>();
  private readonly knownMasters = new Set<string>();
  private readonly hints = new Map<string, LeaderHint>();
  private readonly topicsMax: number;
  private closed = false;

  constructor(private readonly options: RouteCacheOptions) {
    this.topicsMax = options.topicsMax ?? ROUTE_CACHE_TOPICS_MAX;
  }

  close(): void {
    this.closed = true;
  }

  cached(topic: string): TopicRoute | undefined {
    return this.routes.get(topic);
  }

  /** Keeps `topic` in the poll even while it has no route. */
  watch(topic: string): void {
    if (this.watched.size >= this.topicsMax) throw new ClientError(`more than ${this.topicsMax} topics watched`, ClientErrorCode.BUSY, false);
    this.watched.add(topic);
  }

  unwatch(topic: string): void {
    this.watched.delete(topic);
  }

  /** The cached route, fetched first if missing or provisional and old. Null when no name server knows the topic. */
  async get(topic: string, useTemplate = false): Promise<TopicRoute | null> {
    const route = this.routes.get(topic);
    if (route !== undefined && !(route.provisional && this.options.now() - route.fetchedAt >= PROVISIONAL_ROUTE_TTL_MS)) return route;
    try {
      return await this.refresh(topic, useTemplate);
    } catch (error) {
      // A name server outage must not stop traffic that an older route can still carry.
      if (route !== undefined) return route;
      throw error;
    }
  }

  /** Fetches `topic`'s route now; concurrent callers share one request. */
  refresh(topic: string, useTemplate = false): Promise<TopicRoute | null> {
    const running = this.inflight.get(topic);
    if (running !== undefined) return running;
    const fetch = this.fetch(topic, useTemplate).finally(() => this.inflight.delete(topic));
    this.inflight.set(topic, fetch);
    return fetch;
  }

  /** Fire-and-forget refresh after an error; failures are only logged. */
  refreshSoon(topic: string, useTemplate = false): void {
    if (this.closed) return;
    this.refresh(topic, useTemplate).catch((error) => this.options.logger.debug?.(`client: route refresh of ${topic} failed: ${errorText(error)}`));
  }

  /** Refreshes every cached or watched topic (the periodic poll), a few at a time. */
  async refreshAll(): Promise<void> {
    const topics = [...new Set([...this.routes.keys(), ...this.watched])];
    const parallel = 8;
    for (let i = 0; i < topics.length && !this.closed; i += parallel) {
      await Promise.all(
        topics.slice(i, i + parallel).map((topic) =>
          this.refresh(topic, this.routes.get(topic)?.provisional ?? false).catch((error) =>
            this.options.logger.debug?.(`client: route poll of ${topic} failed: ${errorText(error)}`),
          ),
        ),
      );
    }
    this.rebuildBrokerTable();
  }

  /** The master address of a broker group: a fresh leader hint when there is one, else the route's id 0. */
  masterOf(brokerName: string): string | undefined {
    const hint = this.hints.get(brokerName);
    if (hint !== undefined) {
      if (hint.until > this.options.now()) return hint.address;
      this.hints.delete(brokerName);
    }
    const broker = this.brokers.get(brokerName);
    return broker === undefined ? undefined : masterAddress(broker);
  }

  /**
   * Records the leader a not-leader answer named. Accepted only when the address is a known member of
   * that group, so a confused or stale node cannot redirect traffic outside it.
   */
  noteLeaderHint(brokerName: string, address: string): boolean {
    const broker = this.brokers.get(brokerName);
    if (broker === undefined || !Object.values(broker.brokerAddrs).includes(address)) return false;
    this.hints.set(brokerName, { address, until: this.options.now() + LEADER_HINT_TTL_MS });
    return true;
  }

  /** Every master address of every cached route (heartbeat and unregister targets). */
  masterAddresses(): string[] {
    const out = new Set<string>();
    for (const name of this.brokers.keys()) {
      const address = this.masterOf(name);
      if (address !== undefined) out.add(address);
    }
    return [...out];
  }

  /** Broker groups that host `topic`, each with its master address (if it has one now). */
  brokersOf(topic: string): Array<{ brokerName: string; master: string | undefined }> {
    const route = this.routes.get(topic);
    if (route === undefined) return [];
    return route.data.brokerDatas.map((b) => ({ brokerName: b.brokerName, master: this.masterOf(b.brokerName) }));
  }

  private async fetch(topic: string, useTemplate: boolean): Promise<TopicRoute | null> {
    const { nameServers, now, templateTopic, templateQueueNums } = this.options;
    let data = await nameServers.topicRoute(topic);
    let provisional = false;
    if (data === null && useTemplate && templateTopic !== undefined && templateTopic !== topic) {
      const template = await nameServers.topicRoute(templateTopic);
      if (template !== null) {
        data = routeFromTemplate(template, templateQueueNums ?? 4);
        provisional = true;
      }
    }
    if (data === null) return this.routes.get(topic) ?? null;
    const previous = this.routes.get(topic);
    if (provisional && previous !== undefined && !previous.provisional) return previous;
    const route: TopicRoute = {
      topic,
      data,
      writable: writableQueues(topic, data),
      readable: readableQueues(topic, data),
      fetchedAt: now(),
      provisional,
      fingerprint: routeFingerprint(data),
    };
    this.store(route);
    if (previous === undefined || previous.fingerprint !== route.fingerprint) {
      try {
        this.options.onRouteChanged?.(topic, route);
      } catch (error) {
        this.options.logger.warn(`client: route change listener for ${topic} threw: ${errorText(error)}`);
      }
    }
    return route;
  }

  private store(route: TopicRoute): void {
    if (!this.routes.has(route.topic) && this.routes.size >= this.topicsMax) this.evictOne();
    this.routes.set(route.topic, route);
    for (const broker of route.data.brokerDatas) {
      this.brokers.set(broker.brokerName, broker);
      const hint = this.hints.get(broker.brokerName);
      const master = masterAddress(broker);
      // The name server caught up with the hinted leader: the hint has done its job.
      if (hint !== undefined && master === hint.address) this.hints.delete(broker.brokerName);
      if (master !== undefined && !this.knownMasters.has(master)) {
        this.knownMasters.add(master);
        this.notifyNewMaster(master);
      }
    }
  }

  private notifyNewMaster(address: string): void {
    try {
      this.options.onNewMaster?.(address);
    } catch (error) {
      this.options.logger.warn(`client: new master listener threw: ${errorText(error)}`);
    }
  }

  /** Drops the oldest route of a topic nobody watches (producers that touched very many topics). */
  private evictOne(): void {
    for (const topic of this.routes.keys()) {
      if (!this.watched.has(topic)) {
        this.routes.delete(topic);
        return;
      }
    }
    throw new ClientError(`more than ${this.topicsMax} topics in use`, ClientErrorCode.BUSY, false);
  }

  /** Forgets broker groups no cached route mentions any more. */
  private rebuildBrokerTable(): void {
    const live = new Set<string>();
    for (const route of this.routes.values()) for (const b of route.data.brokerDatas) live.add(b.brokerName);
    for (const name of this.brokers.keys()) if (!live.has(name)) this.brokers.delete(name);
    this.knownMasters.clear();
    for (const broker of this.brokers.values()) {
      const master = masterAddress(broker);
      if (master !== undefined) this.knownMasters.add(master);
    }
  }
}
