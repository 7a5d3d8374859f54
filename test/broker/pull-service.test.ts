// Pulls on a node that is not the ready leader: what it stores it may serve, but a queue's ends are the leader's
// to tell. A lagging replica (a restarted old leader, say) that answered "offset moved" would send a consumer
// back over messages it had consumed, or past ones it had not.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PullService } from '../../broker/pull-service.js';
import { PullSysFlag } from '../../common/protocol.js';
import { RequestCode, ResponseCode, createRequest } from '../../remoting/index.js';
import { messageDraft, startMiniBroker } from './mini-broker.js';

const TOPIC = 'PullTopic';

function pull(queueOffset: number) {
  return createRequest(RequestCode.PULL_MESSAGE, {
    consumerGroup: 'CG',
    topic: TOPIC,
    queueId: '0',
    queueOffset: String(queueOffset),
    maxMsgNums: '32',
    sysFlag: String(PullSysFlag.SUBSCRIPTION),
    commitOffset: '0',
    suspendTimeoutMillis: '0',
    subscription: '*',
    expressionType: 'TAG',
  });
}

test('a replica serves stored messages but sends pulls past its end (or before its start) to the leader', async (t) => {
  const mini = startMiniBroker();
  t.after(() => mini.close());
  await mini.ctx.topics.ensure(TOPIC, 1);
  const r = await mini.raft.proposeMessages([0, 1, 2].map((i) => messageDraft(mini, TOPIC, 0, `m${i}`)));
  await mini.raft.waitApplied(r.index);
  const pulls = new PullService(mini.ctx);

  const asLeader = await pulls.handle(pull(10));
  assert.equal(asLeader.code, ResponseCode.PULL_OFFSET_MOVED, 'the leader tells the consumer its offset is past the end');
  assert.equal(asLeader.extFields?.['maxOffset'], '3');

  mini.raft.isReadyLeader = false;
  const found = await pulls.handle(pull(1));
  assert.equal(found.code, ResponseCode.SUCCESS, 'what the replica stores it serves');
  assert.equal(found.extFields?.['nextBeginOffset'], '3');
  for (const offset of [3, 10]) {
    const refused = await pulls.handle(pull(offset));
    assert.equal(refused.code, ResponseCode.SERVICE_NOT_AVAILABLE, `offset ${offset}: ${refused.code} ${refused.remark}`);
    assert.match(refused.remark ?? '', /not the leader/);
    assert.equal(refused.extFields?.['maxOffset'], undefined, 'no queue ends from a replica');
  }
});
