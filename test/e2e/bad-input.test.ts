// End to end, real processes: a broker and a name server fed garbage (random bytes, an absurd frame length, a
// header that does not decode, unknown request codes, invalid or incomplete send requests, a body over the size
// limit). Protocol-level garbage closes that one connection; request-level mistakes get a clear error answer on
// a connection that stays usable. After every case a well-behaved client on its own connections still sends and
// receives, and both processes are still alive.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { Admin, Producer, PushConsumer } from '../../client/index.js';
import { encodeSendHeaderV2 } from '../../client/send-header.js';
import { encodeProperties, Prop } from '../../common/properties.js';
import { FRAME_BYTES_MAX, HEADER_BYTES_MAX } from '../../remoting/limits.js';
import { createRequest, decodeCommand, FrameDecoder, RemotingClient, RequestCode, ResponseCode, SerializeType, type ExtFields, type RemotingCommand } from '../../remoting/index.js';
import { cleanupStack, Collector, recordingLogger, startCluster, waitUntil } from './helpers.js';

const TOPIC = 'E2E_BAD_INPUT';
const MiB = 1024 * 1024;

interface RawOutcome {
  /** The peer closed the connection (within the wait). */
  closedByPeer: boolean;
  afterMs: number;
  /** Responses decoded from what the peer sent back. */
  responses: RemotingCommand[];
  bytesReceived: number;
}

/** Writes `bytes` on a fresh socket and watches for `waitMs`: did the peer answer, close, or just wait? */
function rawExchange(addr: string, bytes: Buffer, waitMs: number, untilResponses = Infinity): Promise<RawOutcome> {
  const at = addr.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect({ host: addr.slice(0, at), port: Number(addr.slice(at + 1)) });
    const decoder = new FrameDecoder();
    const responses: RemotingCommand[] = [];
    let bytesReceived = 0;
    let done = false;
    const finish = (closedByPeer: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ closedByPeer, afterMs: Date.now() - started, responses, bytesReceived });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    socket.on('data', (chunk: Buffer) => {
      bytesReceived += chunk.length;
      for (const frame of decoder.push(chunk)) responses.push(decodeCommand(frame));
      if (responses.length >= untilResponses) finish(false);
    });
    socket.on('close', () => finish(true));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // A reset while we are still writing is the peer cutting us off.
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') finish(true);
      else if (!done) {
        done = true;
        clearTimeout(timer);
        reject(err);
      }
    });
    socket.on('connect', () => socket.write(bytes));
  });
}

/** A frame with a raw header: serialize type byte, then the given header bytes and body. */
function rawFrame(serializeType: number, header: Buffer, body = Buffer.alloc(0)): Buffer {
  const prefix = Buffer.alloc(8);
  prefix.writeInt32BE(4 + header.length + body.length, 0);
  prefix.writeUInt32BE(((serializeType << 24) | header.length) >>> 0, 4);
  return Buffer.concat([prefix, header, body]);
}

function jsonFrame(header: object, body = Buffer.alloc(0)): Buffer {
  return rawFrame(0, Buffer.from(JSON.stringify(header)), body);
}

/** Deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Whether the frame decoder may legitimately keep waiting for more of a frame these bytes start. */
function prefixLooksValid(bytes: Buffer): boolean {
  const total = bytes.readInt32BE(0);
  if (total < 4 || total > FRAME_BYTES_MAX - 4) return false;
  const word = bytes.readUInt32BE(4);
  const type = word >>> 24;
  const headerBytes = word & 0xffffff;
  return (type === 0 || type === 1) && headerBytes <= total - 4 && headerBytes <= HEADER_BYTES_MAX && total + 4 > bytes.length;
}

function sendHeader(topic: string, overrides: Partial<Record<string, string | undefined>> = {}): ExtFields {
  const ext = encodeSendHeaderV2({
    producerGroup: 'e2e-raw-pg',
    topic,
    defaultTopic: 'TBW102',
    defaultTopicQueueNums: 4,
    queueId: 0,
    sysFlag: 0,
    bornTimestamp: Date.now(),
    flag: 0,
    properties: encodeProperties({ [Prop.WAIT_STORE_MSG_OK]: 'true' }),
    reconsumeTimes: 0,
    unitMode: false,
    batch: false,
  });
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete ext[k];
    else ext[k] = v;
  }
  return ext;
}

test('broker and name server survive garbage and answer bad requests clearly', { timeout: 90_000 }, async (t) => {
  const started = Date.now();
  const cleanup = cleanupStack(t);
  const cluster = await startCluster(cleanup, { nodes: 1 });
  const logger = recordingLogger();
  const namesrv = cluster.namesrvAddr;
  const broker = cluster.node('n0').addr;

  const admin = new Admin({ namesrv, logger });
  cleanup(() => admin.shutdown());
  await admin.start();
  await admin.createTopic(TOPIC, { queues: 2 });
  await waitUntil(() => admin.route(TOPIC).then(() => true, () => false), `a route for ${TOPIC}`);

  // The well-behaved client: a producer and a consumer with their own connections.
  const collector = new Collector();
  const consumer = new PushConsumer({ namesrv, group: 'e2e-bad-input-cg', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', logger });
  cleanup(() => consumer.shutdown());
  consumer.subscribe(TOPIC);
  consumer.onMessage(collector.listener('good'));
  await consumer.start();
  const producer = new Producer({ namesrv, group: 'e2e-bad-input-pg', logger });
  cleanup(() => producer.shutdown());
  await producer.start();
  const nsClient = new RemotingClient({ logger: { warn: () => undefined } });
  cleanup(() => nsClient.close());

  let checks = 0;
  const assertServing = async (after: string): Promise<void> => {
    assert(cluster.isRunning('n0'), `the broker process died after ${after}`);
    const info = await nsClient.invoke(namesrv, createRequest(RequestCode.GET_BROKER_CLUSTER_INFO), 3000);
    assert.equal(info.code, ResponseCode.SUCCESS, `the name server stopped answering after ${after}`);
    const r = await producer.send({ topic: TOPIC, body: `still-serving-${checks++}` });
    assert.equal(r.status, 'SEND_OK', `send after ${after}`);
    await waitUntil(() => collector.has(r.msgId), `the consumer to receive a message after ${after}`, 10_000);
  };
  await assertServing('start');

  const targets: Array<[string, string]> = [
    ['broker', broker],
    ['name server', namesrv],
  ];

  await t.test('random bytes close the connection (unless they start a plausible frame)', async () => {
    for (const [name, addr] of targets) {
      let closed = 0;
      for (let seed = 1; seed <= 8; seed++) {
        const rand = prng(seed);
        const bytes = Buffer.alloc(4096);
        for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(rand() * 256);
        const out = await rawExchange(addr, bytes, 5_000);
        assert.equal(out.responses.length, 0, `${name} answered random bytes (seed ${seed})`);
        if (out.closedByPeer) closed++;
        else assert(prefixLooksValid(bytes), `${name} kept a connection open on random bytes that cannot start a frame (seed ${seed})`);
        await assertServing(`random bytes (seed ${seed}) to the ${name}`);
      }
      assert(closed >= 6, `${name} closed ${closed} of 8 random-byte connections`);
      // Typical garbage: an HTTP request on the remoting port ('GET ' is a 1.1 GB frame length).
      const http = await rawExchange(addr, Buffer.from('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'), 5_000);
      assert(http.closedByPeer, `${name} did not close an HTTP request`);
      assert.equal(http.bytesReceived, 0);
      await assertServing(`random bytes to the ${name}`);
    }
  });

  await t.test('a frame length of 0x7fffffff is cut off at once, before buffering', async () => {
    for (const [name, addr] of targets) {
      const prefix = Buffer.alloc(8 + 1024);
      prefix.writeInt32BE(0x7fffffff, 0);
      prefix.writeUInt32BE((1 << 24) | 100, 4);
      const out = await rawExchange(addr, prefix, 5_000);
      assert(out.closedByPeer, `${name} kept the connection open`);
      assert(out.afterMs < 3_000, `${name} took ${out.afterMs} ms to close`);
      await assertServing(`a 0x7fffffff frame length to the ${name}`);
      // Just over the 16 MiB limit: the same.
      const over = Buffer.alloc(8);
      over.writeInt32BE(FRAME_BYTES_MAX - 4 + 1, 0);
      over.writeUInt32BE(0, 4);
      assert((await rawExchange(addr, over, 5_000)).closedByPeer, `${name} accepted a frame over ${FRAME_BYTES_MAX} bytes`);
      await assertServing(`a frame over the limit to the ${name}`);
      // A negative length.
      assert((await rawExchange(addr, Buffer.from([0xff, 0xff, 0xff, 0xf0, 0, 0, 0, 0]), 5_000)).closedByPeer, `${name} accepted a negative length`);
      await assertServing(`a huge frame length to the ${name}`);
    }
  });

  await t.test('a header that does not decode closes the connection', async () => {
    for (const [name, addr] of targets) {
      const cases: Array<[string, Buffer]> = [
        ['JSON type with garbage', rawFrame(SerializeType.JSON, Buffer.from('this is {not json'))],
        ['JSON type with a JSON array', rawFrame(SerializeType.JSON, Buffer.from('[1,2,3]'))],
        ['JSON with nested extFields', jsonFrame({ code: 105, flag: 0, language: 'JAVA', opaque: 1, version: 409, extFields: { topic: { nested: true } } })],
        ['binary type with garbage', rawFrame(SerializeType.ROCKETMQ, Buffer.from('\x00\x69garbage-garbage-garbage', 'latin1'))],
        ['unknown serialize type', rawFrame(7, Buffer.from('{}'))],
        ['header longer than the frame', (() => { const b = rawFrame(0, Buffer.from('{}')); b.writeUInt32BE(1000, 4); return b; })()],
      ];
      for (const [what, bytes] of cases) {
        const out = await rawExchange(addr, bytes, 5_000);
        assert(out.closedByPeer, `${name}: ${what} did not close the connection`);
        assert.equal(out.responses.length, 0, `${name}: ${what} was answered`);
        await assertServing(`${what} to the ${name}`);
      }
      await assertServing(`undecodable headers to the ${name}`);
    }
  });

  await t.test('an unknown request code gets code 3 and the Java remark; the connection stays usable', async () => {
    for (const [name, addr] of targets) {
      const client = new RemotingClient({ logger: { warn: () => undefined } });
      try {
        const r = await client.invoke(addr, createRequest(4242), 3000);
        assert.equal(r.code, ResponseCode.REQUEST_CODE_NOT_SUPPORTED, `${name}: ${r.remark}`);
        assert.equal(r.remark, ' request type 4242 not supported');
        // JSON header on a raw socket: the answer is JSON too and has the same opaque.
        const out = await rawExchange(addr, jsonFrame({ code: 4243, flag: 0, language: 'JAVA', opaque: 77, version: 409 }), 5_000, 1);
        assert.equal(out.responses.length, 1, `${name} did not answer a JSON request with an unknown code`);
        assert.equal(out.responses[0]!.code, 3);
        assert.equal(out.responses[0]!.opaque, 77);
        assert.equal(out.responses[0]!.serializeType, SerializeType.JSON);
        assert.equal(out.responses[0]!.remark, ' request type 4243 not supported');
        const ok = await client.invoke(addr, createRequest(name === 'broker' ? RequestCode.GET_MAX_OFFSET : RequestCode.GET_BROKER_CLUSTER_INFO, name === 'broker' ? { topic: TOPIC, queueId: '0' } : null), 3000);
        assert.equal(ok.code, ResponseCode.SUCCESS, `${name}: the same connection serves a normal request afterwards (${ok.remark})`);
      } finally {
        await client.close();
      }
      await assertServing(`an unknown request code to the ${name}`);
    }
  });

  await t.test('the name server names a missing header field', async () => {
    const r = await nsClient.invoke(namesrv, createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC, {}), 3000);
    assert.notEqual(r.code, ResponseCode.SUCCESS);
    assert.match(r.remark ?? '', /\btopic\b.*required|required.*\btopic\b/, `remark: ${r.remark}`);
    await assertServing('a route request without topic');
  });

  await t.test('SEND_MESSAGE_V2 mistakes get a clear error answer', async () => {
    const client = new RemotingClient({ logger: { warn: () => undefined } });
    try {
      const send = (ext: ExtFields, body: Buffer | null = Buffer.from('x')) => client.invoke(broker, createRequest(RequestCode.SEND_MESSAGE_V2, ext, body), 10_000);

      const badName = await send(sendHeader('bad topic!'));
      assert.equal(badName.code, ResponseCode.SYSTEM_ERROR);
      assert.match(badName.remark ?? '', /topic is not valid.*bad topic!/, `remark: ${badName.remark}`);
      await assertServing('a send to an invalid topic name');

      const tooLong = await send(sendHeader('T'.repeat(200)));
      assert.equal(tooLong.code, ResponseCode.SYSTEM_ERROR);
      assert.match(tooLong.remark ?? '', /longer than 127/, `remark: ${tooLong.remark}`);
      await assertServing('a send to a too long topic name');

      for (const system of ['SCHEDULE_TOPIC_XXXX', 'RMQ_SYS_TRANS_HALF_TOPIC']) {
        const r = await send(sendHeader(system));
        assert.equal(r.code, ResponseCode.NO_PERMISSION, `${system}: ${r.remark}`);
        assert.match(r.remark ?? '', new RegExp(`${system}.*forbidden`), `remark: ${r.remark}`);
        await assertServing(`a send to ${system}`);
      }

      const huge = await send(sendHeader(TOPIC), Buffer.alloc(5 * MiB, 0x61));
      assert.equal(huge.code, ResponseCode.MESSAGE_ILLEGAL, `5 MiB body: ${huge.code} ${huge.remark}`);
      assert.match(huge.remark ?? '', /body size 5242880 exceeds the maximum of 4194304/, `remark: ${huge.remark}`);
      await assertServing('a 5 MiB body');

      const empty = await send(sendHeader(TOPIC), null);
      assert.equal(empty.code, ResponseCode.MESSAGE_ILLEGAL);
      assert.match(empty.remark ?? '', /body is empty/);

      const missing: Array<[string, RegExp]> = [
        ['b', /'b' \(topic\) is missing/],
        ['a', /'a' \(producerGroup\) is missing/],
        ['e', /'e' \(queueId\) is missing/],
      ];
      for (const [field, remark] of missing) {
        const r = await send(sendHeader(TOPIC, { [field]: undefined }));
        assert.equal(r.code, ResponseCode.SYSTEM_ERROR, `without ${field}: ${r.remark}`);
        assert.match(r.remark ?? '', remark, `without ${field}: ${r.remark}`);
        await assertServing(`a send without header field ${field}`);
      }
      const noHeader = await send({});
      assert.notEqual(noHeader.code, ResponseCode.SUCCESS);
      assert.match(noHeader.remark ?? '', /is missing/, `no header at all: ${noHeader.remark}`);

      const badInt = await send(sendHeader(TOPIC, { e: 'zero' }));
      assert.equal(badInt.code, ResponseCode.SYSTEM_ERROR);
      assert.match(badInt.remark ?? '', /'e' \(queueId\) must be an integer, got "zero"/, `remark: ${badInt.remark}`);

      const badQueue = await send(sendHeader(TOPIC, { e: '99' }));
      assert.equal(badQueue.code, ResponseCode.SYSTEM_ERROR);
      assert.match(badQueue.remark ?? '', /queueId\[99\] is illegal/, `remark: ${badQueue.remark}`);

      // After all that, the same connection still stores a good message.
      const good = await send(sendHeader(TOPIC), Buffer.from('raw-good'));
      assert.equal(good.code, ResponseCode.SUCCESS, `a good send on the same connection: ${good.remark}`);
    } finally {
      await client.close();
    }
    await assertServing('bad send requests');
  });

  // None of the rejected sends was stored: the consumer saw only the probes and the one good raw send.
  const bodies = collector.deliveries.map((d) => d.body);
  assert.deepEqual(bodies.filter((b) => !b.startsWith('still-serving-')), ['raw-good']);
  t.diagnostic(`${checks} liveness checks; total ${Date.now() - started} ms`);
});
