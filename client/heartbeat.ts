// HeartbeatData, the HEART_BEAT (34) body (protocol section 6): who we are, which producer groups we
// belong to, and each consumer group's model and subscriptions. Enums go by name, sets as arrays.
import type { SubscriptionData } from './subscription.js';

export type ConsumeType = 'CONSUME_ACTIVELY' | 'CONSUME_PASSIVELY';
export type MessageModel = 'CLUSTERING' | 'BROADCASTING';
export type ConsumeFromWhere = 'CONSUME_FROM_LAST_OFFSET' | 'CONSUME_FROM_FIRST_OFFSET' | 'CONSUME_FROM_TIMESTAMP';

export interface ProducerData {
  groupName: string;
}

export interface ConsumerData {
  groupName: string;
  consumeType: ConsumeType;
  messageModel: MessageModel;
  consumeFromWhere: ConsumeFromWhere;
  unitMode: boolean;
  subscriptionDataSet: SubscriptionData[];
}

export interface HeartbeatData {
  clientID: string;
  producerDataSet: ProducerData[];
  consumerDataSet: ConsumerData[];
}

/** Field order follows Java's (fastjson writes alphabetically; order carries no meaning). */
export function encodeHeartbeat(data: HeartbeatData): Buffer {
  return Buffer.from(
    JSON.stringify({
      clientID: data.clientID,
      consumerDataSet: data.consumerDataSet.map((c) => ({
        consumeFromWhere: c.consumeFromWhere,
        consumeType: c.consumeType,
        groupName: c.groupName,
        messageModel: c.messageModel,
        subscriptionDataSet: c.subscriptionDataSet.map((s) => ({
          classFilterMode: s.classFilterMode,
          codeSet: s.codeSet,
          expressionType: s.expressionType,
          subString: s.subString,
          subVersion: s.subVersion,
          tagsSet: s.tagsSet,
          topic: s.topic,
        })),
        unitMode: c.unitMode,
      })),
      producerDataSet: data.producerDataSet.map((p) => ({ groupName: p.groupName })),
    }),
    'utf8',
  );
}
