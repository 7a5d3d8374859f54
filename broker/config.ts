// Broker configuration: everything settable from the command line or a --config file, with its default.
import { FlushMode } from '../store/flush-service.js';
import { DEFAULT_TOPIC_QUEUE_NUMS, MESSAGE_DELAY_LEVELS_DEFAULT, REGISTER_INTERVAL_MS_DEFAULT } from './limits.js';

export interface BrokerConfig {
  brokerName: string;
  clusterName: string;
  namesrvAddrs: string[];
  /** Interface to listen on for clients. */
  host: string;
  /** Address advertised to name servers and clients (defaults to host, or 127.0.0.1 when host is 0.0.0.0). */
  advertisedHost: string;
  port: number;
  dataDir: string;
  raftId: string;
  /** Raft id -> host:port of every initial voter; this node's entry gives its Raft port. */
  raftPeers: Map<string, string>;
  /** This node joins an existing group as a learner (it is added with `ledgermq raft add-peer`). */
  raftJoin?: boolean;
  /** Prometheus endpoint port; null for none, 0 for any free port. */
  metricsPort: number | null;
  autoCreateTopicEnable: boolean;
  autoCreateSubscriptionGroup: boolean;
  defaultTopicQueueNums: number;
  flushMode: FlushMode;
  segmentBytes?: number;
  flushIntervalMs?: number;
  retentionMs?: number;
  /** How often retention runs (default 10 s). */
  retentionIntervalMs?: number;
  messageDelayLevels: string;
  registerIntervalMs: number;
  /** Raft tick period and election timeout in ticks. */
  tickMs?: number;
  electionTicks?: number;
  /** Voter that should lead when healthy. */
  preferredLeader?: string | null;
  /** Transactions: back-check timeout, interval and maximum count. */
  transactionTimeoutMs: number;
  transactionCheckIntervalMs: number;
  transactionCheckMax: number;
}

export function defaultBrokerConfig(overrides: Partial<BrokerConfig> & Pick<BrokerConfig, 'brokerName' | 'dataDir'>): BrokerConfig {
  const host = overrides.host ?? '127.0.0.1';
  const port = overrides.port ?? 10911;
  const raftId = overrides.raftId ?? 'n0';
  return {
    clusterName: 'DefaultCluster',
    namesrvAddrs: [],
    host,
    advertisedHost: host === '0.0.0.0' ? '127.0.0.1' : host,
    port,
    raftId,
    raftPeers: new Map([[raftId, `${host === '0.0.0.0' ? '127.0.0.1' : host}:${port + 10_000}`]]),
    metricsPort: null,
    autoCreateTopicEnable: false,
    autoCreateSubscriptionGroup: true,
    defaultTopicQueueNums: DEFAULT_TOPIC_QUEUE_NUMS,
    flushMode: FlushMode.ASYNC,
    messageDelayLevels: MESSAGE_DELAY_LEVELS_DEFAULT,
    registerIntervalMs: REGISTER_INTERVAL_MS_DEFAULT,
    transactionTimeoutMs: 6_000,
    transactionCheckIntervalMs: 60_000,
    transactionCheckMax: 15,
    ...overrides,
  };
}

/** Parses "1s 5s 10s 1m 2h 250ms" into milliseconds per level (level 1 = index 0). */
export function parseDelayLevels(text: string): number[] {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  return text
    .trim()
    .split(/\s+/)
    .map((part) => {
      const m = /^(\d+)(ms|s|m|h|d)$/.exec(part);
      if (!m) throw new Error(`bad delay level ${JSON.stringify(part)} (expected e.g. 250ms, 5s, 1m, 2h)`);
      return Number(m[1]) * units[m[2]!]!;
    });
}
