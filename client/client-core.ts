// What every producer, consumer and admin shares: one RemotingClient, the name servers, the route
// cache with its poll timer, and the heartbeat timer. Each public client owns one ClientCore.
import { networkInterfaces } from 'node:os';
import { consoleLogger, RemotingClient, type Logger } from '../remoting/index.js';
import { BrokerApi } from './broker-api.js';
import { CoalescingRunner } from './coalescing-runner.js';
import { clientClosed, errorText, illegalArgument } from './errors.js';
import type { ConsumerData, HeartbeatData, ProducerData } from './heartbeat.js';
import {
  DEFAULT_TOPIC,
  DEFAULT_TOPIC_QUEUE_NUMS,
  HEARTBEAT_INTERVAL_MS_DEFAULT,
  POLL_NAME_SERVER_INTERVAL_MS_DEFAULT,
  REQUEST_TIMEOUT_MS_DEFAULT,
  REQUEST_TIMEOUT_MS_MAX,
  TIMER_INTERVAL_MS_MIN,
  UNREGISTER_TIMEOUT_MS,
} from './limits.js';
import { NameServerClient, parseNameServerList } from './name-server.js';
import { RouteCache, type TopicRoute } from './route-cache.js';

export type { Logger };

export interface ClientOptions {
  /** Name server addresses: `'h:p'`, `'h:p;h:p'` or a list. */
  namesrv: string | string[];
  /** Identity announced in heartbeats and used to allocate queues; default `ip@pid#n`. */
  clientId?: string;
  requestTimeoutMs?: number;
  pollNameServerIntervalMs?: number;
  heartbeatIntervalMs?: number;
  logger?: Logger;
}

/** What the owning client contributes to the shared machinery. */
export interface CoreRole {
  /** Label for errors ("producer PG", ...). */
  readonly label: string;
  producers(): ProducerData[];
  consumers(): ConsumerData[];
  /** Groups named in UNREGISTER_CLIENT at shutdown. */
  readonly unregister?: { producerGroup?: string; consumerGroup?: string };
  /** Producers borrow the template topic's route for topics that do not exist yet. */
  readonly useTemplateRoutes: boolean;
  onRouteChanged?(topic: string, route: TopicRoute): void;
}

let instanceCounter = 0;

function localIPv4(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const addr of list ?? []) if (addr.family === 'IPv4' && !addr.internal) return addr.address;
  }
  return '127.0.0.1';
}

/** `ip@pid#n`: unique per client object in this process, stable in format with Java's `ip@instance`. */
export function defaultClientId(): string {
  instanceCounter += 1;
  return `${localIPv4()}@${process.pid}#${instanceCounter}`;
}

export function positiveInteger(value: number | undefined, fallback: number, name: string, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined || value === null) return fallback;
  if (!Number.isSafeInteger(value) || value < min || value > max) throw illegalArgument(`${name} must be an integer in [${min}, ${max}], got ${String(value)}`);
  return value;
}

export function checkGroupName(group: unknown, what: string): string {
  if (typeof group !== 'string' || group === '' || !/^[%|a-zA-Z0-9_-]+$/.test(group) || group.length > 255) {
    throw illegalArgument(`${what} group must be a non-empty name of letters, digits, %, |, _ and -`);
  }
  return group;
}

type CoreState = 'new' | 'running' | 'closed';

export class ClientCore {
  readonly clientId: string;
  readonly logger: Logger;
  readonly requestTimeoutMs: number;
  readonly remoting: RemotingClient;
  readonly nameServers: NameServerClient;
  readonly routes: RouteCache;
  readonly broker: BrokerApi;
  readonly now: () => number = Date.now;
  private readonly pollIntervalMs: number;
  private readonly heartbeatIntervalMs: number;
  private readonly heartbeats: CoalescingRunner;
  private readonly timers: NodeJS.Timeout[] = [];
  private state: CoreState = 'new';

  constructor(options: ClientOptions, private readonly role: CoreRole) {
    if (typeof options !== 'object' || options === null) throw illegalArgument('client options are required');
    const addresses = parseNameServerList(options.namesrv);
    this.clientId = options.clientId ?? defaultClientId();
    if (typeof this.clientId !== 'string' || this.clientId === '') throw illegalArgument('clientId must be a non-empty string');
    this.logger = options.logger ?? consoleLogger;
    this.requestTimeoutMs = positiveInteger(options.requestTimeoutMs, REQUEST_TIMEOUT_MS_DEFAULT, 'requestTimeoutMs', 1, REQUEST_TIMEOUT_MS_MAX);
    this.pollIntervalMs = positiveInteger(options.pollNameServerIntervalMs, POLL_NAME_SERVER_INTERVAL_MS_DEFAULT, 'pollNameServerIntervalMs', TIMER_INTERVAL_MS_MIN);
    this.heartbeatIntervalMs = positiveInteger(options.heartbeatIntervalMs, HEARTBEAT_INTERVAL_MS_DEFAULT, 'heartbeatIntervalMs', TIMER_INTERVAL_MS_MIN);
    this.remoting = new RemotingClient({ logger: this.logger });
    this.nameServers = new NameServerClient(this.remoting, addresses, this.requestTimeoutMs);
    this.broker = new BrokerApi(this.remoting, this.requestTimeoutMs);
    this.routes = new RouteCache({
      nameServers: this.nameServers,
      logger: this.logger,
      now: this.now,
      templateTopic: role.useTemplateRoutes ? DEFAULT_TOPIC : undefined,
      templateQueueNums: DEFAULT_TOPIC_QUEUE_NUMS,
      onRouteChanged: (topic, route) => role.onRouteChanged?.(topic, route),
      onNewMaster: (address) => {
        if (this.state === 'running') void this.heartbeatTo(address);
      },
    });
    this.heartbeats = new CoalescingRunner(
      () => this.heartbeatAllOnce(),
      (error) => this.logger.warn(`client ${this.clientId}: heartbeat failed: ${errorText(error)}`),
    );
  }

  get running(): boolean {
    return this.state === 'running';
  }

  assertRunning(): void {
    if (this.state !== 'running') throw clientClosed(this.role.label);
  }

  /** Starts the route poll and heartbeat timers. */
  start(): void {
    if (this.state !== 'new') throw illegalArgument(`${this.role.label} can be started once`);
    this.state = 'running';
    this.every(this.pollIntervalMs, () => this.routes.refreshAll());
    this.every(this.heartbeatIntervalMs, () => this.heartbeatAll());
  }

  /** Runs `task` every `ms` on an unref'd timer, cleared at close; errors are logged. */
  every(ms: number, task: () => Promise<unknown> | unknown): void {
    const timer = setInterval(() => {
      if (this.state !== 'running') return;
      Promise.resolve()
        .then(task)
        .catch((error) => this.logger.warn(`client ${this.clientId}: periodic task failed: ${errorText(error)}`));
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }

  heartbeatData(): HeartbeatData {
    return { clientID: this.clientId, producerDataSet: this.role.producers(), consumerDataSet: this.role.consumers() };
  }

  /** Heartbeats every known master; concurrent calls coalesce into one more round. */
  heartbeatAll(): Promise<void> {
    return this.heartbeats.run();
  }

  private async heartbeatAllOnce(): Promise<void> {
    if (this.state !== 'running') return;
    const data = this.heartbeatData();
    // An admin client has nothing to announce.
    if (data.producerDataSet.length === 0 && data.consumerDataSet.length === 0) return;
    const addresses = this.routes.masterAddresses();
    await Promise.all(addresses.map((address) => this.heartbeatTo(address)));
  }

  /** One heartbeat; failures are logged, never thrown (the next round retries). */
  async heartbeatTo(address: string): Promise<boolean> {
    const data = this.heartbeatData();
    if (data.producerDataSet.length === 0 && data.consumerDataSet.length === 0) return false;
    try {
      await this.broker.heartbeat(address, data);
      return true;
    } catch (error) {
      if (this.state === 'closed') return false;
      this.logger.warn(`client ${this.clientId}: heartbeat to ${address} failed: ${errorText(error)}`);
      return false;
    }
  }

  /** Stops timers, tells every master we are leaving, and closes every connection. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    const wasRunning = this.state === 'running';
    this.state = 'closed';
    for (const timer of this.timers) clearInterval(timer);
    this.timers.length = 0;
    this.routes.close();
    const groups = this.role.unregister;
    if (wasRunning && groups !== undefined) {
      await Promise.all(
        this.routes.masterAddresses().map((address) =>
          this.broker.unregisterClient(address, this.clientId, groups, UNREGISTER_TIMEOUT_MS).catch((error) =>
            this.logger.debug?.(`client ${this.clientId}: unregister at ${address} failed: ${errorText(error)}`),
          ),
        ),
      );
    }
    await this.remoting.close();
  }
}
