// A real broker (in this process, loopback, free ports, its own temp dir): client properties that fit on their
// own but not with what the broker adds (UNIQ_KEY, the delay fields, the transaction fields, the retry fields of a
// send-back) are refused with MESSAGE_ILLEGAL and a clear remark; nothing is written, so nothing undecodable ever
// reaches the schedule or transaction services. Properties of exactly the maximum are stored and read back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startBroker, type BrokerHandle } from '../../broker/broker.js';
import { defaultBrokerConfig } from '../../broker/config.js';
import { PROPERTIES_BYTES_MAX } from '../../common/limits.js';
import { decodeMessage } from '../../common/message.js';
import { parseOffsetMessageId, uniqueIds } from '../../common/message-id.js';
import { encodeProperties, Prop, type Properties } from '../../common/properties.js';
import { SystemTopic } from '../../common/topic.js';
import { RemotingClient, RequestCode, ResponseCode, createRequest, type RemotingCommand } from '../../remoting/index.js';
import { freePorts } from '../harness/cluster.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const TOPIC = 'PropsLength';

/** Encoded properties of exactly `bytes` UTF-8 bytes: `base` plus a padding property. */
function propertiesOf(bytes: number, base: Properties): string {
  const without = encodeProperties(base);
  const pad = bytes - Buffer.byteLength(without) - Buffer.byteLength('PAD\u0001\u0002');
  assert.ok(pad > 0);
  const text = without + encodeProperties({ PAD: 'p'.repeat(pad) });
  assert.equal(Buffer.byteLength(text), bytes);
  return text;
}

async function startTestBroker(t: { after: (fn: () => unknown) => void }): Promise<BrokerHandle> {
  const dir = tempDir('ledgermq-props-');
  const [raftPort] = await freePorts(1);
  const broker = await startBroker(
    defaultBrokerConfig({ brokerName: 'broker-props', dataDir: dir, port: 0, raftPeers: new Map([['n0', `127.0.0.1:${raftPort}`]]), segmentBytes: 16 * 1024 * 1024 }),
    { info: () => undefined, warn: () => undefined },
  );
  t.after(async () => {
    await broker.close();
    removeDir(dir);
  });
  const deadline = Date.now() + 10_000;
  while (!broker.ctx.raft.isReadyLeader) {
    assert.ok(Date.now() < deadline, 'the broker did not become a ready leader within 10 s');
    await new Promise((r) => setTimeout(r, 20));
  }
  await broker.ctx.topics.ensure(TOPIC, 1);
  return broker;
}

test('properties that overflow with the broker\'s additions are refused with MESSAGE_ILLEGAL; nothing is written', { timeout: 30_000 }, async (t) => {
  const broker = await startTestBroker(t);
  const client = new RemotingClient({ logger: { warn: () => undefined } });
  t.after(() => client.close());
  const send = (properties: string, body = 'body'): Promise<RemotingCommand> =>
    client.invoke(
      broker.brokerAddr,
      createRequest(
        RequestCode.SEND_MESSAGE,
        { producerGroup: 'PG_props', topic: TOPIC, defaultTopicQueueNums: '1', queueId: '0', sysFlag: '0', bornTimestamp: String(Date.now()), flag: '0', properties, reconsumeTimes: '0' },
        Buffer.from(body),
      ),
      5000,
    );

  // Under the limit from the client, over it once UNIQ_KEY (42 bytes) is added.
  const noUniq = await send(propertiesOf(PROPERTIES_BYTES_MAX - 30, { [Prop.KEYS]: 'k' }));
  assert.equal(noUniq.code, ResponseCode.MESSAGE_ILLEGAL, `no UNIQ_KEY: ${noUniq.code} ${noUniq.remark}`);
  assert.match(noUniq.remark ?? '', /properties are \d+ bytes.*32767/);

  // The reported case: 32,711 bytes with a delay level became 32,782 once stored (UNIQ_KEY, REAL_TOPIC, REAL_QID).
  const reported = await send(propertiesOf(32_711, { [Prop.KEYS]: 'k', [Prop.DELAY_TIME_LEVEL]: '3' }));
  assert.equal(reported.code, ResponseCode.MESSAGE_ILLEGAL, `reported: ${reported.code} ${reported.remark}`);

  const delayed = await send(propertiesOf(PROPERTIES_BYTES_MAX - 10, { [Prop.UNIQ_KEY]: uniqueIds.next(), [Prop.DELAY_TIME_LEVEL]: '1' }));
  assert.equal(delayed.code, ResponseCode.MESSAGE_ILLEGAL, `delayed: ${delayed.code} ${delayed.remark}`);

  const half = await send(propertiesOf(PROPERTIES_BYTES_MAX - 10, { [Prop.UNIQ_KEY]: uniqueIds.next(), [Prop.TRANSACTION_PREPARED]: 'true', [Prop.PRODUCER_GROUP]: 'PG_props' }));
  assert.equal(half.code, ResponseCode.MESSAGE_ILLEGAL, `half: ${half.code} ${half.remark}`);

  // Exactly the maximum, UNIQ_KEY included: stored, and decodes with every byte.
  const full = propertiesOf(PROPERTIES_BYTES_MAX, { [Prop.UNIQ_KEY]: uniqueIds.next() });
  const ok = await send(full, 'at the limit');
  assert.equal(ok.code, ResponseCode.SUCCESS, ok.remark ?? '');
  const offset = parseOffsetMessageId(ok.extFields!.msgId!)!.commitLogOffset;
  const stored = decodeMessage(Buffer.from(broker.ctx.store.viewMessage(offset)!));
  assert.equal(stored.body.toString(), 'at the limit');
  assert.equal(stored.properties.PAD, full.slice(full.indexOf('PAD\u0001') + 4, -1));

  // Sending it back for a retry adds RETRY_TOPIC, ORIGIN_MESSAGE_ID and the delay fields: refused as well.
  const back = await client.invoke(broker.brokerAddr, createRequest(RequestCode.CONSUMER_SEND_MSG_BACK, { offset: String(offset), group: 'CG_props', delayLevel: '0', originMsgId: stored.msgId, originTopic: TOPIC }), 5000);
  assert.equal(back.code, ResponseCode.MESSAGE_ILLEGAL, `send-back: ${back.code} ${back.remark}`);
  assert.match(back.remark ?? '', /cannot send message .* back/);

  // Nothing was written for the refused ones; the broker serves on.
  for (const topic of [SystemTopic.SCHEDULE, SystemTopic.TRANS_HALF]) {
    for (let q = 0; q < 18; q++) assert.equal(broker.ctx.store.getMaxOffset(topic, q), 0, `${topic} queue ${q} is empty`);
  }
  const plain = await send(encodeProperties({ [Prop.KEYS]: 'plain' }), 'plain');
  assert.equal(plain.code, ResponseCode.SUCCESS, plain.remark ?? '');
  await broker.ctx.raft.waitApplied(broker.ctx.store.commitLog.commitIndex);
  assert.equal(broker.ctx.store.getMaxOffset(TOPIC, 0), 2, 'only the two accepted messages');
});
