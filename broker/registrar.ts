// Registration with every name server: at start, every registerIntervalMs, and at once (debounced) when this
// node's role or its topics change. The leader registers as broker id 0 only once it is ready (its no-op entry
// committed and dispatched); every other node registers as follower id = its position among the members + 1.
import { RemotingClient, RequestCode, ResponseCode, createRequest } from '../remoting/index.js';
import type { BrokerContext } from './context.js';

const REGISTER_TIMEOUT_MS = 3_000;
const DEBOUNCE_MS = 20;

export class NameServerRegistrar {
  private timer: NodeJS.Timeout | null = null;
  private pending: NodeJS.Timeout | null = null;
  private stopped = false;
  registrations = 0;
  failures = 0;
  lastBrokerId = -1;

  constructor(
    private readonly ctx: BrokerContext,
    private readonly client: RemotingClient,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.registerAll(), this.ctx.config.registerIntervalMs);
    this.timer.unref();
    void this.registerAll();
  }

  /** This node's broker id as name servers and clients see it. */
  brokerId(): number {
    if (this.ctx.raft.isReadyLeader) return 0;
    const m = this.ctx.raft.core.activeMembership();
    const members = [...m.voters, ...m.learners].sort();
    const at = members.indexOf(this.ctx.config.raftId);
    return at >= 0 ? at + 1 : members.length + 1;
  }

  /** Registers soon (role or topic change); several changes in a row cause one registration. */
  registerSoon(): void {
    if (this.pending || this.stopped) return;
    this.pending = setTimeout(() => {
      this.pending = null;
      void this.registerAll();
    }, DEBOUNCE_MS);
  }

  async registerAll(): Promise<void> {
    if (this.stopped) return;
    const ctx = this.ctx;
    const m = ctx.raft.core.activeMembership();
    if (!m.voters.includes(ctx.config.raftId) && !m.learners.includes(ctx.config.raftId)) {
      // Removed from the group: stop being routed to.
      if (this.lastBrokerId >= 0) await this.unregisterAll();
      return;
    }
    const brokerId = this.brokerId();
    this.lastBrokerId = brokerId;
    const body = Buffer.from(
      JSON.stringify({
        topicConfigSerializeWrapper: ctx.state.topics.serializeWrapper(ctx.topics.advertised()),
        filterServerList: [],
      }),
    );
    const header = {
      brokerName: ctx.config.brokerName,
      brokerAddr: ctx.brokerAddr,
      clusterName: ctx.config.clusterName,
      haServerAddr: ctx.raft.raftAddressOf(ctx.config.raftId) ?? '',
      brokerId: String(brokerId),
      compressed: 'false',
      bodyCrc32: '0',
    };
    await Promise.all(
      ctx.config.namesrvAddrs.map(async (addr) => {
        try {
          const response = await this.client.invoke(addr, createRequest(RequestCode.REGISTER_BROKER, { ...header }, body), REGISTER_TIMEOUT_MS);
          if (response.code !== ResponseCode.SUCCESS) throw new Error(`code ${response.code}: ${response.remark}`);
          this.registrations++;
        } catch (err) {
          this.failures++;
          ctx.log(`registration with name server ${addr} failed: ${(err as Error).message}`);
        }
      }),
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.pending) clearTimeout(this.pending);
    await this.unregisterAll();
  }

  private async unregisterAll(): Promise<void> {
    const ctx = this.ctx;
    const brokerId = this.lastBrokerId;
    this.lastBrokerId = -1;
    await Promise.all(
      ctx.config.namesrvAddrs.map((addr) =>
        this.client
          .invoke(addr, createRequest(RequestCode.UNREGISTER_BROKER, { brokerName: ctx.config.brokerName, brokerAddr: ctx.brokerAddr, clusterName: ctx.config.clusterName, brokerId: String(brokerId) }), 1000)
          .catch(() => undefined),
      ),
    );
  }
}
