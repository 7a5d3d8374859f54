// The name-server process: a RemotingServer with the route processors, broker liveness (connection close
// and expiry scan), and an optional metrics endpoint.
import { performance } from 'node:perf_hooks';
import { startMetricsServer, type MetricsServerHandle } from '../common/metrics-server.js';
import { RemotingServer } from '../remoting/index.js';
import { KvConfig } from './kv-config.js';
import {
  BROKER_EXPIRED_MS_DEFAULT,
  BROKER_EXPIRED_MS_MAX,
  BROKER_EXPIRED_MS_MIN,
  SCAN_INTERVAL_MS_DEFAULT,
  SCAN_INTERVAL_MS_MIN,
} from './limits.js';
import { consoleNamesrvLogger, type NamesrvLogger } from './logger.js';
import { NamesrvMetrics } from './metrics.js';
import { registerNamesrvProcessors, type NamesrvState } from './processors/index.js';
import { MASTER_ID, RouteInfo, type RouteEvent } from './route-info.js';

export interface NameServerOptions {
  /** Interface for the remoting port; default 127.0.0.1 (pass 0.0.0.0 to serve other machines). */
  host?: string;
  /** Remoting port; 0 (default) picks a free one. RocketMQ's conventional port is 9876. */
  port?: number;
  /** Interface for the metrics endpoint; default the same as `host`. */
  metricsHost?: string;
  /** Metrics HTTP port: 0 picks a free one, null or absent serves no metrics endpoint. */
  metricsPort?: number | null;
  /** Default expiry of a broker that stops registering (a broker's heartbeatTimeoutMillis overrides it). */
  brokerExpiredMs?: number;
  /** How often expiry is checked. */
  scanIntervalMs?: number;
  logger?: NamesrvLogger;
  /** Monotonic milliseconds for broker liveness; default performance.now. */
  clock?: () => number;
  /** Process metrics (CPU, memory, GC) in the registry; default true. */
  defaultMetrics?: boolean;
}

export interface NameServerHandle {
  /** The bound remoting port. */
  readonly port: number;
  /** `host:port` brokers and clients connect to. */
  readonly address: string;
  /** The bound metrics port, null without an endpoint. */
  readonly metricsPort: number | null;
  /** The live route table (for tests and embedding). */
  readonly routeInfo: RouteInfo;
  readonly kvConfig: KvConfig;
  readonly metrics: NamesrvMetrics;
  /** Stops serving; idempotent. Brokers are not reported as dropped on the way down. */
  close(): Promise<void>;
}

export async function startNameServer(options: NameServerOptions = {}): Promise<NameServerHandle> {
  const host = options.host ?? '127.0.0.1';
  const logger = options.logger ?? consoleNamesrvLogger;
  const brokerExpiredMs = checkedRange('brokerExpiredMs', options.brokerExpiredMs ?? BROKER_EXPIRED_MS_DEFAULT, BROKER_EXPIRED_MS_MIN, BROKER_EXPIRED_MS_MAX);
  const scanIntervalMs = checkedRange('scanIntervalMs', options.scanIntervalMs ?? SCAN_INTERVAL_MS_DEFAULT, SCAN_INTERVAL_MS_MIN, BROKER_EXPIRED_MS_MAX);

  const routeInfo = new RouteInfo({ clock: options.clock ?? (() => performance.now()), brokerExpiredMs });
  const kvConfig = new KvConfig();
  const metrics = new NamesrvMetrics(() => routeInfo.stats(), { defaultMetrics: options.defaultMetrics ?? true });
  let closing = false;
  const report = (events: readonly RouteEvent[]): void => {
    for (const event of events) {
      if (event.kind === 'dropped') metrics.brokerDropped(event.reason);
      logger.info(describeEvent(event));
    }
  };
  const state: NamesrvState = { routes: routeInfo, kv: kvConfig, metrics, report };

  const server = new RemotingServer({ host, port: options.port ?? 0, logger });
  registerNamesrvProcessors(server, state);
  server.on('disconnect', (connection) => {
    if (!closing) report(routeInfo.dropConnection(connection.id));
  });
  const port = await server.listen();

  let metricsServer: MetricsServerHandle | null = null;
  const metricsPort = options.metricsPort ?? null;
  if (metricsPort !== null) {
    try {
      metricsServer = await startMetricsServer(metrics.registry, { host: options.metricsHost ?? host, port: metricsPort });
    } catch (error) {
      closing = true;
      await server.close();
      throw error;
    }
  }

  const scanTimer = setInterval(() => {
    try {
      report(routeInfo.expireBrokers());
    } catch (error) {
      logger.warn(`namesrv: broker expiry scan failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }, scanIntervalMs);
  // The listening socket keeps the process alive; the scan alone must not.
  scanTimer.unref();

  let closed: Promise<void> | null = null;
  logger.info(`namesrv: serving on ${server.address}${metricsServer === null ? '' : `, metrics on port ${metricsServer.port}`}`);
  return {
    port,
    address: server.address,
    metricsPort: metricsServer?.port ?? null,
    routeInfo,
    kvConfig,
    metrics,
    close: () => {
      closed ??= (async () => {
        closing = true;
        clearInterval(scanTimer);
        await Promise.all([server.close(), metricsServer?.close()]);
      })();
      return closed;
    },
  };
}

function checkedRange(name: string, value: number, min: number, max: number): number {
  if (!Number.isFinite(value) || value < min || value > max) throw new RangeError(`${name} must be in [${min}, ${max}] ms, got ${value}`);
  return value;
}

function roleOf(brokerId: number): string {
  return brokerId === MASTER_ID ? 'master' : 'follower';
}

/** One log line per route event. */
export function describeEvent(event: RouteEvent): string {
  const who = `${event.brokerName} id ${event.brokerId} at ${event.address} (cluster ${event.cluster})`;
  const withdrawn = event.topicsWithdrawn > 0 ? `; ${event.topicsWithdrawn} topics of ${event.brokerName} leave routes until a master registers` : '';
  if (event.kind === 'dropped') return `namesrv: broker dropped (${event.reason}): ${who}${withdrawn}`;
  const replaced = event.replacedAddress === null ? '' : `, replacing ${event.replacedAddress}`;
  if (event.kind === 'registered') return `namesrv: broker registered as ${roleOf(event.brokerId)}: ${who}${replaced}${withdrawn}`;
  const moved = event.previousBrokerName !== event.brokerName ? `, moved from ${event.previousBrokerName}` : '';
  return `namesrv: broker changed role to ${roleOf(event.brokerId)} (id ${event.previousId} -> ${event.brokerId}): ${who}${moved}${replaced}${withdrawn}`;
}
