// GET_ALL_TOPIC_CONFIG (21): the topic table as TopicConfigSerializeWrapper JSON.
import { ResponseCode, createResponse, type Processor } from '../../remoting/index.js';
import type { BrokerContext } from '../context.js';

export const getAllTopicConfig = (ctx: BrokerContext): Processor => (request) =>
  createResponse(request, ResponseCode.SUCCESS, null, null, Buffer.from(JSON.stringify(ctx.state.topics.serializeWrapper(ctx.topics.advertised()))));
