// RabbitMQ as a replicated reference system: Debian's rabbitmq-server (installed with apt-get when missing; it
// brings Erlang), N nodes (default 3) on one host, clustered with rabbitmqctl, everything on loopback and under
// the bench's temp dir:
//   - an epmd of our own, in the foreground: `epmd -port EPMD -address 127.0.0.1` (ERL_EPMD_PORT for every node and
//     CLI call), so no daemon epmd outlives the bench;
//   - a temp HOME holding the shared .erlang.cookie (mode 0400) for the nodes and rabbitmqctl;
//   - node i: /usr/lib/rabbitmq/bin/rabbitmq-server with RABBITMQ_NODENAME=rabbit<i>@localhost, RABBITMQ_NODE_IP_ADDRESS
//     127.0.0.1, RABBITMQ_NODE_PORT (AMQP) and RABBITMQ_DIST_PORT (inter-node) free ports, its own
//     RABBITMQ_MNESIA_BASE / RABBITMQ_LOG_BASE, our rabbitmq.conf (console log only), an empty enabled_plugins file (no
//     management plugin) and an empty rabbitmq-env.conf (nothing from /etc/rabbitmq), distribution bound to
//     127.0.0.1 (-kernel inet_dist_use_interface). RABBITMQ_ALLOW_INPUT=true + -noinput make the script exec the
//     Erlang VM, so the child's pid is beam.smp itself (SIGTERM = orderly shutdown, SIGKILL reaches the VM); a node
//     is up once it logs "Server startup complete";
//   - nodes 2..N then join node 1, one at a time: rabbitmqctl -n rabbit<i>@localhost stop_app, join_cluster
//     rabbit1@localhost, start_app; ready once `cluster_status` lists N running nodes.
// The /usr/sbin wrappers are not used: they switch to the rabbitmq user and its /var/lib/rabbitmq home.
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ensureDebianPackage, which } from '../e2e/debian-package.js';
import { Child, freePort, freePortBlock } from '../e2e/procs.js';

export const RABBITMQ_BIN_DIR = '/usr/lib/rabbitmq/bin';
const NODE_READY_TIMEOUT_MS = 90_000;
const CTL_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 15_000;
const CTL_DIST_PORTS = 10; // rabbitmqctl's own distribution port range (one CLI call at a time)

/** Where rabbitmq-server's scripts are, installing Debian's package first if needed. */
export function ensureRabbitmq(log: (line: string) => void): string {
  return ensureDebianPackage('rabbitmq-server', () => (fs.existsSync(path.join(RABBITMQ_BIN_DIR, 'rabbitmq-server')) && which('epmd') ? RABBITMQ_BIN_DIR : null), log);
}

export interface RabbitNode {
  name: string;
  amqpPort: number;
  distPort: number;
  child: Child;
}

const ctlChildren = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of ctlChildren) c.kill('SIGKILL');
});

export class RabbitCluster {
  /** RabbitMQ and Erlang versions, from cluster_status. */
  version = 'unknown';

  private constructor(
    readonly binDir: string,
    readonly dir: string,
    readonly nodes: RabbitNode[],
    private readonly epmd: Child,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  static async start(binDir: string, dir: string, o: { nodes?: number; echo?: boolean; log?: (line: string) => void } = {}): Promise<RabbitCluster> {
    const n = o.nodes ?? 3;
    const log = o.log ?? (() => undefined);
    const home = path.join(dir, 'home');
    fs.mkdirSync(home, { recursive: true });
    fs.writeFileSync(path.join(home, '.erlang.cookie'), crypto.randomBytes(15).toString('hex').toUpperCase(), { mode: 0o400 });
    const conf = path.join(dir, 'rabbitmq.conf');
    fs.writeFileSync(conf, ['log.console = true', 'log.console.level = info', 'log.file = false', ''].join('\n'));
    fs.writeFileSync(path.join(dir, 'enabled_plugins'), '[].\n');
    fs.writeFileSync(path.join(dir, 'rabbitmq-env.conf'), '');
    const epmdPort = await freePort();
    const ctlBase = await freePortBlock(Array.from({ length: CTL_DIST_PORTS }, (_, i) => i));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      HOME: home,
      ERL_EPMD_PORT: String(epmdPort),
      ERL_EPMD_ADDRESS: '127.0.0.1',
      RABBITMQ_CONF_ENV_FILE: path.join(dir, 'rabbitmq-env.conf'),
      RABBITMQ_CONFIG_FILE: conf,
      RABBITMQ_ADVANCED_CONFIG_FILE: path.join(dir, 'advanced.config'), // absent: nothing from /etc/rabbitmq
      RABBITMQ_ENABLED_PLUGINS_FILE: path.join(dir, 'enabled_plugins'),
      RABBITMQ_CTL_DIST_PORT_MIN: String(ctlBase),
      RABBITMQ_CTL_DIST_PORT_MAX: String(ctlBase + CTL_DIST_PORTS - 1),
      RABBITMQ_CTL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
    };
    const epmd = new Child('epmd', which('epmd') ?? 'epmd', ['-port', String(epmdPort), '-address', '127.0.0.1'], { echo: o.echo ?? false, env });
    const nodes: RabbitNode[] = [];
    const cluster = new RabbitCluster(binDir, dir, nodes, epmd, env);
    try {
      await waitForPort(epmdPort, 10_000);
      for (let i = 1; i <= n; i++) {
        const name = `rabbit${i}@localhost`;
        const base = path.join(dir, `rabbit${i}`);
        fs.mkdirSync(base, { recursive: true });
        const amqpPort = await freePort();
        const distPort = await freePort();
        const nodeEnv: NodeJS.ProcessEnv = {
          ...env,
          RABBITMQ_NODENAME: name,
          RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
          RABBITMQ_NODE_PORT: String(amqpPort),
          RABBITMQ_DIST_PORT: String(distPort),
          RABBITMQ_MNESIA_BASE: path.join(base, 'mnesia'),
          RABBITMQ_LOG_BASE: path.join(base, 'log'),
          RABBITMQ_PLUGINS_EXPAND_DIR: path.join(base, 'plugins-expand'),
          RABBITMQ_PID_FILE: path.join(base, 'rabbit.pid'),
          RABBITMQ_ALLOW_INPUT: 'true', // exec the VM (pid = beam.smp) ...
          RABBITMQ_SERVER_START_ARGS: '-noinput', // ... without an Erlang shell on stdin
          RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
        };
        const child = new Child(`rabbit${i}`, path.join(binDir, 'rabbitmq-server'), [], { echo: o.echo ?? false, env: nodeEnv });
        nodes.push({ name, amqpPort, distPort, child });
      }
      await Promise.all(nodes.map((nd) => nd.child.waitForLine(/Server startup complete/, NODE_READY_TIMEOUT_MS)));
      log(`rabbitmq: ${n} nodes up, joining them to ${nodes[0]!.name}`);
      for (const nd of nodes.slice(1)) {
        await cluster.ctl(['-n', nd.name, 'stop_app']);
        await cluster.ctl(['-n', nd.name, 'join_cluster', nodes[0]!.name]);
        await cluster.ctl(['-n', nd.name, 'start_app']);
      }
      const status = JSON.parse(await cluster.ctl(['-n', nodes[0]!.name, 'cluster_status', '--formatter', 'json'])) as {
        running_nodes: string[];
        versions?: Record<string, { rabbitmq_version: string; erlang_version: string }>;
      };
      if (status.running_nodes.length !== n) throw new Error(`rabbitmq: cluster_status lists ${status.running_nodes.length} running nodes, expected ${n}: ${status.running_nodes.join(', ')}`);
      const v = status.versions?.[nodes[0]!.name];
      if (v) cluster.version = `RabbitMQ ${v.rabbitmq_version}, Erlang/OTP ${v.erlang_version}`;
      return cluster;
    } catch (error) {
      log(cluster.tail());
      await cluster.stop();
      throw error;
    }
  }

  /** Runs rabbitmqctl (or another CLI tool in binDir); resolves with its stdout, fails on a non-zero exit or a
   *  timeout. */
  ctl(args: string[], timeoutMs = CTL_TIMEOUT_MS, tool = 'rabbitmqctl'): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = spawn(path.join(this.binDir, tool), args, { env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
      ctlChildren.add(child);
      let out = '';
      let err = '';
      child.stdout!.on('data', (c: Buffer) => void (out.length < 1 << 20 && (out += c.toString())));
      child.stderr!.on('data', (c: Buffer) => void (err.length < 1 << 16 && (err += c.toString())));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${tool} ${args.join(' ')}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      child.on('error', (e) => reject(new Error(`${tool}: ${e.message}`)));
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        ctlChildren.delete(child);
        if (code === 0) resolve(out);
        else reject(new Error(`${tool} ${args.join(' ')} failed (${signal ?? `code ${code}`}): ${(err || out).trim().split('\n').slice(-6).join(' | ')}`));
      });
    });
  }

  /** Leader and members of a quorum queue (rabbitmqctl list_queues). */
  async queueInfo(queue: string): Promise<{ type: string; leader: string; members: string[] } | null> {
    const rows = JSON.parse(await this.ctl(['-n', this.nodes[0]!.name, 'list_queues', 'name', 'type', 'leader', 'members', '--formatter', 'json'])) as Array<{
      name: string;
      type: string;
      leader: string;
      members: string[] | string;
    }>;
    const row = rows.find((r) => r.name === queue);
    if (!row) return null;
    return { type: row.type, leader: row.leader, members: Array.isArray(row.members) ? row.members : [row.members] };
  }

  amqpUrl(nodeName?: string): string {
    const nd = this.nodes.find((x) => x.name === nodeName) ?? this.nodes[0]!;
    return `amqp://guest:guest@127.0.0.1:${nd.amqpPort}`;
  }

  /** beam.smp pids of the nodes. */
  get pids(): number[] {
    return this.nodes.map((nd) => nd.child.pid).filter((p): p is number => p !== undefined);
  }

  tail(lines = 15): string {
    return [...this.nodes.map((nd) => nd.child.tail(lines)), this.epmd.tail(5)].join('\n');
  }

  /** SIGTERM to every node (an orderly shutdown), SIGKILL after the grace period; then epmd. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((nd) => nd.child.stop(STOP_GRACE_MS, 'SIGTERM')));
    await this.epmd.stop(2000, 'SIGTERM');
  }
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (performance.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
