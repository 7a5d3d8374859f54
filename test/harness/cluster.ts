// Real clusters for tests: a name server and one broker group (1, 3 or 5 nodes) as child processes of
// `dist/cli/main.js`, on free loopback ports, with data in a temporary directory. Nodes can be killed (SIGKILL),
// restarted, and new ones started to join the group. `stop()` kills everything and removes the data; children
// are also killed if the test process exits without stopping them.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RemotingClient, RequestCode, ResponseCode, createRequest } from '../../remoting/index.js';
import { RAFT_STATUS_CODE } from '../../dledger/limits.js';
import type { RaftStatusBody } from '../../broker/processors/raft-status.js';
import { LinkTable } from './fault-proxy.js';

const MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'cli', 'main.js');
const LOG_LINES_KEPT = 400;

const everyChild = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of everyChild) child.kill('SIGKILL');
});

/** Lowest port handed out by freePorts (below it: well-known and registered services, 9876, 10911...). */
const TEST_PORT_MIN = 20_000;

/**
 * The first port the kernel uses for outgoing connections and `listen(0)` (Linux: ip_local_port_range), or null.
 * Ports below it are never taken by a client socket, so one found free stays free until a test binds it; an
 * ephemeral port released by freePorts could be taken in between by any connection another test opens.
 */
function ephemeralPortMin(): number | null {
  try {
    const low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > TEST_PORT_MIN + 1000 ? low : null;
  } catch {
    return null;
  }
}

function bindPort(port: number): Promise<net.Server | null> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(null));
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

/** Where test processes note the ports they handed out, so two of them (`npm test` runs two at once) never share one. */
const PORT_CLAIMS_DIR = path.join(os.tmpdir(), 'ledgermq-test-ports');
/** A claim older than this is void: its test is long over. */
const PORT_CLAIM_TTL_MS = 10 * 60_000;
let claimsSwept = false;

/**
 * Claims `port` for this process for PORT_CLAIM_TTL_MS: a free port handed out here is bound only later, by a child
 * process, and another test process could otherwise find it free meanwhile and hand it out too.
 */
function claimPort(port: number): boolean {
  if (!claimsSwept) {
    claimsSwept = true;
    fs.mkdirSync(PORT_CLAIMS_DIR, { recursive: true });
    for (const name of fs.readdirSync(PORT_CLAIMS_DIR)) {
      const file = path.join(PORT_CLAIMS_DIR, name);
      try {
        if (Date.now() - fs.statSync(file).mtimeMs > PORT_CLAIM_TTL_MS) fs.rmSync(file, { force: true });
      } catch {
        // another process swept it
      }
    }
  }
  const file = path.join(PORT_CLAIMS_DIR, String(port));
  try {
    fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
    return true;
  } catch {
    try {
      if (Date.now() - fs.statSync(file).mtimeMs <= PORT_CLAIM_TTL_MS) return false;
      fs.writeFileSync(file, String(process.pid)); // a void claim: take it over
      return true;
    } catch {
      return false;
    }
  }
}

/**
 * Reserves `count` distinct free loopback ports (held together, released just before use): random ports below the
 * kernel's ephemeral range when it is known, each claimed for this process, else ports the kernel picks.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  const ceiling = ephemeralPortMin();
  try {
    for (let attempt = 0; servers.length < count; attempt++) {
      const port = ceiling !== null && attempt < 1000 ? TEST_PORT_MIN + Math.floor(Math.random() * (ceiling - TEST_PORT_MIN)) : 0;
      if (port !== 0 && !claimPort(port)) continue;
      const server = await bindPort(port);
      if (server !== null) servers.push(server);
      else if (port === 0) throw new Error('no free loopback port');
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
}

/**
 * A base port such that base + each offset is free and claimed for this process (for `ledgermq dev`, which derives
 * its ports from a base).
 */
export async function freePortBlock(offsets: readonly number[]): Promise<number> {
  const ceiling = ephemeralPortMin() ?? 32_768;
  const span = Math.max(...offsets) + 1;
  for (let attempt = 0; attempt < 1000; attempt++) {
    const base = TEST_PORT_MIN + Math.floor(Math.random() * (ceiling - TEST_PORT_MIN - span));
    const held: net.Server[] = [];
    let ok = true;
    for (const offset of offsets) {
      const server = claimPort(base + offset) ? await bindPort(base + offset) : null;
      if (server === null) {
        ok = false;
        break;
      }
      held.push(server);
    }
    await Promise.all(held.map((s) => new Promise((r) => s.close(r))));
    if (ok) return base;
  }
  throw new Error('no free block of loopback ports');
}

export interface ClusterOptions {
  nodes?: number;
  brokerName?: string;
  /** Extra `ledgermq broker` arguments for every node. */
  brokerArgs?: string[];
  /** Segment size in MiB (default 8: small files, quick to create). */
  segmentMb?: number;
  autoCreateTopic?: boolean;
  /** Route every directed Raft link through a fault-injecting proxy (see fault-proxy.ts), for partition drills. */
  linkProxies?: boolean;
}

export interface NodeInfo {
  raftId: string;
  port: number;
  raftPort: number;
  metricsPort: number;
  dataDir: string;
  addr: string;
  process: ChildProcess | null;
  join: boolean;
}

export class TestCluster {
  readonly root: string;
  namesrvAddr = '';
  namesrvMetricsPort = 0;
  readonly nodes: NodeInfo[] = [];
  private namesrv: ChildProcess | null = null;
  private readonly logs: string[] = [];
  private readonly client = new RemotingClient({ logger: { warn: () => undefined } });
  /** Proxies of the directed Raft links, when `linkProxies` is on. */
  readonly links = new LinkTable();

  private constructor(readonly options: Required<ClusterOptions>) {
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgermq-cluster-'));
  }

  static async start(options: ClusterOptions = {}): Promise<TestCluster> {
    const cluster = new TestCluster({ nodes: 1, brokerName: 'broker-a', brokerArgs: [], segmentMb: 8, autoCreateTopic: true, linkProxies: false, ...options });
    try {
      await cluster.startAll();
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  private async startAll(): Promise<void> {
    const n = this.options.nodes;
    const ports = await freePorts(2 + 3 * n);
    this.namesrvAddr = `127.0.0.1:${ports[0]}`;
    this.namesrvMetricsPort = ports[1]!;
    for (let i = 0; i < n; i++) {
      this.nodes.push({
        raftId: `n${i}`,
        port: ports[2 + 3 * i]!,
        raftPort: ports[3 + 3 * i]!,
        metricsPort: ports[4 + 3 * i]!,
        dataDir: path.join(this.root, `n${i}`),
        addr: `127.0.0.1:${ports[2 + 3 * i]}`,
        process: null,
        join: false,
      });
    }
    if (this.options.linkProxies) {
      for (const from of this.nodes) for (const to of this.nodes) if (from !== to) await this.links.create(from.raftId, to.raftId, to.raftPort);
    }
    this.namesrv = this.spawn('namesrv', ['namesrv', '--port', String(ports[0]), '--metrics-port', String(ports[1])]);
    await this.waitForLine(this.namesrv, /namesrv listening/, 15_000);
    await Promise.all(this.nodes.map((node) => this.startNode(node.raftId)));
    await this.waitForLeader();
  }

  /** --raft-peers as `self` sees them: its own real port, the others through the link proxies when enabled. */
  private peers(self: string): string {
    return this.nodes
      .map((n) => {
        const port = this.options.linkProxies && n.raftId !== self ? this.links.get(self, n.raftId).port : n.raftPort;
        return `${n.raftId}=127.0.0.1:${port}`;
      })
      .join(',');
  }

  private spawn(name: string, argv: string[]): ChildProcess {
    const child = spawn(process.execPath, [MAIN, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    everyChild.add(child);
    child.on('exit', () => everyChild.delete(child));
    const keep = (chunk: Buffer): void => {
      for (const line of chunk.toString().split('\n')) {
        if (!line) continue;
        this.logs.push(`[${name}] ${line}`);
        if (this.logs.length > LOG_LINES_KEPT) this.logs.shift();
      }
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    return child;
  }

  private waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      let seen = '';
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; recent logs:\n${this.recentLogs(40)}`)), timeoutMs);
      const onData = (chunk: Buffer): void => {
        seen += chunk.toString();
        if (pattern.test(seen)) {
          clearTimeout(timer);
          child.stdout!.off('data', onData);
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`process exited (${signal ?? code}) before ${pattern}; recent logs:\n${this.recentLogs(40)}`));
      });
    });
  }

  node(raftId: string): NodeInfo {
    const node = this.nodes.find((n) => n.raftId === raftId);
    if (!node) throw new Error(`no node ${raftId}`);
    return node;
  }

  /** Starts (or restarts) a node's process and waits until it listens. */
  async startNode(raftId: string): Promise<void> {
    const node = this.node(raftId);
    if (node.process && node.process.exitCode === null && node.process.signalCode === null) throw new Error(`${raftId} is running`);
    const argv = [
      'broker',
      '--name', this.options.brokerName,
      '--namesrv', this.namesrvAddr,
      '--port', String(node.port),
      '--data', node.dataDir,
      '--raft-id', node.raftId,
      '--raft-peers', this.peers(node.raftId),
      '--metrics-port', String(node.metricsPort),
      '--segment-mb', String(this.options.segmentMb),
      ...(this.options.autoCreateTopic ? ['--auto-create-topic'] : []),
      ...(node.join ? ['--raft-join'] : []),
      ...this.options.brokerArgs,
    ];
    node.process = this.spawn(raftId, argv);
    await this.waitForLine(node.process, /ready on/, 20_000);
  }

  /** Starts a new node that joins the group as a learner (add it with a RAFT_MEMBERSHIP request or the CLI). */
  async addNode(raftId: string): Promise<NodeInfo> {
    const [port, raftPort, metricsPort] = await freePorts(3);
    const node: NodeInfo = { raftId, port: port!, raftPort: raftPort!, metricsPort: metricsPort!, dataDir: path.join(this.root, raftId), addr: `127.0.0.1:${port}`, process: null, join: true };
    this.nodes.push(node);
    await this.startNode(raftId);
    return node;
  }

  /** Kills a node's process (SIGKILL by default) and waits until it is gone. */
  async killNode(raftId: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const node = this.node(raftId);
    const child = node.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await exited;
  }

  isRunning(raftId: string): boolean {
    const p = this.node(raftId).process;
    return !!p && p.exitCode === null && p.signalCode === null;
  }

  /** Raft status of every running node (unreachable ones are left out). */
  async statuses(): Promise<RaftStatusBody[]> {
    const out: RaftStatusBody[] = [];
    await Promise.all(
      this.nodes
        .filter((n) => this.isRunning(n.raftId))
        .map(async (n) => {
          try {
            const r = await this.client.invoke(n.addr, createRequest(RAFT_STATUS_CODE), 2000);
            if (r.code === ResponseCode.SUCCESS && Buffer.isBuffer(r.body)) out.push(JSON.parse(r.body.toString('utf8')) as RaftStatusBody);
          } catch {
            // not answering right now
          }
        }),
    );
    return out;
  }

  /** Waits until a ready leader is registered with the name server as id 0; returns its raft id. */
  async waitForLeader(timeoutMs = 20_000, excluding: string[] = []): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const leader = (await this.statuses()).find((s) => s.role === 'leader' && s.ready && !excluding.includes(s.raftId));
      if (leader && (await this.registeredMaster()) === leader.brokerAddr) return leader.raftId;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no ready leader within ${timeoutMs} ms; recent logs:\n${this.recentLogs(60)}`);
  }

  /** The address the name server routes writes to (broker id 0), if any. */
  async registeredMaster(): Promise<string | undefined> {
    try {
      const r = await this.client.invoke(this.namesrvAddr, createRequest(RequestCode.GET_BROKER_CLUSTER_INFO), 2000);
      if (r.code !== ResponseCode.SUCCESS || !Buffer.isBuffer(r.body)) return undefined;
      const info = JSON.parse(r.body.toString('utf8')) as { brokerAddrTable?: Record<string, { brokerAddrs?: Record<string, string> }> };
      return info.brokerAddrTable?.[this.options.brokerName]?.brokerAddrs?.['0'];
    } catch {
      return undefined;
    }
  }

  recentLogs(lines = 80): string {
    return this.logs.slice(-lines).join('\n');
  }

  /** Kills every process and removes the data. Safe to call more than once. */
  async stop(): Promise<void> {
    const all = [this.namesrv, ...this.nodes.map((n) => n.process)].filter((c): c is ChildProcess => !!c && c.exitCode === null && c.signalCode === null);
    await Promise.all(all.map((c) => new Promise((r) => {
      c.once('exit', r);
      c.kill('SIGKILL');
    })));
    await this.client.close();
    await this.links.closeAll();
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}
