import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { RequestCode, ResponseCode, SerializeType } from '../../remoting/codes.js';
import { createRequest, createResponse, type RemotingCommand } from '../../remoting/command.js';
import {
  ConnectError,
  ConnectionClosedError,
  InflightLimitError,
  OutboundBufferFullError,
  RequestTimeoutError,
} from '../../remoting/errors.js';
import { RemotingServer } from '../../remoting/server.js';
import { eventually, LOOPBACK, recordingLogger, SOCKET_TEST, startClient, startServer, startSink } from './helpers.js';

const PARK = 2000;
const ECHO = 2001;

/** An address nobody listens on: a port the OS just handed out and took back. */
async function unusedAddress(): Promise<string> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, LOOPBACK, resolve));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  return `${LOOPBACK}:${port}`;
}

function ok(request: RemotingCommand, remark: string | null = null): RemotingCommand {
  return createResponse(request, ResponseCode.SUCCESS, remark);
}

test('an invoke times out, the late response is dropped, and the connection keeps working', SOCKET_TEST, async (t) => {
  const server = await startServer(t, (s) => {
    s.registerProcessor(PARK, async (request) => {
      await new Promise((resolve) => setTimeout(resolve, 250));
      return ok(request, 'late');
    });
    s.registerProcessor(ECHO, (request) => ok(request, 'echo'));
  });
  const logger = recordingLogger();
  const client = startClient(t, { logger });
  const started = performance.now();
  await assert.rejects(client.invoke(server.address, createRequest(PARK), 80), RequestTimeoutError);
  const elapsed = performance.now() - started;
  // Rejecting at all proves the timeout beat the 250 ms response; the bounds check it was this request's own.
  assert.ok(elapsed >= 75 && elapsed < 1000, `timed out after ${elapsed} ms`);
  await eventually(() => logger.debugs.some((m) => m.includes('dropped response')), 2000, 'late response');
  assert.equal((await client.invoke(server.address, createRequest(ECHO), 2000)).remark, 'echo');
});

test('in-flight invokes are bounded, then queue, then are refused', SOCKET_TEST, async (t) => {
  const gates: Array<() => void> = [];
  const server = await startServer(t, (s) =>
    s.registerProcessor(PARK, (request) => new Promise<RemotingCommand>((resolve) => gates.push(() => resolve(ok(request))))),
  );
  const client = startClient(t, { limits: { inflightRequestsMax: 2, invokeWaitersMax: 1 } });
  const connection = await client.connect(server.address, 2000);
  const first = [1, 2, 3].map(() => client.invoke(server.address, createRequest(PARK), 3000));
  await assert.rejects(client.invoke(server.address, createRequest(PARK), 3000), InflightLimitError);
  await eventually(() => gates.length === 2, 2000, 'two requests at the server');
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(gates.length, 2, 'the third request waits on the client');
  assert.equal(connection.pendingInvokes, 3);
  gates.shift()?.();
  await eventually(() => gates.length === 2, 2000, 'the queued request sent');
  for (const release of gates.splice(0)) release();
  const responses = await Promise.all(first);
  assert.deepEqual(responses.map((r) => r.code), [0, 0, 0]);
});

test('the server can invoke the client over the client\'s own connection', SOCKET_TEST, async (t) => {
  const server = await startServer(t, (s) =>
    s.registerProcessor(RequestCode.HEART_BEAT, async (request, ctx) => {
      const check = createRequest(RequestCode.CHECK_TRANSACTION_STATE, { msgId: 'M1' });
      ctx.connection.invokeOneway(check);
      const info = await ctx.connection.invoke(createRequest(RequestCode.GET_CONSUMER_RUNNING_INFO, { consumerGroup: 'G' }), 2000);
      return ok(request, `client said ${info.remark}`);
    }),
  );
  const client = startClient(t);
  const checks: string[] = [];
  client.registerProcessor(RequestCode.CHECK_TRANSACTION_STATE, (request) => {
    checks.push(request.extFields?.msgId ?? '');
    return ok(request, 'must not be sent for a oneway');
  });
  client.registerProcessor(RequestCode.GET_CONSUMER_RUNNING_INFO, async (request) => ok(request, `running ${request.extFields?.consumerGroup}`));
  const response = await client.invoke(server.address, createRequest(RequestCode.HEART_BEAT), 2000);
  assert.equal(response.remark, 'client said running G');
  assert.deepEqual(checks, ['M1']);
});

test('pending invokes reject with ConnectionClosedError when the connection closes', SOCKET_TEST, async (t) => {
  const server = await startServer(t, (s) => s.registerProcessor(PARK, () => new Promise(() => undefined)));
  const client = startClient(t);
  const connection = await client.connect(server.address, 2000);
  const pending = [1, 2].map(() => client.invoke(server.address, createRequest(PARK), 5000));
  await eventually(() => connection.pendingInvokes === 2);
  connection.destroy(new Error('test cut'));
  for (const p of pending) await assert.rejects(p, (e: unknown) => e instanceof ConnectionClosedError && /test cut/.test(e.message));
  await assert.rejects(connection.invoke(createRequest(PARK), 1000), ConnectionClosedError);
});

test('the client reconnects on the next use after the server restarts on the same port', SOCKET_TEST, async (t) => {
  const setup = (s: RemotingServer): void => s.registerProcessor(ECHO, (request) => ok(request, 'up'));
  const first = await startServer(t, setup);
  const port = first.port;
  const client = startClient(t);
  assert.equal((await client.invoke(first.address, createRequest(ECHO), 2000)).remark, 'up');
  await first.close();

  const second = new RemotingServer({ host: LOOPBACK, port, logger: recordingLogger() });
  t.after(() => second.close());
  setup(second);
  await second.listen();
  assert.equal((await client.invoke(second.address, createRequest(ECHO), 2000)).remark, 'up');
});

test('connect failures back off: an impatient caller fails fast, a patient one retries', SOCKET_TEST, async (t) => {
  const address = await unusedAddress();
  const client = startClient(t, { random: () => 0.999 });
  await assert.rejects(client.invoke(address, createRequest(ECHO), 1000), ConnectError);
  await assert.rejects(client.invoke(address, createRequest(ECHO), 20), /backoff/);
  // The patient caller waits out the ~100 ms backoff, then tries (and fails) again.
  const started = performance.now();
  await assert.rejects(client.invoke(address, createRequest(ECHO), 1000), /ECONNREFUSED/);
  assert.ok(performance.now() - started >= 40);
  await assert.rejects(client.invoke('no-port', createRequest(ECHO), 1000), /invalid address/);
});

test('writes issued in one tick are coalesced into few TCP segments', SOCKET_TEST, async (t) => {
  let chunks = 0;
  let bytes = 0;
  const address = await startSink(t, (socket) =>
    socket.on('data', (chunk) => {
      chunks += 1;
      bytes += chunk.length;
    }),
  );
  const client = startClient(t);
  const connection = await client.connect(address, 2000);
  for (let i = 0; i < 50; i++) connection.invokeOneway(createRequest(ECHO, { i: String(i) }));
  await eventually(() => bytes > 0 && chunks > 0, 2000, 'bytes at the sink');
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.ok(chunks <= 3, `50 frames arrived in ${chunks} chunks`);
});

test('oneways to a peer that does not read are refused once the outbound buffer is full', SOCKET_TEST, async (t) => {
  const address = await startSink(t, (socket) => socket.pause());
  const limits = { frameBytesMax: 128 * 1024, headerBytesMax: 1024, outboundBytesMax: 1024 * 1024, outboundBytesHighWater: 512 * 1024 };
  const client = startClient(t, { limits });
  const connection = await client.connect(address, 2000);
  const body = Buffer.alloc(64 * 1024);
  let refused: unknown = null;
  // Bounded: loopback kernel buffers hold a few MiB before our own buffer starts to grow.
  for (let i = 0; i < 2000 && refused === null; i++) {
    try {
      connection.invokeOneway(createRequest(ECHO, null, body));
    } catch (error) {
      refused = error;
    }
    if (i % 16 === 15) await new Promise((resolve) => setImmediate(resolve));
  }
  assert.ok(refused instanceof OutboundBufferFullError, `got ${String(refused)}`);
  connection.destroy();
});

test('a JSON-configured client gets JSON answers, and server requests to it use JSON too', SOCKET_TEST, async (t) => {
  const seenByServer: number[] = [];
  const server = await startServer(t, (s) =>
    s.registerProcessor(ECHO, async (request, ctx) => {
      seenByServer.push(request.serializeType);
      const back = await ctx.connection.invoke(createRequest(RequestCode.GET_CONSUMER_RUNNING_INFO), 2000);
      return ok(request, `client answered in ${back.serializeType}`);
    }),
  );
  const client = startClient(t, { serializeType: SerializeType.JSON });
  const seenByClient: number[] = [];
  client.registerProcessor(RequestCode.GET_CONSUMER_RUNNING_INFO, (request) => {
    seenByClient.push(request.serializeType);
    return ok(request);
  });
  const response = await client.invoke(server.address, createRequest(ECHO), 2000);
  assert.equal(response.serializeType, SerializeType.JSON);
  assert.equal(response.remark, `client answered in ${SerializeType.JSON}`);
  assert.deepEqual([seenByServer, seenByClient], [[SerializeType.JSON], [SerializeType.JSON]]);
});

test('close() cuts short a caller waiting out a reconnect backoff', SOCKET_TEST, async (t) => {
  const address = await unusedAddress();
  const client = startClient(t, { random: () => 0.999, reconnectBackoffBaseMs: 5000, reconnectBackoffMaxMs: 5000 });
  await assert.rejects(client.invoke(address, createRequest(ECHO), 1000), ConnectError);
  // Five seconds of backoff lie ahead; this caller is willing to wait them out.
  const waiting = assert.rejects(client.invoke(address, createRequest(ECHO), 8000), ConnectionClosedError);
  const started = performance.now();
  await client.close();
  await waiting;
  assert.ok(performance.now() - started < 2000);
  await assert.rejects(client.invoke(address, createRequest(ECHO), 1000), /client is closed/);
});
