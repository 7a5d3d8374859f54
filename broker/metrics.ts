// Broker metrics (prom-client). Per-topic message and byte counts are accumulated in plain maps on the hot path
// and folded into the counters when Prometheus scrapes, so a send costs a map update, not a label lookup.
import client from 'prom-client';

interface TopicCount {
  messages: number;
  bytes: number;
}

export class BrokerMetrics {
  readonly registry = new client.Registry();
  private readonly received = new Map<string, TopicCount>();
  private readonly delivered = new Map<string, TopicCount>();
  readonly sendLatency: client.Histogram;
  readonly pullLatency: client.Histogram;
  readonly appendToCommit: client.Histogram;
  inflightRequests = 0;

  constructor(labels: Record<string, string>, sources: { heldPulls: () => number; storeBytes: () => number; dispatchLag: () => number; raft: () => RaftGaugeValues }) {
    this.registry.setDefaultLabels(labels);
    client.collectDefaultMetrics({ register: this.registry });
    const received = this.received;
    const delivered = this.delivered;
    const foldInto = (map: Map<string, TopicCount>, msgs: client.Counter, bytes: client.Counter): void => {
      for (const [topic, c] of map) {
        if (c.messages > 0) msgs.inc({ topic }, c.messages);
        if (c.bytes > 0) bytes.inc({ topic }, c.bytes);
        c.messages = 0;
        c.bytes = 0;
      }
    };
    // Scrapes read metrics in registration order, so the fold runs in the first counter's collect: folding in a
    // later one would show the received counters one scrape late.
    const recvMsgs = new client.Counter({
      name: 'ledgermq_messages_received_total',
      help: 'Messages stored, by topic',
      labelNames: ['topic'],
      registers: [this.registry],
      collect() {
        foldInto(received, recvMsgs, recvBytes);
        foldInto(delivered, delMsgs, delBytes);
      },
    });
    const recvBytes = new client.Counter({ name: 'ledgermq_bytes_received_total', help: 'Message body bytes stored, by topic', labelNames: ['topic'], registers: [this.registry] });
    const delMsgs = new client.Counter({ name: 'ledgermq_messages_delivered_total', help: 'Messages returned by pulls, by topic', labelNames: ['topic'], registers: [this.registry] });
    const delBytes = new client.Counter({
      name: 'ledgermq_bytes_delivered_total',
      help: 'Stored-message bytes returned by pulls, by topic',
      labelNames: ['topic'],
      registers: [this.registry],
    });
    this.sendLatency = new client.Histogram({ name: 'ledgermq_send_latency_seconds', help: 'Time from a send request to its answer', buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [this.registry] });
    this.pullLatency = new client.Histogram({ name: 'ledgermq_pull_latency_seconds', help: 'Time from a pull request to its answer (long polling included)', buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 30], registers: [this.registry] });
    this.appendToCommit = new client.Histogram({ name: 'ledgermq_raft_append_to_commit_seconds', help: 'Time from writing an entry on the leader to its commit', buckets: [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5], registers: [this.registry] });
    const self = this;
    new client.Gauge({ name: 'ledgermq_inflight_requests', help: 'Requests being processed', registers: [this.registry], collect() { this.set(self.inflightRequests); } });
    new client.Gauge({ name: 'ledgermq_held_pulls', help: 'Pull requests held by long polling', registers: [this.registry], collect() { this.set(sources.heldPulls()); } });
    new client.Gauge({ name: 'ledgermq_store_bytes', help: 'Bytes of commit-log segment files', registers: [this.registry], collect() { this.set(sources.storeBytes()); } });
    new client.Gauge({ name: 'ledgermq_dispatch_lag_entries', help: 'Committed entries not yet dispatched to consume queues', registers: [this.registry], collect() { this.set(sources.dispatchLag()); } });
    registerRaftGauges(this.registry, sources.raft);
  }

  countReceived(topic: string, messages: number, bytes: number): void {
    add(this.received, topic, messages, bytes);
  }

  countDelivered(topic: string, messages: number, bytes: number): void {
    add(this.delivered, topic, messages, bytes);
  }
}

function add(map: Map<string, TopicCount>, topic: string, messages: number, bytes: number): void {
  const c = map.get(topic);
  if (c) {
    c.messages += messages;
    c.bytes += bytes;
  } else {
    map.set(topic, { messages, bytes });
  }
}

export interface RaftGaugeValues {
  role: string;
  term: number;
  lastIndex: number;
  commitIndex: number;
  appliedIndex: number;
  electionsStarted: number;
  electionsWon: number;
  leaderChanges: number;
  replicationBatches: number;
  replicationBytes: number;
  segmentInstalls: number;
  followers: Array<{ id: string; match: number; lagEntries: number; lagBytes: number }>;
}

const ROLES = ['follower', 'preCandidate', 'candidate', 'leader', 'learner'];

function registerRaftGauges(registry: client.Registry, values: () => RaftGaugeValues): void {
  let snapshot: RaftGaugeValues | null = null;
  const read = (): RaftGaugeValues => (snapshot ??= values());
  const gauge = (name: string, help: string, pick: (v: RaftGaugeValues) => number): void => {
    new client.Gauge({ name, help, registers: [registry], collect() { this.set(pick(read())); } });
  };
  new client.Gauge({
    name: 'ledgermq_raft_role',
    help: '1 for the role this node has now',
    labelNames: ['role'],
    registers: [registry],
    collect() {
      snapshot = null; // first metric collected: take a fresh reading for all raft gauges
      const v = read();
      for (const r of ROLES) this.set({ role: r }, v.role === r ? 1 : 0);
    },
  });
  gauge('ledgermq_raft_term', 'Current Raft term', (v) => v.term);
  gauge('ledgermq_raft_last_index', 'Last log index', (v) => v.lastIndex);
  gauge('ledgermq_raft_commit_index', 'Commit index', (v) => v.commitIndex);
  gauge('ledgermq_raft_applied_index', 'Index applied (dispatched) on this node', (v) => v.appliedIndex);
  gauge('ledgermq_raft_elections_started', 'Elections this node started', (v) => v.electionsStarted);
  gauge('ledgermq_raft_elections_won', 'Elections this node won', (v) => v.electionsWon);
  gauge('ledgermq_raft_leader_changes', 'Leader changes seen by this node', (v) => v.leaderChanges);
  gauge('ledgermq_raft_replication_batches', 'Append batches sent to followers', (v) => v.replicationBatches);
  gauge('ledgermq_raft_replication_bytes', 'Entry bytes sent to followers', (v) => v.replicationBytes);
  gauge('ledgermq_raft_segment_installs', 'Segment installs sent to followers', (v) => v.segmentInstalls);
  new client.Gauge({
    name: 'ledgermq_raft_follower_match_index',
    help: 'Match index of each follower (on the leader)',
    labelNames: ['follower'],
    registers: [registry],
    collect() {
      this.reset();
      for (const f of read().followers) this.set({ follower: f.id }, f.match);
    },
  });
  new client.Gauge({
    name: 'ledgermq_raft_follower_lag_entries',
    help: 'Entries each follower is behind the leader',
    labelNames: ['follower'],
    registers: [registry],
    collect() {
      this.reset();
      for (const f of read().followers) this.set({ follower: f.id }, f.lagEntries);
    },
  });
  new client.Gauge({
    name: 'ledgermq_raft_follower_lag_bytes',
    help: 'Log bytes each follower is behind the leader',
    labelNames: ['follower'],
    registers: [registry],
    collect() {
      this.reset();
      for (const f of read().followers) this.set({ follower: f.id }, f.lagBytes);
    },
  });
}
