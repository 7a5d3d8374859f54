// Peer transport: one remoting server on the node's Raft port, and oneway frames to each peer over the
// remoting client (binary headers; append bodies are slices of the mapped log, written without copying).
// Raft tolerates loss, duplication and reordering, so a message that cannot be sent is dropped and the peer is
// reported unreachable; the core retries.
import { RemotingClient, RemotingServer, SerializeType, type Logger, type Processor, type RemotingCommand } from '../remoting/index.js';
import type { Message, NodeId } from './core/index.js';
import { decodeRaftMessage, encodeRaftMessage } from './wire.js';
import { RAFT_MESSAGE_CODE } from './limits.js';

export interface RaftTransportOptions {
  self: NodeId;
  host: string;
  port: number;
  peers: ReadonlyMap<NodeId, string>;
  logger: Logger;
  onMessage: (message: Message) => void;
  onUnreachable: (peer: NodeId) => void;
}

export class RaftTransport {
  private readonly server: RemotingServer;
  private readonly client: RemotingClient;
  private peers: Map<NodeId, string>;
  private closed = false;
  private readonly options: RaftTransportOptions;
  /** Peers whose last send failed: logged once until a send succeeds again. */
  private readonly failing = new Set<NodeId>();
  messagesSent = 0;
  bytesSent = 0;

  constructor(options: RaftTransportOptions) {
    this.options = options;
    this.peers = new Map(options.peers);
    this.server = new RemotingServer({ host: options.host, port: options.port, logger: options.logger });
    this.client = new RemotingClient({ serializeType: SerializeType.ROCKETMQ, logger: options.logger, connectTimeoutMs: 1000, reconnectBackoffMaxMs: 1000 });
    this.server.registerProcessor(RAFT_MESSAGE_CODE, (request: RemotingCommand) => {
      let message: Message;
      try {
        message = decodeRaftMessage(request);
      } catch (err) {
        options.logger.warn(`raft: dropped a message: ${(err as Error).message}`);
        return null;
      }
      if (message.to !== options.self) return null; // misaddressed (e.g. a stale peer list): ignore
      options.onMessage(message);
      return null;
    });
  }

  /** Serves another request code on the Raft port (status queries between peers). */
  registerProcessor(code: number, processor: Processor): void {
    this.server.registerProcessor(code, processor);
  }

  /** Sends a request to a peer's Raft port and waits for the answer. */
  request(peer: NodeId, cmd: RemotingCommand, timeoutMs: number): Promise<RemotingCommand> {
    const address = this.peers.get(peer);
    if (!address) return Promise.reject(new Error(`unknown peer ${peer}`));
    return this.client.invoke(address, cmd, timeoutMs);
  }

  async start(): Promise<number> {
    return this.server.listen();
  }

  get port(): number {
    return this.server.port;
  }

  /** Replaces the peer address book (membership changes). */
  setPeers(peers: ReadonlyMap<NodeId, string>): void {
    this.peers = new Map(peers);
  }

  addressOf(peer: NodeId): string | undefined {
    return this.peers.get(peer);
  }

  send(message: Message): void {
    if (this.closed) return;
    const address = this.peers.get(message.to);
    if (!address) {
      this.options.onUnreachable(message.to);
      return;
    }
    const cmd = encodeRaftMessage(message);
    this.messagesSent++;
    if (Buffer.isBuffer(cmd.body)) this.bytesSent += cmd.body.length;
    this.client.invokeOneway(address, cmd).then(
      () => {
        if (this.failing.delete(message.to)) this.options.logger.warn(`raft: peer ${message.to} at ${address} reachable again`);
      },
      (err: Error) => {
        if (this.closed) return;
        if (!this.failing.has(message.to)) {
          this.failing.add(message.to);
          this.options.logger.warn(`raft: cannot reach peer ${message.to} at ${address}: ${err.message}`);
        }
        this.options.onUnreachable(message.to);
      },
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.client.close();
    await this.server.close();
  }
}
