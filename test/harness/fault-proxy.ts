// A fault-injecting TCP proxy for one directed Raft link (from -> to). Raft peers send on connections they open
// to each other's Raft port, so traffic from A to B always crosses the proxy of link A->B: cutting it silences
// A towards B while B towards A keeps working (a one-way partition); cutting both links partitions the pair.
// Cutting destroys the live connections (real RSTs/FINs, not a simulated flag) and refuses new ones until healed.
import net from 'node:net';

export class LinkProxy {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  private cut = false;
  port = 0;
  bytesForwarded = 0;

  constructor(
    readonly name: string,
    private readonly targetPort: number,
  ) {}

  async start(port = 0): Promise<number> {
    this.server = net.createServer((inbound) => this.accept(inbound));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.port;
  }

  private accept(inbound: net.Socket): void {
    if (this.cut) {
      inbound.destroy();
      return;
    }
    const outbound = net.connect(this.targetPort, '127.0.0.1');
    this.sockets.add(inbound);
    this.sockets.add(outbound);
    const drop = (): void => {
      inbound.destroy();
      outbound.destroy();
      this.sockets.delete(inbound);
      this.sockets.delete(outbound);
    };
    inbound.on('data', (chunk) => {
      this.bytesForwarded += chunk.length;
      if (!outbound.write(chunk)) inbound.pause();
    });
    outbound.on('drain', () => inbound.resume());
    outbound.on('data', (chunk) => {
      if (!inbound.write(chunk)) outbound.pause();
    });
    inbound.on('drain', () => outbound.resume());
    for (const s of [inbound, outbound]) {
      s.on('error', drop);
      s.on('close', drop);
    }
  }

  /** Breaks the link: live connections are destroyed, new ones refused. */
  sever(): void {
    this.cut = true;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  heal(): void {
    this.cut = false;
  }

  get isCut(): boolean {
    return this.cut;
  }

  async close(): Promise<void> {
    this.sever();
    await new Promise((r) => (this.server ? this.server.close(r) : r(undefined)));
  }
}

/** Proxies for every directed link between the given nodes. */
export class LinkTable {
  private readonly links = new Map<string, LinkProxy>();

  static key(from: string, to: string): string {
    return `${from}->${to}`;
  }

  async create(from: string, to: string, targetPort: number): Promise<LinkProxy> {
    const proxy = new LinkProxy(LinkTable.key(from, to), targetPort);
    await proxy.start();
    this.links.set(LinkTable.key(from, to), proxy);
    return proxy;
  }

  get(from: string, to: string): LinkProxy {
    const p = this.links.get(LinkTable.key(from, to));
    if (!p) throw new Error(`no link ${from}->${to}`);
    return p;
  }

  /** Cuts every link between `node` and the others, in the given directions. */
  isolate(node: string, others: string[], directions: { outbound: boolean; inbound: boolean }): void {
    for (const o of others) {
      if (directions.outbound) this.get(node, o).sever();
      if (directions.inbound) this.get(o, node).sever();
    }
  }

  healAll(): void {
    for (const p of this.links.values()) p.heal();
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.links.values()].map((p) => p.close()));
  }
}
