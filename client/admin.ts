// Admin: topic creation on brokers, routes and cluster info from name servers, message lookup by offset
// id or key, and group membership.
import type { MessageExt } from '../common/message.js';
import { parseOffsetMessageId } from '../common/message-id.js';
import { splitKeys } from '../common/properties.js';
import { topicNameProblem } from '../common/topic.js';
import { ResponseCode } from '../remoting/index.js';
import { ClientCore, positiveInteger, type ClientOptions } from './client-core.js';
import { ClientError, ClientErrorCode, illegalArgument } from './errors.js';
import {
  CREATE_TOPIC_QUEUES_DEFAULT,
  CREATE_TOPIC_QUEUES_MAX,
  DEFAULT_TOPIC,
  QUERY_MESSAGE_MAX_NUM_DEFAULT,
  QUERY_MESSAGE_MAX_NUM_MAX,
} from './limits.js';
import { masterAddress, Perm, type ClusterInfo, type TopicRouteData } from './route.js';

export interface CreateTopicOptions {
  /** Read and write queues per broker group (default 8). */
  queues?: number;
  readQueues?: number;
  writeQueues?: number;
  /** PermName bits (default 6 = read + write). */
  perm?: number;
  order?: boolean;
  /** Brokers to create it on; default the master of every broker group in the cluster info. */
  brokerAddrs?: string[];
}

export interface QueryByKeyOptions {
  /** Messages asked for per broker (default 32). */
  maxNum?: number;
  beginTimestamp?: number;
  endTimestamp?: number;
}

export class Admin {
  private readonly core: ClientCore;

  constructor(options: ClientOptions) {
    this.core = new ClientCore(options, {
      label: 'admin',
      producers: () => [],
      consumers: () => [],
      useTemplateRoutes: false,
    });
  }

  async start(): Promise<void> {
    this.core.start();
  }

  async shutdown(): Promise<void> {
    await this.core.close();
  }

  /** UPDATE_AND_CREATE_TOPIC on every target broker; all must succeed. */
  async createTopic(topic: string, options: CreateTopicOptions = {}): Promise<void> {
    this.core.assertRunning();
    const problem = topicNameProblem(topic);
    if (problem !== null) throw illegalArgument(problem);
    if (topic === DEFAULT_TOPIC) throw illegalArgument(`${DEFAULT_TOPIC} is the auto-create template and cannot be re-created`);
    const queues = positiveInteger(options.queues, CREATE_TOPIC_QUEUES_DEFAULT, 'queues', 1, CREATE_TOPIC_QUEUES_MAX);
    const readQueueNums = positiveInteger(options.readQueues, queues, 'readQueues', 1, CREATE_TOPIC_QUEUES_MAX);
    const writeQueueNums = positiveInteger(options.writeQueues, queues, 'writeQueues', 1, CREATE_TOPIC_QUEUES_MAX);
    const perm = positiveInteger(options.perm, Perm.READ | Perm.WRITE, 'perm', 0, 15);
    const targets = options.brokerAddrs ?? (await this.allMasters());
    if (targets.length === 0) throw new ClientError('no broker to create the topic on: the cluster info lists no master', ClientErrorCode.NO_ROUTE, true);
    await Promise.all(
      targets.map((address) =>
        this.core.broker.createTopic(address, {
          topic,
          defaultTopic: DEFAULT_TOPIC,
          readQueueNums,
          writeQueueNums,
          perm,
          topicFilterType: 'SINGLE_TAG',
          topicSysFlag: 0,
          order: options.order ?? false,
        }),
      ),
    );
  }

  /** The raw route; throws TOPIC_NOT_EXIST (17) when no name server knows the topic. */
  async route(topic: string): Promise<TopicRouteData> {
    this.core.assertRunning();
    const route = await this.core.nameServers.topicRoute(topic);
    if (route === null) throw new ClientError(`no name server knows topic ${topic}`, ResponseCode.TOPIC_NOT_EXIST, false);
    return route;
  }

  async clusterInfo(): Promise<ClusterInfo> {
    this.core.assertRunning();
    return this.core.nameServers.clusterInfo();
  }

  async topicList(): Promise<string[]> {
    this.core.assertRunning();
    return this.core.nameServers.topicList();
  }

  /** Looks a message up by its offset message id (which embeds the broker address and commit-log offset). */
  async viewMessage(offsetMsgId: string): Promise<MessageExt> {
    this.core.assertRunning();
    const id = parseOffsetMessageId(offsetMsgId);
    if (id === null) throw illegalArgument(`${JSON.stringify(offsetMsgId)} is not an offset message id (32 hex characters)`);
    return this.core.broker.viewMessage(id.address, id.commitLogOffset);
  }

  /** Messages of `topic` indexed under `key`, from every master of the topic, filtered to exact key matches. */
  async queryMessagesByKey(topic: string, key: string, options: QueryByKeyOptions = {}): Promise<MessageExt[]> {
    this.core.assertRunning();
    if (typeof key !== 'string' || key === '') throw illegalArgument('the key must be a non-empty string');
    const maxNum = positiveInteger(options.maxNum, QUERY_MESSAGE_MAX_NUM_DEFAULT, 'maxNum', 1, QUERY_MESSAGE_MAX_NUM_MAX);
    const route = await this.core.routes.refresh(topic);
    if (route === null) throw new ClientError(`no name server knows topic ${topic}`, ResponseCode.TOPIC_NOT_EXIST, false);
    const masters = [...new Set(route.data.brokerDatas.flatMap((b) => (masterAddress(b) === undefined ? [] : [masterAddress(b)!])))];
    const header = { topic, key, maxNum, beginTimestamp: options.beginTimestamp ?? 0, endTimestamp: options.endTimestamp ?? this.core.now() };
    const lists = await Promise.all(masters.map((address) => this.core.broker.queryMessage(address, header, false)));
    const seen = new Set<string>();
    const out: MessageExt[] = [];
    for (const msg of lists.flat()) {
      if (msg.topic !== topic || !splitKeys(msg.keys).includes(key) || seen.has(msg.offsetMsgId)) continue;
      seen.add(msg.offsetMsgId);
      out.push(msg);
    }
    return out;
  }

  /** Client ids of `group`'s consumers: from a master of `topic`, or the union over every master. */
  async consumerList(group: string, topic?: string): Promise<string[]> {
    this.core.assertRunning();
    let masters: string[];
    if (topic !== undefined) {
      const route = await this.core.routes.refresh(topic);
      if (route === null) throw new ClientError(`no name server knows topic ${topic}`, ResponseCode.TOPIC_NOT_EXIST, false);
      masters = route.data.brokerDatas.flatMap((b) => (masterAddress(b) === undefined ? [] : [masterAddress(b)!]));
    } else {
      masters = await this.allMasters();
    }
    if (masters.length === 0) throw new ClientError('no broker master to ask', ClientErrorCode.NO_ROUTE, true);
    let lastError: unknown = null;
    const ids = new Set<string>();
    let answered = 0;
    for (const address of masters) {
      try {
        for (const id of await this.core.broker.consumerIds(address, group)) ids.add(id);
        answered += 1;
        if (topic !== undefined) break;
      } catch (error) {
        // A broker with no consumer of the group answers SYSTEM_ERROR ("no consumer for this group").
        if (error instanceof ClientError && error.code === ResponseCode.SYSTEM_ERROR) answered += 1;
        else lastError = error;
      }
    }
    if (answered === 0) throw lastError;
    return [...ids].sort();
  }

  private async allMasters(): Promise<string[]> {
    const info = await this.core.nameServers.clusterInfo();
    const out = new Set<string>();
    for (const broker of Object.values(info.brokerAddrTable)) {
      const address = masterAddress(broker);
      if (address !== undefined) out.add(address);
    }
    return [...out];
  }
}
