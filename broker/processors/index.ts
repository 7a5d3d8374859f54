// The broker's routing table: one processor per request code.
import { RequestCode, type Processor } from '../../remoting/index.js';
import { RAFT_MEMBERSHIP_CODE, RAFT_STATUS_CODE, RAFT_TRANSFER_CODE, TXN_LIST_CODE } from '../../dledger/limits.js';
import type { BrokerContext } from '../context.js';
import type { SendService } from '../send-service.js';
import type { PullService } from '../pull-service.js';
import { sendMessage } from './send-message.js';
import { sendMessageV2 } from './send-message-v2.js';
import { sendBatchMessage } from './send-batch-message.js';
import { pullMessage } from './pull-message.js';
import { queryConsumerOffset } from './query-consumer-offset.js';
import { updateConsumerOffset } from './update-consumer-offset.js';
import { getMinOffset } from './get-min-offset.js';
import { getMaxOffset } from './get-max-offset.js';
import { searchOffsetByTimestamp } from './search-offset-by-timestamp.js';
import { getEarliestMsgStoretime } from './get-earliest-msg-storetime.js';
import { heartBeat } from './heart-beat.js';
import { unregisterClient } from './unregister-client.js';
import { getConsumerListByGroup } from './get-consumer-list-by-group.js';
import { updateAndCreateTopic } from './update-and-create-topic.js';
import { getAllTopicConfig } from './get-all-topic-config.js';
import { viewMessageById } from './view-message-by-id.js';
import { queryMessage } from './query-message.js';
import { consumerSendMsgBack } from './consumer-send-msg-back.js';
import { raftStatus } from './raft-status.js';
import { raftTransfer } from './raft-transfer.js';
import { raftMembership } from './raft-membership.js';
import { endTransaction } from './end-transaction.js';
import { txnList } from './txn-list.js';
import type { TransactionService } from '../transaction-service.js';

export function brokerProcessors(ctx: BrokerContext, sends: SendService, pulls: PullService, txns: TransactionService, onMembershipChanged: () => void): Array<[number, Processor]> {
  return [
    [RequestCode.SEND_MESSAGE, sendMessage(sends)],
    [RequestCode.SEND_MESSAGE_V2, sendMessageV2(sends)],
    [RequestCode.SEND_BATCH_MESSAGE, sendBatchMessage(sends)],
    [RequestCode.PULL_MESSAGE, pullMessage(pulls)],
    [RequestCode.QUERY_CONSUMER_OFFSET, queryConsumerOffset(ctx)],
    [RequestCode.UPDATE_CONSUMER_OFFSET, updateConsumerOffset(ctx)],
    [RequestCode.GET_MIN_OFFSET, getMinOffset(ctx)],
    [RequestCode.GET_MAX_OFFSET, getMaxOffset(ctx)],
    [RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, searchOffsetByTimestamp(ctx)],
    [RequestCode.GET_EARLIEST_MSG_STORETIME, getEarliestMsgStoretime(ctx)],
    [RequestCode.HEART_BEAT, heartBeat(ctx)],
    [RequestCode.UNREGISTER_CLIENT, unregisterClient(ctx)],
    [RequestCode.GET_CONSUMER_LIST_BY_GROUP, getConsumerListByGroup(ctx)],
    [RequestCode.UPDATE_AND_CREATE_TOPIC, updateAndCreateTopic(ctx)],
    [RequestCode.GET_ALL_TOPIC_CONFIG, getAllTopicConfig(ctx)],
    [RequestCode.VIEW_MESSAGE_BY_ID, viewMessageById(ctx)],
    [RequestCode.QUERY_MESSAGE, queryMessage(ctx)],
    [RequestCode.CONSUMER_SEND_MSG_BACK, consumerSendMsgBack(ctx, sends)],
    [RequestCode.END_TRANSACTION, endTransaction(ctx, txns)],
    [TXN_LIST_CODE, txnList(txns)],
    [RAFT_STATUS_CODE, raftStatus(ctx)],
    [RAFT_TRANSFER_CODE, raftTransfer(ctx)],
    [RAFT_MEMBERSHIP_CODE, raftMembership(ctx, onMembershipChanged)],
  ];
}
