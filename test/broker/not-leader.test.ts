// The answer to a write a node cannot take: backpressure from the Raft core (its uncommitted-entry and -byte limits,
// under the reason strings the core really uses) or from the node's proposal queue is SYSTEM_BUSY, which producers
// retry on the same broker; not being the (ready) leader is SERVICE_NOT_AVAILABLE with the leader's address.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NotWritableError } from '../../dledger/node.js';
import { ProposeReject } from '../../dledger/core/index.js';
import { RequestCode, ResponseCode, createRequest } from '../../remoting/index.js';
import { notWritableResponse } from '../../broker/not-leader.js';
import type { BrokerContext } from '../../broker/context.js';

function fakeContext(refusal: string | null, leader: string | null): BrokerContext {
  return {
    config: { brokerName: 'broker-a' },
    brokerAddr: '127.0.0.1:10911',
    raft: { writeRefusal: () => refusal },
    leaderBrokerAddr: () => leader,
  } as unknown as BrokerContext;
}

test('the core reports backpressure as uncommittedEntriesFull / uncommittedBytesFull', () => {
  assert.equal(ProposeReject.UncommittedEntriesFull, 'uncommittedEntriesFull');
  assert.equal(ProposeReject.UncommittedBytesFull, 'uncommittedBytesFull');
});

test('backpressure is SYSTEM_BUSY, whether it comes with the error or from writeRefusal()', () => {
  for (const reason of ['uncommittedEntriesFull', 'uncommittedBytesFull', 'busy']) {
    const request = createRequest(RequestCode.SEND_MESSAGE);
    const fromError = notWritableResponse(fakeContext(null, '127.0.0.1:10911'), request, new NotWritableError(reason, 'n0'));
    assert.equal(fromError.code, ResponseCode.SYSTEM_BUSY, `${reason} (error): ${fromError.remark}`);
    assert.match(fromError.remark ?? '', new RegExp(`busy \\(${reason}\\)`));
    const fromNode = notWritableResponse(fakeContext(reason, '127.0.0.1:10911'), request);
    assert.equal(fromNode.code, ResponseCode.SYSTEM_BUSY, `${reason} (writeRefusal): ${fromNode.remark}`);
  }
});

test('not the leader is SERVICE_NOT_AVAILABLE with the leader address; other refusals too', () => {
  const request = createRequest(RequestCode.SEND_MESSAGE);
  const r = notWritableResponse(fakeContext('notLeader', '127.0.0.1:20911'), request);
  assert.equal(r.code, ResponseCode.SERVICE_NOT_AVAILABLE);
  assert.equal(r.extFields?.leaderAddr, '127.0.0.1:20911');
  for (const reason of ['noLeader', 'leaderNotReady', 'transferring', 'noopPending', 'shuttingDown']) {
    assert.equal(notWritableResponse(fakeContext(reason, null), request).code, ResponseCode.SERVICE_NOT_AVAILABLE, reason);
  }
});
