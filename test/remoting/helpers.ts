// Shared fixtures for the remoting tests: arbitraries, a recording logger, servers and raw sockets that
// are always closed when the test ends (pass or fail).
import fc from 'fast-check';
import net from 'node:net';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { LanguageCode, SerializeType } from '../../remoting/codes.js';
import type { ExtFields, RemotingCommand } from '../../remoting/command.js';
import { RemotingClient, type RemotingClientOptions } from '../../remoting/client.js';
import type { Logger } from '../../remoting/logger.js';
import { RemotingServer, type RemotingServerOptions } from '../../remoting/server.js';

export const LOOPBACK = '127.0.0.1';

export interface RecordingLogger extends Logger {
  readonly warnings: string[];
  readonly debugs: string[];
}

export function recordingLogger(): RecordingLogger {
  const warnings: string[] = [];
  const debugs: string[] = [];
  return { warnings, debugs, warn: (m) => void warnings.push(m), debug: (m) => void debugs.push(m) };
}

/** A listening server on 127.0.0.1:0, closed after the test. */
export async function startServer(
  t: TestContext,
  setup: (server: RemotingServer) => void,
  options: RemotingServerOptions = {},
): Promise<RemotingServer> {
  const server = new RemotingServer({ host: LOOPBACK, port: 0, logger: recordingLogger(), ...options });
  setup(server);
  t.after(() => server.close());
  await server.listen();
  return server;
}

export function startClient(t: TestContext, options: RemotingClientOptions = {}): RemotingClient {
  const client = new RemotingClient({ logger: recordingLogger(), ...options });
  t.after(() => client.close());
  return client;
}

/** A raw TCP socket for sending arbitrary bytes; destroyed after the test. */
export async function rawSocket(t: TestContext, port: number): Promise<net.Socket> {
  const socket = net.connect({ host: LOOPBACK, port });
  t.after(() => void socket.destroy());
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

/** A plain TCP server for byte-level tests; its sockets are destroyed so closing never waits on a peer. */
export async function startSink(t: TestContext, onSocket: (socket: net.Socket) => void): Promise<string> {
  const sockets = new Set<net.Socket>();
  const sink = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    onSocket(socket);
  });
  await new Promise<void>((resolve) => sink.listen(0, LOOPBACK, resolve));
  t.after(async () => {
    const closed = new Promise((resolve) => sink.close(resolve));
    for (const socket of sockets) socket.destroy();
    await closed;
  });
  return `${LOOPBACK}:${(sink.address() as net.AddressInfo).port}`;
}

/** Every socket test gets a deadline so a bug fails it instead of hanging the suite. */
export const SOCKET_TEST = { timeout: 10_000 } as const;

export function whenClosed(socket: net.Socket): Promise<void> {
  return socket.destroyed && socket.closed ? Promise.resolve() : new Promise((resolve) => socket.once('close', () => resolve()));
}

/** Polls `condition` every few ms for at most `timeoutMs`; bounded so a broken test fails instead of hanging. */
export async function eventually(condition: () => boolean, timeoutMs = 2000, what = 'condition'): Promise<void> {
  const stepMs = 5;
  for (let waited = 0; waited < timeoutMs; waited += stepMs) {
    if (condition()) return;
    await sleep(stepMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** A promise plus its resolver, for processors that finish when the test says so. */
export function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

// ---- arbitraries ----------------------------------------------------------------------------------

const unicode = fc.string({ unit: 'binary', maxLength: 40 });
const int32 = fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff });
const short = fc.integer({ min: -0x8000, max: 0x7fff });

export const extFieldsArb: fc.Arbitrary<ExtFields | null> = fc.option(
  fc.dictionary(unicode, unicode, { maxKeys: 8, noNullPrototype: true }),
  { nil: null },
);

/** Header fields of a command (no body); code and version are shorts so both encodings can carry them. */
export function commandArb(serializeType: SerializeType): fc.Arbitrary<RemotingCommand> {
  return fc.record({
    code: short,
    language: fc.constantFrom(...Object.keys(LanguageCode)),
    version: short,
    opaque: int32,
    flag: int32,
    remark: fc.option(unicode, { nil: null }),
    extFields: extFieldsArb,
    body: fc.constant(null),
    serializeType: fc.constant(serializeType),
  }, { noNullPrototype: true });
}

export const anySerializeType = fc.constantFrom(SerializeType.JSON, SerializeType.ROCKETMQ);
