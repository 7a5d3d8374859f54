// `ledgermq broker`: run one broker node (a member of a broker group's Raft group).
import fs from 'node:fs';
import type { CommandModule } from 'yargs';
import type { BrokerConfig } from '../../broker/config.js';
import { onShutdown } from '../shutdown.js';

interface Args {
  name: string;
  cluster: string;
  namesrv: string;
  host: string;
  'advertised-host'?: string;
  port: number;
  data: string;
  config?: string;
  'raft-id': string;
  'raft-peers'?: string;
  'raft-join': boolean;
  'metrics-port'?: number;
  'auto-create-topic': boolean;
  'flush-mode': string;
  'segment-mb'?: number;
  'delay-levels'?: string;
  'tick-ms'?: number;
  'election-ticks'?: number;
  'preferred-leader'?: string;
  'txn-timeout-ms'?: number;
  'txn-check-interval-ms'?: number;
  'txn-check-max'?: number;
}

export function parsePeers(text: string): Map<string, string> {
  const peers = new Map<string, string>();
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([A-Za-z0-9_.-]+)=([^:]+):(\d+)$/.exec(part);
    if (!m) throw new Error(`bad --raft-peers entry ${JSON.stringify(part)}; expected id=host:port`);
    peers.set(m[1]!, `${m[2]}:${m[3]}`);
  }
  return peers;
}

function txnFlag(value: number, name: string, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) throw new Error(`--${name} must be an integer >= ${min}, got ${value}`);
  return value;
}

export const brokerCommand: CommandModule<object, Args> = {
  command: 'broker',
  describe: 'Run a broker node',
  builder: (y) =>
    y
      .option('name', { type: 'string', demandOption: true, describe: 'Broker group name, e.g. broker-a' })
      .option('cluster', { type: 'string', default: 'DefaultCluster' })
      .option('namesrv', { type: 'string', default: '', describe: 'Name servers, host:port[;host:port...]' })
      .option('host', { type: 'string', default: '127.0.0.1', describe: 'Interface to listen on' })
      .option('advertised-host', { type: 'string', describe: 'Address clients reach this broker at (default: --host)' })
      .option('port', { type: 'number', default: 10911, describe: 'Client port' })
      .option('data', { type: 'string', demandOption: true, describe: 'Data directory' })
      .option('config', { type: 'string', describe: 'JSON file with further BrokerConfig fields' })
      .option('raft-id', { type: 'string', default: 'n0', describe: "This node's Raft id" })
      .option('raft-peers', { type: 'string', describe: 'Every voter as id=host:port,... (default: this node alone, Raft port = client port + 10000)' })
      .option('raft-join', { type: 'boolean', default: false, describe: 'Join an existing group as a learner (then run `ledgermq raft add-peer` on it); --raft-peers lists the group and this node' })
      .option('metrics-port', { type: 'number', describe: 'Serve Prometheus metrics on this port (0 = any free port)' })
      .option('auto-create-topic', { type: 'boolean', default: false, describe: 'Create unknown topics on first send' })
      .option('flush-mode', { type: 'string', choices: ['ASYNC_FLUSH', 'SYNC_FLUSH'], default: 'ASYNC_FLUSH' })
      .option('segment-mb', { type: 'number', describe: 'Commit-log segment size in MiB (default 1024)' })
      .option('delay-levels', { type: 'string', describe: 'Delay levels, e.g. "1s 5s 10s 30s 1m"' })
      .option('tick-ms', { type: 'number', describe: 'Raft tick in ms (default 50)' })
      .option('election-ticks', { type: 'number', describe: 'Raft election timeout in ticks (default 10)' })
      .option('preferred-leader', { type: 'string', describe: 'Raft id that should lead when healthy' })
      .option('txn-timeout-ms', { type: 'number', describe: 'Age of a half message before its first back-check (default 6000)' })
      .option('txn-check-interval-ms', { type: 'number', describe: 'Pause between back-checks of one half message (default 60000)' })
      .option('txn-check-max', { type: 'number', describe: 'Back-checks before a half message is parked in TRANS_CHECK_MAX_TIME_TOPIC (default 15)' }) as never,
  handler: async (args) => {
    // loaded here, not at the top: every other command starts faster without the broker's modules
    const { startBroker } = await import('../../broker/broker.js');
    const { defaultBrokerConfig } = await import('../../broker/config.js');
    const { FlushMode } = await import('../../store/flush-service.js');
    const fromFile: Partial<BrokerConfig> = args.config ? (JSON.parse(fs.readFileSync(args.config, 'utf8')) as Partial<BrokerConfig>) : {};
    const config = defaultBrokerConfig({
      ...fromFile,
      brokerName: args.name,
      clusterName: args.cluster,
      namesrvAddrs: args.namesrv.split(';').map((s) => s.trim()).filter(Boolean),
      host: args.host,
      port: args.port,
      dataDir: args.data,
      raftId: args['raft-id'],
      metricsPort: args['metrics-port'] ?? fromFile.metricsPort ?? null,
      autoCreateTopicEnable: args['auto-create-topic'] || fromFile.autoCreateTopicEnable === true,
      flushMode: args['flush-mode'] === 'SYNC_FLUSH' ? FlushMode.SYNC : FlushMode.ASYNC,
      ...(args['advertised-host'] ? { advertisedHost: args['advertised-host'] } : {}),
      ...(args['segment-mb'] ? { segmentBytes: args['segment-mb'] * 1024 * 1024 } : {}),
      ...(args['delay-levels'] ? { messageDelayLevels: args['delay-levels'] } : {}),
      ...(args['tick-ms'] ? { tickMs: args['tick-ms'] } : {}),
      ...(args['election-ticks'] ? { electionTicks: args['election-ticks'] } : {}),
      ...(args['preferred-leader'] ? { preferredLeader: args['preferred-leader'] } : {}),
      ...(args['txn-timeout-ms'] !== undefined ? { transactionTimeoutMs: txnFlag(args['txn-timeout-ms'], 'txn-timeout-ms', 0) } : {}),
      ...(args['txn-check-interval-ms'] !== undefined ? { transactionCheckIntervalMs: txnFlag(args['txn-check-interval-ms'], 'txn-check-interval-ms', 1) } : {}),
      ...(args['txn-check-max'] !== undefined ? { transactionCheckMax: txnFlag(args['txn-check-max'], 'txn-check-max', 1) } : {}),
    });
    if (args['raft-peers']) config.raftPeers = parsePeers(args['raft-peers']);
    config.raftJoin = args['raft-join'];
    const broker = await startBroker(config);
    console.log(`broker ${config.brokerName}/${config.raftId} ready on ${broker.brokerAddr} raft=${broker.raftPort}${broker.metricsPort ? ` metrics=http://${config.host}:${broker.metricsPort}/metrics` : ''}`);
    onShutdown(() => broker.close());
  },
};
