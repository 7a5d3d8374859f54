// Public surface of the client library.
export type { MessageExt } from '../common/message.js';
export { Admin, type CreateTopicOptions, type QueryByKeyOptions } from './admin.js';
export { allocateAveragely } from './allocate.js';
export type { PullStatus } from './broker-api.js';
export { type ClientOptions, type Logger } from './client-core.js';
export { ClientError, ClientErrorCode } from './errors.js';
export type { ConsumeFromWhere, MessageModel } from './heartbeat.js';
export * as limits from './limits.js';
export type { Message } from './message-build.js';
export type { SendResult, SendStatus } from './message-sender.js';
export { Producer, type ProducerOptions, type QueueSelectorFn, type SendTarget } from './producer.js';
export { PullConsumer, type PullConsumerOptions, type PullOptions, type PullResult } from './pull-consumer.js';
export { PushConsumer, type ConsumeContext, type ConsumeStatus, type MessageListener, type PushConsumerOptions } from './push-consumer.js';
export { Perm, type BrokerData, type ClusterInfo, type MessageQueue, type QueueData, type TopicRouteData } from './route.js';
export {
  TransactionProducer,
  type LocalTransaction,
  type TransactionalMessage,
  type TransactionChecker,
  type TransactionProducerOptions,
  type TransactionSendResult,
  type TxnState,
} from './transaction-producer.js';
