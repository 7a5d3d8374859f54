// `ledgermq dev`: a whole local cluster in one command: a name server and one broker group of 1, 3 or 5 nodes, as
// child processes with their data under --data. Prints `ready namesrv=HOST:PORT` once producers can send (the
// group has a leader registered with the name server), writes DATA/cluster.json with every process's pid, ports
// and data dir, and stops everything on Ctrl-C.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommandModule } from 'yargs';
import { RemotingClient, RequestCode, ResponseCode, createRequest } from '../../remoting/index.js';
import { writeFileAtomic } from '../../store/atomic-file.js';

interface Args {
  data: string;
  nodes: number;
  host: string;
  'namesrv-port': number;
  'broker-port': number;
  'raft-port': number;
  'metrics-port': number;
  'broker-name': string;
  'segment-mb': number;
  'flush-mode': string;
  'delay-levels'?: string;
  'ready-timeout-ms': number;
}

export interface ClusterFile {
  namesrv: { pid: number; addr: string; port: number; metricsPort: number };
  brokers: Array<{ brokerName: string; raftId: string; pid: number; addr: string; port: number; raftPort: number; metricsPort: number; dataDir: string }>;
}

const MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'main.js');

export const devCommand: CommandModule<object, Args> = {
  command: 'dev',
  describe: 'Run a local cluster: a name server and a broker group of --nodes nodes',
  builder: (y) =>
    y
      .option('data', { type: 'string', default: './data', describe: 'Data directory (one sub-directory per process)' })
      .option('nodes', { type: 'number', default: 3, choices: [1, 3, 5], describe: 'Nodes in the broker group (a Raft group)' })
      .option('host', { type: 'string', default: '127.0.0.1' })
      .option('namesrv-port', { type: 'number', default: 9876 })
      .option('broker-port', { type: 'number', default: 10911, describe: 'Client port of the first broker node; node i uses +10*i' })
      .option('raft-port', { type: 'number', default: 20911, describe: 'Raft port of the first node; node i uses +i' })
      .option('metrics-port', { type: 'number', default: 19876, describe: 'Metrics port of the name server; broker node i uses +1+i' })
      .option('broker-name', { type: 'string', default: 'broker-a' })
      .option('segment-mb', { type: 'number', default: 64, describe: 'Commit-log segment size in MiB (smaller than production so a dev cluster starts fast)' })
      .option('flush-mode', { type: 'string', choices: ['ASYNC_FLUSH', 'SYNC_FLUSH'], default: 'ASYNC_FLUSH' })
      .option('delay-levels', { type: 'string', describe: 'Delay levels for retries and delayed messages' })
      .option('ready-timeout-ms', { type: 'number', default: 30_000 }) as never,
  handler: async (args) => {
    const data = path.resolve(args.data);
    fs.mkdirSync(data, { recursive: true });
    const host = args.host;
    const children: Array<{ name: string; child: ChildProcess }> = [];
    let stopping = false;
    const stopAll = async (): Promise<void> => {
      stopping = true;
      for (const { child } of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const deadline = Date.now() + 5000;
      while (children.some(({ child }) => child.exitCode === null && child.signalCode === null) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      for (const { child } of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    };
    const launch = (name: string, argv: string[]): ChildProcess => {
      const child = spawn(process.execPath, [MAIN, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
      const prefix = `[${name}] `;
      for (const stream of [child.stdout!, child.stderr!]) {
        let buffered = '';
        stream.on('data', (chunk: Buffer) => {
          buffered += chunk.toString();
          let nl: number;
          while ((nl = buffered.indexOf('\n')) >= 0) {
            process.stdout.write(prefix + buffered.slice(0, nl + 1));
            buffered = buffered.slice(nl + 1);
          }
        });
      }
      child.on('exit', (code, signal) => {
        if (!stopping) console.log(`${prefix}exited (${signal ?? `code ${code}`}); the rest of the cluster keeps running`);
      });
      children.push({ name, child });
      return child;
    };

    const namesrvAddr = `${host}:${args['namesrv-port']}`;
    const ns = launch('namesrv', ['namesrv', '--host', host, '--port', String(args['namesrv-port']), '--metrics-port', String(args['metrics-port'])]);
    const peers = Array.from({ length: args.nodes }, (_, i) => `n${i}=${host}:${args['raft-port'] + i}`).join(',');
    const cluster: ClusterFile = {
      namesrv: { pid: ns.pid!, addr: namesrvAddr, port: args['namesrv-port'], metricsPort: args['metrics-port'] },
      brokers: [],
    };
    for (let i = 0; i < args.nodes; i++) {
      const raftId = `n${i}`;
      const port = args['broker-port'] + 10 * i;
      const metricsPort = args['metrics-port'] + 1 + i;
      const dataDir = path.join(data, `${args['broker-name']}-${raftId}`);
      const argv = [
        'broker',
        '--name', args['broker-name'],
        '--namesrv', namesrvAddr,
        '--host', host,
        '--port', String(port),
        '--data', dataDir,
        '--raft-id', raftId,
        '--raft-peers', peers,
        '--metrics-port', String(metricsPort),
        '--auto-create-topic',
        '--segment-mb', String(args['segment-mb']),
        '--flush-mode', args['flush-mode'],
        ...(args['delay-levels'] ? ['--delay-levels', args['delay-levels']] : []),
      ];
      const child = launch(raftId, argv);
      cluster.brokers.push({ brokerName: args['broker-name'], raftId, pid: child.pid!, addr: `${host}:${port}`, port, raftPort: args['raft-port'] + i, metricsPort, dataDir });
    }
    writeFileAtomic(path.join(data, 'cluster.json'), JSON.stringify(cluster, null, 2));
    process.on('SIGINT', () => void stopAll().then(() => process.exit(0)));
    process.on('SIGTERM', () => void stopAll().then(() => process.exit(0)));

    try {
      await waitForLeader(namesrvAddr, args['broker-name'], args['ready-timeout-ms']);
    } catch (err) {
      console.error(`ledgermq dev: ${(err as Error).message}`);
      await stopAll();
      process.exit(1);
    }
    console.log(`metrics: namesrv http://${host}:${args['metrics-port']}/metrics; ${cluster.brokers.map((b) => `${b.raftId} http://${host}:${b.metricsPort}/metrics`).join('; ')}`);
    console.log(`cluster file: ${path.join(data, 'cluster.json')}`);
    console.log(`ready namesrv=${namesrvAddr}`);
  },
};

/** Waits until the name server lists a master (id 0) for the broker group. */
async function waitForLeader(namesrvAddr: string, brokerName: string, timeoutMs: number): Promise<void> {
  const client = new RemotingClient();
  const deadline = Date.now() + timeoutMs;
  try {
    while (Date.now() < deadline) {
      try {
        const r = await client.invoke(namesrvAddr, createRequest(RequestCode.GET_BROKER_CLUSTER_INFO), 1000);
        if (r.code === ResponseCode.SUCCESS && Buffer.isBuffer(r.body)) {
          const info = JSON.parse(r.body.toString('utf8')) as { brokerAddrTable?: Record<string, { brokerAddrs?: Record<string, string> }> };
          if (info.brokerAddrTable?.[brokerName]?.brokerAddrs?.['0']) return;
        }
      } catch {
        // the name server is still starting
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no leader of ${brokerName} registered with ${namesrvAddr} within ${timeoutMs} ms`);
  } finally {
    await client.close();
  }
}
