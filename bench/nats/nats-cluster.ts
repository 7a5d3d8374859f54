// NATS JetStream clustered, for the replicated bench: N nats-server processes (default 3) on loopback, each with
// its own client port, route (cluster) port, server name and store dir, all in one cluster with JetStream on:
//   nats-server -a 127.0.0.1 -p PORT_i -js -sd DIR/n_i -n bench-n_i --cluster_name ledgermq-bench
//               --cluster nats://127.0.0.1:ROUTE_i --routes nats://127.0.0.1:ROUTE_j,nats://127.0.0.1:ROUTE_k
// Ready once every server printed "Server is ready" and the JetStream meta group has a leader (the JetStream API
// answers account info, which needs one). No monitoring port.
import fs from 'node:fs';
import path from 'node:path';
import { connect } from 'nats';
import { Child, freePort } from '../e2e/procs.js';

export interface NatsClusterServer {
  name: string;
  url: string;
  child: Child;
  storeDir: string;
}

const CLUSTER_NAME = 'ledgermq-bench';
const READY_TIMEOUT_MS = 30_000;
const META_LEADER_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 8000;

export class NatsCluster {
  private constructor(readonly servers: NatsClusterServer[]) {}

  static async start(bin: string, dir: string, o: { nodes?: number; echo?: boolean } = {}): Promise<NatsCluster> {
    const n = o.nodes ?? 3;
    const clientPorts: number[] = [];
    const routePorts: number[] = [];
    for (let i = 0; i < n; i++) {
      clientPorts.push(await freePort());
      routePorts.push(await freePort());
    }
    const servers: NatsClusterServer[] = [];
    const cluster = new NatsCluster(servers);
    try {
      for (let i = 0; i < n; i++) {
        const name = `bench-n${i}`;
        const storeDir = path.join(dir, name);
        fs.mkdirSync(storeDir, { recursive: true });
        const routes = routePorts.filter((_, j) => j !== i).map((p) => `nats://127.0.0.1:${p}`).join(',');
        const args = ['-a', '127.0.0.1', '-p', String(clientPorts[i]), '-js', '-sd', storeDir, '-n', name,
          '--cluster_name', CLUSTER_NAME, '--cluster', `nats://127.0.0.1:${routePorts[i]}`, '--routes', routes];
        servers.push({ name, url: `127.0.0.1:${clientPorts[i]}`, child: new Child(`nats-${name}`, bin, args, { echo: o.echo ?? false }), storeDir });
      }
      await Promise.all(servers.map((s) => s.child.waitForLine(/Server is ready/, READY_TIMEOUT_MS)));
      await cluster.waitForMetaLeader();
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  /** The JetStream API answers account info only once the meta group has a leader. */
  private async waitForMetaLeader(): Promise<void> {
    const nc = await connect({ servers: this.servers.map((s) => s.url), name: 'bench-cluster-probe' });
    try {
      const jsm = await nc.jetstreamManager({ checkAPI: false }); // no API check: it would fail before there is a leader
      const deadline = performance.now() + META_LEADER_TIMEOUT_MS;
      let last = '';
      for (;;) {
        try {
          await jsm.getAccountInfo();
          return;
        } catch (error) {
          last = String((error as Error).message ?? error);
        }
        if (performance.now() > deadline) throw new Error(`NATS cluster: no JetStream meta leader within ${META_LEADER_TIMEOUT_MS} ms (${last})`);
        await new Promise((r) => setTimeout(r, 250));
      }
    } finally {
      await nc.close();
    }
  }

  get urls(): string[] {
    return this.servers.map((s) => s.url);
  }

  get pids(): number[] {
    return this.servers.map((s) => s.child.pid).filter((p): p is number => p !== undefined);
  }

  /** Client URL of the server with this server name (a stream's cluster.leader), or the first server's. */
  urlOf(serverName: string | undefined): string {
    return (this.servers.find((s) => s.name === serverName) ?? this.servers[0]!).url;
  }

  tail(lines = 15): string {
    return this.servers.map((s) => s.child.tail(lines)).join('\n');
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.child.stop(STOP_GRACE_MS, 'SIGINT')));
  }
}
