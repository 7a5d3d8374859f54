// Name-server metrics on a registry of their own (so several name servers, or a broker, can share a process).
// Table sizes are read from the route table at scrape time rather than kept in step with every change.
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { DropReason, RouteStats } from './route-info.js';

export const NamesrvMetricName = {
  LIVE_BROKERS: 'ledgermq_namesrv_live_brokers',
  BROKER_NAMES: 'ledgermq_namesrv_broker_names',
  TOPICS: 'ledgermq_namesrv_topics',
  ROUTE_REQUESTS: 'ledgermq_namesrv_route_requests_total',
  REGISTRATIONS: 'ledgermq_namesrv_registrations_total',
  BROKERS_DROPPED: 'ledgermq_namesrv_brokers_dropped_total',
} as const;

export type RouteLookupResult = 'found' | 'not_found';

export interface NamesrvMetricsOptions {
  /** Process metrics (CPU, memory, event loop lag, GC); default on. */
  defaultMetrics?: boolean;
}

export class NamesrvMetrics {
  readonly registry = new Registry();
  private readonly routeRequests: Counter<'result'>;
  private readonly registrations: Counter;
  private readonly brokersDropped: Counter<'reason'>;

  constructor(stats: () => RouteStats, options: NamesrvMetricsOptions = {}) {
    const registers = [this.registry];
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: NamesrvMetricName.LIVE_BROKERS,
      help: 'Broker addresses that registered and have not been dropped, by cluster',
      labelNames: ['cluster'],
      registers,
      collect() {
        this.reset();
        for (const [cluster, count] of stats().liveBrokersByCluster) this.set({ cluster }, count);
      },
    });
    new Gauge({
      name: NamesrvMetricName.BROKER_NAMES,
      help: 'Broker names (groups) with at least one registered address',
      registers,
      collect() {
        this.set(stats().brokerNames);
      },
    });
    new Gauge({
      name: NamesrvMetricName.TOPICS,
      help: 'Topics with queue data from a live master',
      registers,
      collect() {
        this.set(stats().topics);
      },
    });
    this.routeRequests = new Counter({
      name: NamesrvMetricName.ROUTE_REQUESTS,
      help: 'GET_ROUTEINFO_BY_TOPIC requests, by whether a route was found',
      labelNames: ['result'],
      registers,
    });
    this.registrations = new Counter({
      name: NamesrvMetricName.REGISTRATIONS,
      help: 'REGISTER_BROKER requests accepted',
      registers,
    });
    this.brokersDropped = new Counter({
      name: NamesrvMetricName.BROKERS_DROPPED,
      help: 'Broker addresses dropped from the route table, by reason',
      labelNames: ['reason'],
      registers,
    });
    // Zero series from the start, so rates work before the first event.
    for (const result of ['found', 'not_found'] as const) this.routeRequests.inc({ result }, 0);
    for (const reason of ['connection_closed', 'expired', 'unregistered'] as const) this.brokersDropped.inc({ reason }, 0);
  }

  routeRequested(result: RouteLookupResult): void {
    this.routeRequests.inc({ result });
  }

  brokerRegistered(): void {
    this.registrations.inc();
  }

  brokerDropped(reason: DropReason): void {
    this.brokersDropped.inc({ reason });
  }
}
