// RemotingClient: one lazily opened connection per `host:port`, reopened on the next use after it
// closed, with exponential backoff between consecutive failures so a dead peer is never hammered.
import assert from 'node:assert';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseAddress } from './address.js';
import { requestCodeLabel, SerializeType } from './codes.js';
import type { RemotingCommand } from './command.js';
import { Connection } from './connection.js';
import { ConnectError, ConnectionClosedError, errorMessage, RemotingError, RequestTimeoutError } from './errors.js';
import {
  CLIENT_ADDRESSES_MAX,
  CONNECT_TIMEOUT_MS_DEFAULT,
  connectionLimits,
  RECONNECT_BACKOFF_BASE_MS,
  RECONNECT_BACKOFF_MAX_MS,
  REQUEST_TIMEOUT_MS_DEFAULT,
  type ConnectionLimits,
} from './limits.js';
import { consoleLogger, type Logger } from './logger.js';
import { ProcessorTable, type Processor } from './processors.js';

export interface RemotingClientOptions {
  /**
   * Header encoding of our requests. Binary by default: cheaper than JSON, and every peer we target
   * (ledgermq, Java 4.x/5.x brokers and name servers) decodes both.
   */
  serializeType?: SerializeType;
  connectTimeoutMs?: number;
  limits?: Partial<ConnectionLimits>;
  logger?: Logger;
  /** Source of jitter for reconnect delays, in [0, 1). */
  random?: () => number;
  reconnectBackoffBaseMs?: number;
  reconnectBackoffMaxMs?: number;
  addressesMax?: number;
}

/** Connection state kept per remote address. */
interface Remote {
  readonly address: string;
  readonly host: string;
  readonly port: number;
  connection: Connection | null;
  connecting: Promise<Connection> | null;
  /** Consecutive failures: connects that failed, or connections that closed before the peer said anything. */
  failures: number;
  /** performance.now() before which no new connect is attempted. */
  notBefore: number;
}

export class RemotingClient {
  private readonly serializeType: SerializeType;
  private readonly connectTimeoutMs: number;
  private readonly limits: ConnectionLimits;
  private readonly logger: Logger;
  private readonly random: () => number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly addressesMax: number;
  private readonly table = new ProcessorTable();
  private readonly remotes = new Map<string, Remote>();
  /** Aborted by close(): cuts short backoff sleeps and connects under way. */
  private readonly closing = new AbortController();

  constructor(options: RemotingClientOptions = {}) {
    this.serializeType = options.serializeType ?? SerializeType.ROCKETMQ;
    this.connectTimeoutMs = options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS_DEFAULT;
    this.limits = connectionLimits(options.limits);
    this.logger = options.logger ?? consoleLogger;
    this.random = options.random ?? Math.random;
    this.backoffBaseMs = options.reconnectBackoffBaseMs ?? RECONNECT_BACKOFF_BASE_MS;
    this.backoffMaxMs = options.reconnectBackoffMaxMs ?? RECONNECT_BACKOFF_MAX_MS;
    assert(this.backoffBaseMs > 0 && this.backoffBaseMs <= this.backoffMaxMs, 'reconnect backoff base must be in (0, max]');
    this.addressesMax = options.addressesMax ?? CLIENT_ADDRESSES_MAX;
  }

  /** Handles requests the server sends us (CHECK_TRANSACTION_STATE, ...); same contract as the server's. */
  registerProcessor(code: number, processor: Processor): void {
    this.table.register(code, processor);
  }

  /** Sends `request` to `address` (connecting first if needed); `timeoutMs` covers connect and response. */
  invoke(address: string, request: RemotingCommand, timeoutMs: number = REQUEST_TIMEOUT_MS_DEFAULT): Promise<RemotingCommand> {
    const open = this.openConnection(address);
    if (open !== null) return open.invoke(request, timeoutMs);
    return this.invokeAfterConnect(address, request, timeoutMs);
  }

  /** Sends `request` with the oneway bit; resolves once written. `timeoutMs` bounds the connect. */
  async invokeOneway(address: string, request: RemotingCommand, timeoutMs: number = REQUEST_TIMEOUT_MS_DEFAULT): Promise<void> {
    const connection = this.openConnection(address) ?? (await this.connect(address, timeoutMs));
    connection.invokeOneway(request);
  }

  /** The open connection to `address`, connecting (after any backoff that fits in `timeoutMs`) if needed. */
  connect(address: string, timeoutMs: number = this.connectTimeoutMs): Promise<Connection> {
    if (this.closed) return Promise.reject(clientClosedError());
    let remote: Remote;
    try {
      remote = this.remoteFor(address);
    } catch (error) {
      return Promise.reject(error);
    }
    if (remote.connection !== null && remote.connection.isOpen) return Promise.resolve(remote.connection);
    if (remote.connecting !== null) return remote.connecting;
    const waitMs = Math.max(0, remote.notBefore - performance.now());
    if (waitMs >= timeoutMs) {
      return Promise.reject(new ConnectError(`${address}: reconnect backoff has ${Math.ceil(waitMs)} ms left, more than the ${timeoutMs} ms allowed`));
    }
    remote.connecting = this.establish(remote, waitMs, Math.min(this.connectTimeoutMs, timeoutMs - waitMs));
    return remote.connecting;
  }

  /**
   * How long a request to `address` would wait before a connection attempt may start (the reconnect backoff after
   * failed attempts); 0 when connected, connecting, or free to connect now.
   */
  reconnectWaitMs(address: string): number {
    const remote = this.remotes.get(address);
    if (remote === undefined || remote.connecting !== null || (remote.connection !== null && remote.connection.isOpen)) return 0;
    return Math.max(0, remote.notBefore - performance.now());
  }

  /** Closes every connection; later calls are rejected. */
  async close(): Promise<void> {
    this.closing.abort();
    const pending: Promise<unknown>[] = [];
    for (const remote of this.remotes.values()) {
      if (remote.connection !== null) pending.push(remote.connection.close());
      if (remote.connecting !== null) pending.push(remote.connecting.then((c) => c.close(), () => undefined));
    }
    await Promise.all(pending);
  }

  private get closed(): boolean {
    return this.closing.signal.aborted;
  }

  private openConnection(address: string): Connection | null {
    const connection = this.remotes.get(address)?.connection;
    return connection !== undefined && connection !== null && connection.isOpen ? connection : null;
  }

  private async invokeAfterConnect(address: string, request: RemotingCommand, timeoutMs: number): Promise<RemotingCommand> {
    const deadline = performance.now() + timeoutMs;
    const connection = await this.connect(address, timeoutMs);
    const remainingMs = deadline - performance.now();
    if (remainingMs < 1) {
      throw new RequestTimeoutError(`${requestCodeLabel(request.code)} to ${address} timed out after ${timeoutMs} ms while connecting`, timeoutMs);
    }
    return connection.invoke(request, remainingMs);
  }

  private remoteFor(address: string): Remote {
    const known = this.remotes.get(address);
    if (known !== undefined) return known;
    const { host, port } = parseAddress(address);
    if (this.remotes.size >= this.addressesMax) this.evictIdleRemote();
    const remote: Remote = { address, host, port, connection: null, connecting: null, failures: 0, notBefore: 0 };
    this.remotes.set(address, remote);
    return remote;
  }

  /** Forgets the oldest address with neither a connection nor a connect under way. */
  private evictIdleRemote(): void {
    for (const [address, remote] of this.remotes) {
      if (remote.connection === null && remote.connecting === null) {
        this.remotes.delete(address);
        return;
      }
    }
    throw new RemotingError(`remoting client already tracks ${this.addressesMax} addresses`, false);
  }

  private async establish(remote: Remote, waitMs: number, connectTimeoutMs: number): Promise<Connection> {
    try {
      // A waiting caller keeps the process alive (the timer is ref'd); close() aborts the wait.
      if (waitMs > 0) await sleep(waitMs, undefined, { signal: this.closing.signal });
      const connection = await this.openSocket(remote, connectTimeoutMs);
      remote.connection = connection;
      return connection;
    } catch (error) {
      if (this.closed) throw clientClosedError();
      this.recordFailure(remote, remote.failures + 1);
      throw error;
    } finally {
      remote.connecting = null;
    }
  }

  /** Resolves with a Connection built synchronously on 'connect', so no socket event goes unheard. */
  private openSocket(remote: Remote, timeoutMs: number): Promise<Connection> {
    return new Promise<Connection>((resolve, reject) => {
      if (this.closed) {
        reject(clientClosedError());
        return;
      }
      const socket = net.connect({ host: remote.host, port: remote.port });
      const fail = (error: Error): void => {
        cleanup();
        socket.destroy();
        reject(error);
      };
      const onError = (error: Error): void => fail(new ConnectError(`connect to ${remote.address} failed: ${error.message}`, { cause: error }));
      const onTimeout = (): void => fail(new ConnectError(`connect to ${remote.address} timed out after ${Math.round(timeoutMs)} ms`));
      const onAbort = (): void => fail(clientClosedError());
      const onConnect = (): void => {
        cleanup();
        resolve(this.wrap(socket, remote));
      };
      const timer = setTimeout(onTimeout, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        socket.off('error', onError);
        socket.off('connect', onConnect);
        this.closing.signal.removeEventListener('abort', onAbort);
      };
      socket.once('error', onError);
      socket.once('connect', onConnect);
      this.closing.signal.addEventListener('abort', onAbort);
    });
  }

  private wrap(socket: net.Socket, remote: Remote): Connection {
    return new Connection(socket, {
      handler: this.table.dispatch,
      limits: this.limits,
      logger: this.logger,
      requestSerializeType: this.serializeType,
      remoteAddress: remote.address,
      onClose: this.onConnectionClose,
    });
  }

  private readonly onConnectionClose = (connection: Connection, cause: Error | null): void => {
    const remote = this.remotes.get(connection.remoteAddress);
    if (remote === undefined || remote.connection !== connection) return;
    remote.connection = null;
    // A peer that answered something was healthy: start the backoff afresh rather than escalating it.
    this.recordFailure(remote, connection.framesReceived > 0 ? 1 : remote.failures + 1);
    if (cause !== null) this.logger.debug?.(`remoting: connection to ${remote.address} closed: ${errorMessage(cause)}`);
  };

  private recordFailure(remote: Remote, failures: number): void {
    remote.failures = failures;
    const exponential = this.backoffBaseMs * 2 ** Math.min(failures - 1, 30);
    const capped = Math.min(exponential, this.backoffMaxMs);
    // Equal jitter: at least half the delay, so clients restarted together do not reconnect in lockstep.
    remote.notBefore = performance.now() + capped * (0.5 + 0.5 * this.random());
  }
}

function clientClosedError(): ConnectionClosedError {
  return new ConnectionClosedError('remoting client is closed');
}
