// GET_ALL_TOPIC_LIST_FROM_NAMESERVER (206): the names of every routed topic.
import { createResponse, ResponseCode, type Processor } from '../../remoting/index.js';
import { topicListBody } from '../wire-json.js';
import { guarded, type NamesrvState } from './context.js';

export function getAllTopicListProcessor(state: NamesrvState): Processor {
  return guarded((request) => createResponse(request, ResponseCode.SUCCESS, null, null, topicListBody(state.routes.topicNames())));
}
