// UPDATE_AND_CREATE_TOPIC (17): creates or updates a topic through the log; answers once applied here.
import { ResponseCode, createResponse, type Processor } from '../../remoting/index.js';
import { NotWritableError } from '../../dledger/node.js';
import { isSystemTopic, topicNameProblem } from '../../common/topic.js';
import { BadRequestError, Header, guarded } from '../headers.js';
import type { BrokerContext } from '../context.js';
import { notWritableResponse, refuseUnlessLeader } from '../not-leader.js';
import type { TopicConfig } from '../topic-config.js';

export const updateAndCreateTopic = (ctx: BrokerContext): Processor =>
  guarded(async (request) => {
    const h = new Header(request);
    const topic = h.str('topic');
    const problem = topicNameProblem(topic);
    if (problem) return createResponse(request, ResponseCode.SYSTEM_ERROR, `The specified topic is not valid: ${problem}`);
    if (isSystemTopic(topic)) return createResponse(request, ResponseCode.SYSTEM_ERROR, `The topic[${topic}] is conflict with system topic.`);
    const refusal = refuseUnlessLeader(ctx, request);
    if (refusal) return refusal;
    let attributes: Record<string, string> = {};
    const attrText = h.optStr('attributes');
    if (attrText) {
      try {
        attributes = JSON.parse(attrText) as Record<string, string>;
      } catch {
        throw new BadRequestError('the attributes field is not JSON');
      }
    }
    const filter = h.optStr('topicFilterType') ?? 'SINGLE_TAG';
    const config: TopicConfig = {
      topicName: topic,
      readQueueNums: h.int('readQueueNums'),
      writeQueueNums: h.int('writeQueueNums'),
      perm: h.int('perm'),
      topicFilterType: filter === 'MULTI_TAG' ? 'MULTI_TAG' : 'SINGLE_TAG',
      topicSysFlag: h.optInt('topicSysFlag', 0),
      order: h.bool('order', false),
      attributes,
    };
    try {
      await ctx.topics.upsert(config);
    } catch (err) {
      if (err instanceof NotWritableError) return notWritableResponse(ctx, request, err);
      throw err;
    }
    return createResponse(request, ResponseCode.SUCCESS);
  });
