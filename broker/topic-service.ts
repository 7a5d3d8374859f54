// Topic lifecycle on top of the replicated topic table: explicit creation, auto-creation on first send, and the
// system topics a broker needs. Creation is a replicated STATE entry; callers wait until it is applied.
import { EntryType } from '../store/record.js';
import { SystemTopic, topicNameProblem, RETRY_GROUP_TOPIC_PREFIX, DLQ_GROUP_TOPIC_PREFIX } from '../common/topic.js';
import type { RaftNode } from '../dledger/node.js';
import { encodeStateEntry, type ReplicatedState } from './replicated-state.js';
import { Perm, topicConfig, type TopicConfig } from './topic-config.js';
import { TOPIC_QUEUE_NUMS_MAX, TOPICS_MAX } from './limits.js';
import { BadRequestError } from './headers.js';
import { ResponseCode } from '../remoting/index.js';

export class TopicService {
  private readonly creating = new Map<string, Promise<TopicConfig>>();

  constructor(
    private readonly state: ReplicatedState,
    private readonly raft: RaftNode,
    private readonly options: { autoCreateTopicEnable: boolean; defaultTopicQueueNums: number },
  ) {}

  get(topic: string): TopicConfig | undefined {
    return this.state.topics.get(topic);
  }

  /** Topics this broker advertises to name servers: its table, plus the auto-create template when enabled. */
  advertised(): TopicConfig[] {
    return this.options.autoCreateTopicEnable ? [topicConfig(SystemTopic.DEFAULT, this.options.defaultTopicQueueNums, Perm.READ | Perm.WRITE | Perm.INHERIT)] : [];
  }

  /** Creates or updates a topic through the log; resolves once applied on this node. */
  async upsert(config: TopicConfig): Promise<TopicConfig> {
    const problem = topicNameProblem(config.topicName);
    if (problem) throw new BadRequestError(problem);
    if (config.readQueueNums < 1 || config.writeQueueNums < 1 || config.readQueueNums > TOPIC_QUEUE_NUMS_MAX || config.writeQueueNums > TOPIC_QUEUE_NUMS_MAX) {
      throw new BadRequestError(`queue counts must be between 1 and ${TOPIC_QUEUE_NUMS_MAX}, got read ${config.readQueueNums} / write ${config.writeQueueNums}`, ResponseCode.INVALID_PARAMETER);
    }
    if (!this.state.topics.has(config.topicName) && this.state.topics.size >= TOPICS_MAX) throw new BadRequestError(`this broker already holds ${TOPICS_MAX} topics`);
    const r = await this.raft.proposeEntry(EntryType.STATE, encodeStateEntry([{ t: 'topic', config }]));
    await this.raft.waitApplied(r.index);
    return this.state.topics.get(config.topicName) ?? config;
  }

  async remove(topic: string): Promise<void> {
    const r = await this.raft.proposeEntry(EntryType.STATE, encodeStateEntry([{ t: 'topicDelete', topic }]));
    await this.raft.waitApplied(r.index);
  }

  /**
   * The topic a send goes to: existing, or auto-created (when enabled, or for the broker's own retry/DLQ topics)
   * with at most `requestedQueues` queues. Concurrent first sends share one creation. Undefined when it does not
   * exist and may not be created.
   */
  async forSend(topic: string, requestedQueues: number): Promise<TopicConfig | undefined> {
    const existing = this.state.topics.get(topic);
    if (existing) return existing;
    const internal = topic.startsWith(RETRY_GROUP_TOPIC_PREFIX) || topic.startsWith(DLQ_GROUP_TOPIC_PREFIX) || topic === SystemTopic.SCHEDULE || topic === SystemTopic.TRANS_HALF || topic === SystemTopic.TRANS_OP_HALF || topic === SystemTopic.TRANS_CHECK_MAX_TIME;
    if (!internal && !this.options.autoCreateTopicEnable) return undefined;
    const queues = internal ? 1 : Math.max(1, Math.min(requestedQueues > 0 ? requestedQueues : this.options.defaultTopicQueueNums, this.options.defaultTopicQueueNums));
    return this.ensure(topic, queues);
  }

  /** Creates `topic` with `queues` queues unless it exists; single-flight per topic. */
  ensure(topic: string, queues: number): Promise<TopicConfig> {
    const existing = this.state.topics.get(topic);
    if (existing) return Promise.resolve(existing);
    let pending = this.creating.get(topic);
    if (!pending) {
      pending = this.upsert(topicConfig(topic, queues)).finally(() => this.creating.delete(topic));
      this.creating.set(topic, pending);
    }
    return pending;
  }
}
