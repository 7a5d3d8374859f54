// One broker node: the store, the Raft node replicating its commit log, the replicated state applied from it, the
// client-facing remoting server with one processor per request code, registration with name servers, delayed
// delivery, and metrics. A single node is a Raft group of one: the same code path as a replicated group.
import fs from 'node:fs';
import path from 'node:path';
import { RemotingClient, RemotingServer, createRequest, ResponseCode, type Logger } from '../remoting/index.js';
import { MessageStore } from '../store/message-store.js';
import { EntryType } from '../store/record.js';
import { RaftNode, raftDir, recoverInstall, type MembershipBase, type MembershipEntryPayload } from '../dledger/node.js';
import { RAFT_STATUS_CODE } from '../dledger/limits.js';
import type { ConfEntry, NodeId } from '../dledger/core/index.js';
import { decodeMessage, parseHost } from '../common/message.js';
import { findProperty, Prop } from '../common/properties.js';
import { SystemTopic } from '../common/topic.js';
import { tagHashCode } from '../common/tag-hash.js';
import { startMetricsServer } from '../common/metrics-server.js';
import { parseDelayLevels, type BrokerConfig } from './config.js';
import type { BrokerContext } from './context.js';
import { ReplicatedState } from './replicated-state.js';
import { ConsumerRegistry, ProducerRegistry } from './client-channels.js';
import { PullHoldService } from './pull-hold.js';
import { TopicService } from './topic-service.js';
import { OffsetCommitter } from './offset-committer.js';
import { BrokerMetrics } from './metrics.js';
import { SendService } from './send-service.js';
import { PullService } from './pull-service.js';
import { ScheduleService, parseProgressBody, scheduleTagsCode } from './schedule-service.js';
import { NameServerRegistrar } from './registrar.js';
import { TransactionService, applyOpMessage } from './transaction-service.js';
import { brokerProcessors } from './processors/index.js';
import { raftStatus, type RaftStatusBody } from './processors/raft-status.js';
import { CLIENT_CHANNEL_EXPIRED_MS, CLIENT_SCAN_INTERVAL_MS, STATE_SNAPSHOT_INTERVAL_MS } from './limits.js';

export interface BrokerHandle {
  readonly config: BrokerConfig;
  readonly port: number;
  readonly raftPort: number;
  readonly metricsPort: number | null;
  readonly brokerAddr: string;
  readonly ctx: BrokerContext;
  close(): Promise<void>;
}

export interface BrokerLogger extends Logger {
  info(message: string): void;
}

const consoleBrokerLogger: BrokerLogger = {
  info: (m) => console.log(m),
  warn: (m) => console.warn(m),
};

export async function startBroker(config: BrokerConfig, logger: BrokerLogger = consoleBrokerLogger): Promise<BrokerHandle> {
  fs.mkdirSync(config.dataDir, { recursive: true });
  const prefix = `[broker ${config.brokerName}/${config.raftId}]`;
  const log = (m: string): void => logger.info(`${prefix} ${m}`);
  const warnLogger: Logger = { warn: (m) => logger.warn(`${prefix} ${m}`) };
  const clock = Date.now;
  const delayLevelsMs = parseDelayLevels(config.messageDelayLevels);

  const state = new ReplicatedState(config.dataDir, clock);
  const storeDir = path.join(config.dataDir, 'store');
  /** The replicated state a segment install brings, saved at once (the installed log starts after what it covers). */
  const adoptInstalledState = (buf: Buffer, membershipBase: MembershipBase): void => {
    state.restore(JSON.parse(buf.toString('utf8')) as Parameters<ReplicatedState['restore']>[0]);
    state.raftMembership = membershipBase;
    state.snapshotIndex = -1; // force the save
    state.saveSnapshot();
  };
  // Before the store opens: a crash during a segment install left the store and state.json half-replaced.
  recoverInstall({ raftDir: raftDir(config.dataDir), storeDir, installState: adoptInstalledState, log });
  const snapshotIndex = state.load();
  let raft: RaftNode | undefined;
  // Bound after the metrics exist; observations before that (none are possible before start) are dropped.
  const commitLatency = { observe: (_seconds: number): void => undefined };
  let registrar: NameServerRegistrar | undefined;
  const pullHold = new PullHoldService(clock);
  const systemTopics = new Set<string>([SystemTopic.SCHEDULE_PROGRESS, SystemTopic.TRANS_OP_HALF]);

  const store = MessageStore.open({
    dir: storeDir,
    segmentBytes: config.segmentBytes,
    flushMode: config.flushMode,
    flushIntervalMs: config.flushIntervalMs,
    retentionMs: config.retentionMs,
    retentionIntervalMs: config.retentionIntervalMs,
    replayFrom: snapshotIndex,
    retentionFloor: () => state.snapshotIndex,
    log: (m) => logger.warn(`${prefix} [store] ${m}`),
    hooks: {
      onApply(entry) {
        if (entry.type === EntryType.STATE) state.applyEntry(entry.index, entry.payload);
      },
      onDispatched(index) {
        state.advance(index);
        raft?.onApplied(index);
      },
      onMessagesArrived(topic, queueId, maxOffset) {
        pullHold.notifyArrival(topic, queueId, maxOffset);
      },
      tagsCode(topic, properties, storeTimestamp) {
        if (topic === SystemTopic.SCHEDULE) return scheduleTagsCode(delayLevelsMs, properties, storeTimestamp);
        return tagHashCode(findProperty(properties, Prop.TAGS));
      },
      systemTopics,
      onSystemMessage(_index, topic, message) {
        // Both are idempotent (max / first decision wins), so replays after a restart change nothing.
        if (topic === SystemTopic.TRANS_OP_HALF) {
          applyOpMessage({ state }, message);
          return;
        }
        const progress = parseProgressBody(decodeMessage(message, 0, { verifyCrc: false, inflate: false }).body);
        if (progress) state.applyDelayProgress(progress.level, progress.next);
      },
    },
  });

  const raftAddress = config.raftPeers.get(config.raftId);
  if (!raftAddress) throw new Error(`--raft-peers has no address for this node's id ${config.raftId}`);
  const raftPort = Number(raftAddress.slice(raftAddress.lastIndexOf(':') + 1));
  const restoredMembership = state.raftMembership as { entry: ConfEntry; addresses: Record<NodeId, string> } | undefined;
  raft = new RaftNode({
    id: config.raftId,
    dir: raftDir(config.dataDir),
    store,
    peers: config.raftPeers,
    host: config.host,
    port: raftPort,
    membershipBase: restoredMembership,
    appliedIndex: snapshotIndex,
    join: config.raftJoin,
    snapshotState: () => Buffer.from(JSON.stringify(state.snapshot())),
    onCommitLatency: (ms) => commitLatency.observe(ms / 1000),
    installState: (buf, membershipBase) => {
      adoptInstalledState(buf, membershipBase);
      registrar?.registerSoon();
    },
    tickMs: config.tickMs,
    config: { ...(config.electionTicks ? { electionTicks: config.electionTicks } : {}), ...(config.preferredLeader ? { preferredLeader: config.preferredLeader } : {}) },
    logger: warnLogger,
  });
  const node = raft;
  state.raftMembershipAt = (index) => node.membershipBaseAt(index);

  const server = new RemotingServer({ host: config.host, port: config.port, logger: warnLogger });
  const port = await server.listen();
  const brokerAddr = `${config.advertisedHost}:${port}`;
  /** Client-facing address of each leader we learned of, with the Raft address it was learned through. */
  const leaderAddrs = new Map<NodeId, { raftAddr: string | undefined; brokerAddr: string }>();
  const learning = new Set<NodeId>();

  const consumers = new ConsumerRegistry(log);
  const producers = new ProducerRegistry();
  const topics = new TopicService(state, node, { autoCreateTopicEnable: config.autoCreateTopicEnable, defaultTopicQueueNums: config.defaultTopicQueueNums });
  const offsets = new OffsetCommitter(node);
  const metrics = new BrokerMetrics(
    { broker: config.brokerName, node: config.raftId },
    {
      heldPulls: () => pullHold.heldCount,
      storeBytes: () => store.commitLog.storedBytes,
      dispatchLag: () => store.dispatcher.lag,
      raft: () => {
        const s = node.status();
        return {
          role: s.role,
          term: s.term,
          lastIndex: s.lastIndex,
          commitIndex: s.commitIndex,
          appliedIndex: node.appliedIndex,
          electionsStarted: s.electionsStarted,
          electionsWon: s.electionsWon,
          leaderChanges: node.leaderChanges,
          replicationBatches: node.transport.messagesSent,
          replicationBytes: node.transport.bytesSent,
          segmentInstalls: node.segmentInstallsSent,
          followers: (s.progress ?? []).map((p) => {
            const lagEntries = Math.max(0, s.lastIndex - p.match);
            let lagBytes = 0;
            if (lagEntries > 0 && p.match >= store.commitLog.firstIndex - 1) {
              try {
                lagBytes = store.commitLog.writeOffset - (p.match >= store.commitLog.firstIndex ? store.commitLog.entryOffset(p.match) : store.commitLog.minOffset);
              } catch {
                lagBytes = 0;
              }
            }
            return { id: p.id, match: p.match, lagEntries, lagBytes };
          }),
        };
      },
    },
  );

  commitLatency.observe = (seconds) => metrics.appendToCommit.observe(seconds);
  const ctx: BrokerContext = {
    config,
    store,
    raft: node,
    state,
    consumers,
    producers,
    pullHold,
    topics,
    offsets,
    metrics,
    brokerAddr,
    storeHost: parseHost(brokerAddr),
    delayLevelsMs,
    clock,
    log,
    leaderBrokerAddr: () => {
      const leader = node.leaderId;
      if (!leader) return null;
      if (leader === config.raftId) return brokerAddr;
      const known = leaderAddrs.get(leader);
      if (known && known.raftAddr === node.raftAddressOf(leader)) return known.brokerAddr;
      learnLeaderAddr(leader); // moved (membership change): ask again
      return null;
    },
  };

  const sends = new SendService(ctx);
  const pulls = new PullService(ctx);
  const txns = new TransactionService(ctx);
  const namesrvClient = new RemotingClient({ logger: warnLogger });
  registrar = new NameServerRegistrar(ctx, namesrvClient);
  for (const [code, processor] of brokerProcessors(ctx, sends, pulls, txns, () => registrar!.registerSoon())) server.registerProcessor(code, processor);
  node.transport.registerProcessor(RAFT_STATUS_CODE, raftStatus(ctx));
  server.on('disconnect', (connection) => {
    producers.connectionClosed(connection.id);
    for (const group of consumers.connectionClosed(connection.id)) consumers.notifyIdsChanged(group);
  });

  const schedule = new ScheduleService(ctx);

  /**
   * Learns the client-facing address of a leader from its Raft port. Asked again on every leader change (a
   * restarted node may listen elsewhere); a failed question forgets what was known.
   */
  function learnLeaderAddr(leader: NodeId | null): void {
    if (!leader || leader === config.raftId || learning.has(leader)) return;
    const raftAddr = node.raftAddressOf(leader);
    learning.add(leader);
    node.transport
      .request(leader, createRequest(RAFT_STATUS_CODE), 2000)
      .then((response) => {
        if (response.code !== ResponseCode.SUCCESS || !Buffer.isBuffer(response.body)) throw new Error(`status answer ${response.code}`);
        const body = JSON.parse(response.body.toString('utf8')) as RaftStatusBody;
        leaderAddrs.set(leader, { raftAddr, brokerAddr: body.brokerAddr });
      })
      .catch(() => leaderAddrs.delete(leader))
      .finally(() => learning.delete(leader));
  }

  node.on('role', (_role, _term, leaderId) => {
    learnLeaderAddr(leaderId);
    registrar.registerSoon();
  });
  node.on('fatal', (err) => {
    // The node stopped on purpose (e.g. a segment install failed half-way): a restart finishes or repairs it.
    logger.warn(`${prefix} stopping the broker: ${err.message}`);
    process.exit(70);
  });
  node.on('leaderReady', (term) => {
    log(`leader of ${config.brokerName} in term ${term}, ready to serve writes`);
    registrar.registerSoon();
  });
  state.onChange((op) => {
    if (op.t === 'topic' || op.t === 'topicDelete') registrar.registerSoon();
  });

  store.start();
  await node.start();
  pullHold.start();
  schedule.start();
  txns.start();
  registrar.start();

  const timers: NodeJS.Timeout[] = [];
  const every = (ms: number, fn: () => void): void => {
    const t = setInterval(fn, ms);
    t.unref();
    timers.push(t);
  };
  every(STATE_SNAPSHOT_INTERVAL_MS, () => {
    // The log is flushed first: a snapshot must never cover entries a power loss could take from the log.
    state.saveSnapshotAsync(() => store.commitLog.flush()).catch((err: Error) => logger.warn(`${prefix} state snapshot failed: ${err.message}`));
  });
  every(CLIENT_SCAN_INTERVAL_MS, () => {
    const now = clock();
    producers.expire(now, CLIENT_CHANNEL_EXPIRED_MS);
    for (const group of consumers.expire(now, CLIENT_CHANNEL_EXPIRED_MS)) consumers.notifyIdsChanged(group);
  });

  let metricsServer: { port: number; close(): Promise<void> } | null = null;
  if (config.metricsPort !== null) metricsServer = await startMetricsServer(metrics.registry, { host: config.host, port: config.metricsPort });

  log(`listening on ${brokerAddr} (raft ${raftAddress}${metricsServer ? `, metrics :${metricsServer.port}` : ''}), data in ${config.dataDir}`);

  let closing: Promise<void> | null = null;
  return {
    config,
    port,
    raftPort: node.raftPort,
    metricsPort: metricsServer?.port ?? null,
    brokerAddr,
    ctx,
    close() {
      closing ??= (async () => {
        for (const t of timers) clearInterval(t);
        await registrar.stop();
        schedule.stop();
        txns.stop();
        pullHold.stop();
        await server.close();
        await namesrvClient.close();
        await node.close();
        try {
          store.commitLog.flushSync(); // what the snapshot covers is on disk before it
          state.saveSnapshot();
        } catch (err) {
          logger.warn(`${prefix} final state snapshot failed: ${(err as Error).message}`);
        }
        await store.close();
        await metricsServer?.close();
      })();
      return closing;
    },
  };
}

export type { MembershipEntryPayload };
