// RemotingServer: accepts TCP connections and dispatches their requests to one processor per request code.
import assert from 'node:assert';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { formatAddress } from './address.js';
import { Connection } from './connection.js';
import { errorMessage } from './errors.js';
import { connectionLimits, SERVER_CONNECTIONS_MAX, type ConnectionLimits } from './limits.js';
import { consoleLogger, type Logger } from './logger.js';
import { ProcessorTable, type Processor } from './processors.js';

export interface RemotingServerOptions {
  /** Interface to bind; default all IPv4 interfaces. */
  host?: string;
  /** Port to bind; 0 picks a free one (read it back from `port`). */
  port?: number;
  limits?: Partial<ConnectionLimits>;
  logger?: Logger;
  connectionsMax?: number;
}

export interface RemotingServerEvents {
  connect: [connection: Connection];
  /** The broker drops a connection's producers and consumers here. `cause` is null for an orderly close. */
  disconnect: [connection: Connection, cause: Error | null];
}

type ServerState = 'new' | 'listening' | 'closed';

export class RemotingServer extends EventEmitter<RemotingServerEvents> {
  private readonly host: string;
  private readonly requestedPort: number;
  private readonly limits: ConnectionLimits;
  private readonly logger: Logger;
  private readonly table = new ProcessorTable();
  private readonly listener: net.Server;
  private readonly connections = new Map<number, Connection>();
  private state: ServerState = 'new';
  private boundPort = 0;
  private closing: Promise<void> | null = null;

  constructor(options: RemotingServerOptions = {}) {
    super();
    this.host = options.host ?? '0.0.0.0';
    this.requestedPort = options.port ?? 0;
    this.limits = connectionLimits(options.limits);
    this.logger = options.logger ?? consoleLogger;
    this.listener = net.createServer({ allowHalfOpen: false }, this.onSocket);
    this.listener.maxConnections = options.connectionsMax ?? SERVER_CONNECTIONS_MAX;
  }

  /** Exactly one processor per request code; registering a code twice fails an assertion. */
  registerProcessor(code: number, processor: Processor): void {
    this.table.register(code, processor);
  }

  /** Binds and starts accepting; resolves with the bound port. */
  async listen(): Promise<number> {
    assert.equal(this.state, 'new', 'listen() may be called once, before close()');
    await new Promise<void>((resolve, reject) => {
      this.listener.once('error', reject);
      this.listener.listen(this.requestedPort, this.host, () => {
        this.listener.off('error', reject);
        resolve();
      });
    });
    this.listener.on('error', this.onListenerError);
    this.boundPort = (this.listener.address() as net.AddressInfo).port;
    this.state = 'listening';
    return this.boundPort;
  }

  /** The bound port (0 before listen()). */
  get port(): number {
    return this.boundPort;
  }

  /** `host:port` as bound. */
  get address(): string {
    return formatAddress(this.host, this.boundPort);
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Stops accepting, closes every connection (destroying laggards after the grace period), then resolves. */
  close(): Promise<void> {
    this.closing ??= this.closeAll();
    return this.closing;
  }

  private async closeAll(): Promise<void> {
    const wasListening = this.state === 'listening';
    this.state = 'closed';
    const listenerClosed = wasListening ? new Promise<void>((resolve) => this.listener.close(() => resolve())) : Promise.resolve();
    await Promise.all(Array.from(this.connections.values(), (connection) => connection.close()));
    await listenerClosed;
  }

  private readonly onSocket = (socket: net.Socket): void => {
    if (this.state !== 'listening') {
      socket.destroy();
      return;
    }
    const connection = new Connection(socket, {
      handler: this.table.dispatch,
      limits: this.limits,
      logger: this.logger,
      requestSerializeType: null,
      remoteAddress: formatAddress(socket.remoteAddress ?? '?', socket.remotePort ?? 0),
      onClose: this.onConnectionClose,
    });
    this.connections.set(connection.id, connection);
    this.emitSafely('connect', connection, null);
  };

  private readonly onConnectionClose = (connection: Connection, cause: Error | null): void => {
    this.connections.delete(connection.id);
    this.emitSafely('disconnect', connection, cause);
  };

  /** Listener exceptions must not escape into socket callbacks. */
  private emitSafely(event: 'connect' | 'disconnect', connection: Connection, cause: Error | null): void {
    try {
      if (event === 'connect') this.emit('connect', connection);
      else this.emit('disconnect', connection, cause);
    } catch (error) {
      this.logger.warn(`remoting: ${event} listener for ${connection.remoteAddress} threw: ${errorMessage(error)}`);
    }
  }

  private readonly onListenerError = (error: Error): void => {
    this.logger.warn(`remoting: server ${this.address} error: ${error.message}`);
  };
}
