// GET_ROUTEINFO_BY_TOPIC (105): the brokers and queues serving a topic, always as standard JSON.
import { createResponse, ResponseCode, type Processor } from '../../remoting/index.js';
import { requiredString } from '../header.js';
import { topicRouteBody } from '../wire-json.js';
import { guarded, type NamesrvState } from './context.js';

export function getRouteInfoProcessor(state: NamesrvState): Processor {
  return guarded((request) => {
    // `acceptStandardJsonOnly` needs no reading: every answer is standard JSON, which all clients parse.
    const topic = requiredString(request.extFields, 'topic');
    const route = state.routes.topicRoute(topic);
    state.metrics.routeRequested(route === null ? 'not_found' : 'found');
    if (route === null) {
      return createResponse(request, ResponseCode.TOPIC_NOT_EXIST, `No topic route info in name server for the topic: ${topic}`);
    }
    return createResponse(request, ResponseCode.SUCCESS, null, null, topicRouteBody(route));
  });
}
