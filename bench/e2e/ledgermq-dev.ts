// `ledgermq dev` as the bench's system under test: started on free loopback ports with its data in the bench's
// temp dir, ready once it prints `ready namesrv=...`. Stopping sends SIGINT (dev stops its name server and brokers)
// and then makes sure every pid listed in DATA/cluster.json is gone.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClusterFile } from '../../cli/commands/dev.js';
import { Child, freePortBlock } from './procs.js';

export const CLI_MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'cli', 'main.js');

export interface DevOptions {
  nodes: number;
  dataDir: string;
  segmentMb?: number;
  flushMode?: string;
  readyTimeoutMs?: number;
  echo?: boolean;
  /** Environment of `ledgermq dev` and so of its name server and brokers (e.g. NODE_OPTIONS for profiling). */
  env?: NodeJS.ProcessEnv;
  /** Picks the base port for the offsets dev derives its ports from (default: a random free block). */
  portBlock?: (offsets: readonly number[]) => Promise<number>;
}

const running = new Set<string>();
process.on('exit', () => killAllDevs());

/** SIGKILLs the name servers and brokers of every dev cluster not stopped yet (fatal errors, signals). */
export function killAllDevs(): void {
  for (const dir of running) killListed(dir);
}

export class LedgermqDev {
  private constructor(
    readonly child: Child,
    readonly namesrv: string,
    readonly dataDir: string,
  ) {}

  static async start(o: DevOptions): Promise<LedgermqDev> {
    // dev derives ports: broker i = base + 10 i, raft i = base + i, metrics: name server = base, broker i = base + 1 + i
    const n = o.nodes;
    const base = await (o.portBlock ?? freePortBlock)([
      0, // name server
      ...Array.from({ length: n }, (_, i) => 100 + 10 * i), // brokers
      ...Array.from({ length: n }, (_, i) => 200 + i), // raft
      ...Array.from({ length: n + 1 }, (_, i) => 300 + i), // metrics
    ]);
    const args = [
      CLI_MAIN, 'dev',
      '--nodes', String(n),
      '--data', o.dataDir,
      '--host', '127.0.0.1',
      '--namesrv-port', String(base),
      '--broker-port', String(base + 100),
      '--raft-port', String(base + 200),
      '--metrics-port', String(base + 300),
      ...(o.segmentMb ? ['--segment-mb', String(o.segmentMb)] : []),
      ...(o.flushMode ? ['--flush-mode', o.flushMode] : []),
    ];
    const child = new Child('ledgermq-dev', process.execPath, args, { echo: o.echo ?? false, ...(o.env ? { env: o.env } : {}) });
    try {
      running.add(o.dataDir);
      const m = await child.waitForLine(/ready namesrv=(\S+)/, o.readyTimeoutMs ?? 60_000);
      return new LedgermqDev(child, m[1]!, o.dataDir);
    } catch (error) {
      await child.stop(6000);
      killListed(o.dataDir);
      running.delete(o.dataDir);
      throw error;
    }
  }

  /** Broker pids from cluster.json (for profiling and checks). */
  cluster(): ClusterFile | null {
    return readCluster(this.dataDir);
  }

  async stop(): Promise<void> {
    await this.child.stop(8000, 'SIGINT');
    killListed(this.dataDir);
    running.delete(this.dataDir);
  }
}

function readCluster(dataDir: string): ClusterFile | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(dataDir, 'cluster.json'), 'utf8')) as ClusterFile;
  } catch {
    return null;
  }
}

/** SIGKILLs the name server and brokers dev started if they outlived it (only processes whose command line names
 *  this data dir or this cli, so a recycled pid is never hit). */
function killListed(dataDir: string): void {
  const cluster = readCluster(dataDir);
  if (cluster === null) return;
  const pids = [cluster.namesrv.pid, ...cluster.brokers.map((b) => b.pid)];
  for (const pid of pids) {
    let cmdline = '';
    try {
      cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue; // gone
    }
    if (!cmdline.includes(CLI_MAIN)) continue;
    if (cmdline.includes('broker') && !cmdline.includes(dataDir)) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
