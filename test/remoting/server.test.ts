import assert from 'node:assert/strict';
import type net from 'node:net';
import { test } from 'node:test';
import { RemotingFlag, RequestCode, ResponseCode, SerializeType } from '../../remoting/codes.js';
import { createRequest, createResponse, type RemotingCommand } from '../../remoting/command.js';
import type { Connection } from '../../remoting/connection.js';
import { DecodeError } from '../../remoting/errors.js';
import { decodeCommand, encodeFrame, FrameDecoder } from '../../remoting/frame.js';
import { deferred, eventually, rawSocket, recordingLogger, SOCKET_TEST, startClient, startServer, whenClosed } from './helpers.js';

const ECHO = 1000;
const SLOW = 1001;
const FAST = 1002;

function echo(request: RemotingCommand): RemotingCommand {
  return createResponse(request, ResponseCode.SUCCESS, request.remark, request.extFields, request.body);
}

/** Collects the commands a raw socket receives. */
function receiver(socket: net.Socket): RemotingCommand[] {
  const received: RemotingCommand[] = [];
  const decoder = new FrameDecoder();
  socket.on('data', (chunk: Buffer) => {
    for (const frame of decoder.push(chunk)) received.push(decodeCommand(frame));
  });
  return received;
}

test('an unknown request code is answered with code 3 and Java\'s remark', SOCKET_TEST, async (t) => {
  const server = await startServer(t, () => undefined);
  const client = startClient(t);
  const response = await client.invoke(server.address, createRequest(777), 2000);
  assert.equal(response.code, ResponseCode.REQUEST_CODE_NOT_SUPPORTED);
  assert.equal(response.remark, ' request type 777 not supported');
  assert.equal(response.language, 'JAVA');
});

test('a processor that throws or rejects is answered with SYSTEM_ERROR carrying the message', SOCKET_TEST, async (t) => {
  const logger = recordingLogger();
  const server = await startServer(
    t,
    (s) => {
      s.registerProcessor(1, () => {
        throw new Error('sync boom');
      });
      s.registerProcessor(2, async () => {
        throw new Error('async boom');
      });
      s.registerProcessor(3, () => Promise.reject('not an Error'));
      s.registerProcessor(4, () => createResponse(createRequest(4), 70_000)); // code does not fit a short
    },
    { logger },
  );
  const client = startClient(t);
  const answers = await Promise.all([1, 2, 3, 4].map((code) => client.invoke(server.address, createRequest(code), 2000)));
  assert.deepEqual(
    answers.map((r) => [r.code, r.remark]),
    [
      [ResponseCode.SYSTEM_ERROR, 'sync boom'],
      [ResponseCode.SYSTEM_ERROR, 'async boom'],
      [ResponseCode.SYSTEM_ERROR, 'not an Error'],
      [ResponseCode.SYSTEM_ERROR, answers[3]?.remark],
    ],
  );
  assert.match(answers[3]?.remark ?? '', /short/);
  assert.equal(logger.warnings.length, 4);
  // The server is still serving.
  assert.equal((await client.invoke(server.address, createRequest(777), 2000)).code, ResponseCode.REQUEST_CODE_NOT_SUPPORTED);
});

test('registering a second processor for a code is a programmer error', SOCKET_TEST, async (t) => {
  await startServer(t, (s) => {
    s.registerProcessor(ECHO, echo);
    assert.throws(() => s.registerProcessor(ECHO, echo), assert.AssertionError);
  });
});

test('responses on one connection go out as each request completes: fast before slow', SOCKET_TEST, async (t) => {
  const slowGate = deferred<void>();
  const server = await startServer(t, (s) => {
    s.registerProcessor(SLOW, async (request) => {
      await slowGate.promise;
      return createResponse(request, ResponseCode.SUCCESS, 'slow');
    });
    s.registerProcessor(FAST, (request) => createResponse(request, ResponseCode.SUCCESS, 'fast'));
  });
  const client = startClient(t);
  const order: string[] = [];
  const slow = client.invoke(server.address, createRequest(SLOW), 2000).then((r) => order.push(r.remark ?? ''));
  const fast = client.invoke(server.address, createRequest(FAST), 2000).then((r) => order.push(r.remark ?? ''));
  await fast;
  assert.deepEqual(order, ['fast']);
  slowGate.resolve();
  await slow;
  assert.deepEqual(order, ['fast', 'slow']);
});

test('oneway requests are processed but never answered; responses mirror the request encoding', SOCKET_TEST, async (t) => {
  const seen: RemotingCommand[] = [];
  const server = await startServer(t, (s) => {
    s.registerProcessor(ECHO, (request) => {
      seen.push(request);
      return echo(request);
    });
  });
  const socket = await rawSocket(t, server.port);
  const received = receiver(socket);

  const oneway = createRequest(ECHO, { k: 'oneway' });
  oneway.flag = RemotingFlag.ONEWAY;
  oneway.serializeType = SerializeType.JSON;
  const json = createRequest(ECHO, { k: 'json' });
  json.serializeType = SerializeType.JSON;
  const binary = createRequest(ECHO, { k: 'binary' }, Buffer.from('body'));
  for (const request of [oneway, json, binary]) for (const b of encodeFrame(request)) socket.write(b);

  await eventually(() => received.length === 2 && seen.length === 3, 2000, 'two responses');
  assert.deepEqual(
    received.map((r) => [r.opaque, r.serializeType, r.extFields?.k, r.flag & RemotingFlag.RESPONSE]),
    [
      [json.opaque, SerializeType.JSON, 'json', 1],
      [binary.opaque, SerializeType.ROCKETMQ, 'binary', 1],
    ],
  );
  assert.deepEqual(received[1]?.body, Buffer.from('body'));
  // Nothing else arrives for the oneway request.
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(received.length, 2);
});

test('ali-ons style JSON request with numeric ext values gets a JSON answer with string ext values', SOCKET_TEST, async (t) => {
  const server = await startServer(t, (s) => s.registerProcessor(RequestCode.QUERY_CONSUMER_OFFSET, echo));
  const socket = await rawSocket(t, server.port);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const header = Buffer.from('{"code":14,"language":"JAVA","opaque":5,"flag":0,"version":121,"extFields":{"queueId":3,"consumerGroup":"G","k":false}}');
  const prefix = Buffer.alloc(8);
  prefix.writeInt32BE(4 + header.length, 0);
  prefix.writeInt32BE(header.length, 4);
  socket.write(Buffer.concat([prefix, header]));
  await eventually(() => Buffer.concat(chunks).length >= 8 && Buffer.concat(chunks).length >= Buffer.concat(chunks).readInt32BE(0) + 4);
  const frame = Buffer.concat(chunks);
  // ali-ons reads the header length as a plain int: type byte must be 0.
  const headerLength = frame.readInt32BE(4);
  const json = JSON.parse(frame.subarray(8, 8 + headerLength).toString()) as Record<string, unknown>;
  assert.deepEqual(json, {
    code: 0,
    extFields: { queueId: '3', consumerGroup: 'G', k: 'false' },
    flag: 1,
    language: 'JAVA',
    opaque: 5,
    version: 409,
  });
});

test('garbage, a huge length or a non-JSON header close only that connection, logged once', SOCKET_TEST, async (t) => {
  const logger = recordingLogger();
  const closes: Array<Error | null> = [];
  const server = await startServer(
    t,
    (s) => {
      s.registerProcessor(ECHO, echo);
      s.on('disconnect', (_connection: Connection, cause: Error | null) => closes.push(cause));
    },
    { logger },
  );
  const client = startClient(t);
  assert.equal((await client.invoke(server.address, createRequest(ECHO), 2000)).code, ResponseCode.SUCCESS);

  const notJson = Buffer.from('0000000c00000008', 'hex');
  const badFrames = [
    Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
    Buffer.from('7fffffff', 'hex'),
    Buffer.concat([notJson, Buffer.from('not json')]),
  ];
  for (const [i, bytes] of badFrames.entries()) {
    const socket = await rawSocket(t, server.port);
    const localPort = socket.localPort;
    const closed = whenClosed(socket);
    socket.write(bytes);
    socket.write(bytes); // more bytes after the failure are ignored, not logged again
    await closed;
    await eventually(() => logger.warnings.length === i + 1, 2000, 'one warning');
    assert.match(logger.warnings[i] ?? '', new RegExp(`127\\.0\\.0\\.1:${localPort}`));
    // The well-behaved client is still served.
    assert.equal((await client.invoke(server.address, createRequest(ECHO), 2000)).code, ResponseCode.SUCCESS);
  }
  assert.match(logger.warnings[0] ?? '', /frame-too-large/);
  assert.match(logger.warnings[1] ?? '', /frame-too-large/);
  assert.match(logger.warnings[2] ?? '', /malformed-json-header/);
  await eventually(() => closes.length === 3);
  assert.ok(closes.every((cause) => cause instanceof DecodeError));
  assert.equal(server.connectionCount, 1);
});

test('connect and disconnect events fire once per connection', SOCKET_TEST, async (t) => {
  const events: string[] = [];
  const server = await startServer(t, (s) => {
    s.on('connect', (c) => events.push(`connect ${c.id}`));
    s.on('disconnect', (c) => events.push(`disconnect ${c.id}`));
  });
  const client = startClient(t);
  const connection = await client.connect(server.address, 2000);
  await eventually(() => events.length === 1);
  await connection.close();
  await eventually(() => events.length === 2);
  const [open, close] = events;
  assert.match(open ?? '', /^connect \d+$/);
  assert.equal(close, open?.replace('connect', 'disconnect'));
});

test('close() stops listening and closes every connection; pending invokes reject', SOCKET_TEST, async (t) => {
  const gate = deferred<RemotingCommand | null>();
  const server = await startServer(t, (s) => s.registerProcessor(SLOW, () => gate.promise));
  const client = startClient(t);
  const outcome = assert.rejects(client.invoke(server.address, createRequest(SLOW), 5000), { name: 'ConnectionClosedError' });
  await eventually(() => server.connectionCount === 1);
  await new Promise((resolve) => setTimeout(resolve, 20));
  await server.close();
  await outcome;
  assert.equal(server.connectionCount, 0);
});
