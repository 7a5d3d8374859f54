// What processors and services share. Each takes only what it uses from here.
import type { MessageStore } from '../store/message-store.js';
import type { RaftNode } from '../dledger/node.js';
import type { HostV4 } from '../common/message.js';
import type { BrokerConfig } from './config.js';
import type { ReplicatedState } from './replicated-state.js';
import type { ConsumerRegistry, ProducerRegistry } from './client-channels.js';
import type { PullHoldService } from './pull-hold.js';
import type { TopicService } from './topic-service.js';
import type { OffsetCommitter } from './offset-committer.js';
import type { BrokerMetrics } from './metrics.js';

export interface BrokerContext {
  config: BrokerConfig;
  store: MessageStore;
  raft: RaftNode;
  state: ReplicatedState;
  consumers: ConsumerRegistry;
  producers: ProducerRegistry;
  pullHold: PullHoldService;
  topics: TopicService;
  offsets: OffsetCommitter;
  metrics: BrokerMetrics;
  /** This broker's client-facing address (host:port) and its IPv4 form for stored messages. */
  brokerAddr: string;
  storeHost: HostV4;
  /** Delay of each level in ms (level n at index n-1). */
  delayLevelsMs: number[];
  clock: () => number;
  log: (message: string) => void;
  /** The client-facing address of the current leader, when known. */
  leaderBrokerAddr(): string | null;
}
