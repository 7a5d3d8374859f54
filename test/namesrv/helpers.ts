// Fixtures for the name-server tests: a name server on 127.0.0.1:0 and RemotingClients playing brokers and
// clients, all closed when the test ends (pass or fail), plus builders for registration requests.
import assert from 'node:assert/strict';
import net from 'node:net';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { bodyCrc } from '../../common/crc.js';
import { startNameServer, type NameServerHandle, type NameServerOptions } from '../../namesrv/index.js';
import type { NamesrvLogger } from '../../namesrv/logger.js';
import {
  createRequest,
  decodeCommand,
  FrameDecoder,
  RemotingClient,
  RequestCode,
  type ExtFields,
  type RemotingCommand,
} from '../../remoting/index.js';

export const LOOPBACK = '127.0.0.1';
/** Every socket test gets a deadline so a bug fails it instead of hanging the suite. */
export const SOCKET_TEST = { timeout: 10_000 } as const;

export interface RecordingNamesrvLogger extends NamesrvLogger {
  readonly infos: string[];
  readonly warnings: string[];
}

export function recordingLogger(): RecordingNamesrvLogger {
  const infos: string[] = [];
  const warnings: string[] = [];
  return { infos, warnings, info: (m) => void infos.push(m), warn: (m) => void warnings.push(m) };
}

export interface TestNameServer extends NameServerHandle {
  readonly logger: RecordingNamesrvLogger;
}

export async function startTestNameServer(t: TestContext, options: NameServerOptions = {}): Promise<TestNameServer> {
  const logger = recordingLogger();
  const handle = await startNameServer({ host: LOOPBACK, port: 0, defaultMetrics: false, logger, ...options });
  t.after(() => handle.close());
  return { ...handle, logger };
}

/** A client with its own connection(s): closing it is how a broker "dies". */
export function startClient(t: TestContext): RemotingClient {
  const client = new RemotingClient({ logger: { warn: () => undefined } });
  t.after(() => client.close());
  return client;
}

export interface TopicSpec {
  readQueueNums?: number;
  writeQueueNums?: number;
  perm?: number;
  topicSysFlag?: number;
}

export interface DataVersionSpec {
  timestamp: number;
  counter: number;
}

export function registerBody(topics: Record<string, TopicSpec>, dataVersion: DataVersionSpec): Buffer {
  const topicConfigTable: Record<string, object> = {};
  for (const [topic, spec] of Object.entries(topics)) {
    topicConfigTable[topic] = {
      topicName: topic,
      readQueueNums: spec.readQueueNums ?? 4,
      writeQueueNums: spec.writeQueueNums ?? 4,
      perm: spec.perm ?? 6,
      topicFilterType: 'SINGLE_TAG',
      topicSysFlag: spec.topicSysFlag ?? 0,
      order: false,
      attributes: {},
    };
  }
  return Buffer.from(JSON.stringify({ topicConfigSerializeWrapper: { topicConfigTable, dataVersion: { ...dataVersion, stateVersion: 0 } }, filterServerList: [] }));
}

export interface BrokerSpec {
  brokerName: string;
  brokerAddr: string;
  brokerId: number;
  clusterName?: string;
  topics?: Record<string, TopicSpec>;
  dataVersion?: DataVersionSpec;
  /** Extra or overriding header fields. */
  ext?: ExtFields;
  /** Header fields to leave out. */
  omit?: readonly string[];
  body?: Buffer | null;
}

export function registerRequest(spec: BrokerSpec): RemotingCommand {
  const body = spec.body !== undefined ? spec.body : registerBody(spec.topics ?? {}, spec.dataVersion ?? { timestamp: 1, counter: 1 });
  const ext: ExtFields = {
    brokerName: spec.brokerName,
    brokerAddr: spec.brokerAddr,
    clusterName: spec.clusterName ?? 'DefaultCluster',
    haServerAddr: spec.brokerAddr.replace(/:(\d+)$/, (_, port: string) => `:${Number(port) + 1}`),
    brokerId: String(spec.brokerId),
    compressed: 'false',
    bodyCrc32: String(body === null ? 0 : bodyCrc(body)),
    ...spec.ext,
  };
  for (const field of spec.omit ?? []) delete ext[field];
  return createRequest(RequestCode.REGISTER_BROKER, ext, body);
}

export async function register(client: RemotingClient, nameServer: string, spec: BrokerSpec): Promise<RemotingCommand> {
  return client.invoke(nameServer, registerRequest(spec), 3000);
}

export async function mustRegister(client: RemotingClient, nameServer: string, spec: BrokerSpec): Promise<RemotingCommand> {
  const response = await register(client, nameServer, spec);
  assert.equal(response.code, 0, `registration failed: ${response.remark}`);
  return response;
}

export function getRoute(client: RemotingClient, nameServer: string, topic: string): Promise<RemotingCommand> {
  return client.invoke(nameServer, createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic }), 3000);
}

export function bodyText(command: RemotingCommand): string {
  assert(Buffer.isBuffer(command.body), 'expected a body');
  return command.body.toString('utf8');
}

export function bodyJson(command: RemotingCommand): any {
  return JSON.parse(bodyText(command));
}

/** Polls `condition` every few ms for at most `timeoutMs`; bounded so a broken test fails instead of hanging. */
export async function eventually(condition: () => boolean | Promise<boolean>, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const stepMs = 10;
  for (let waited = 0; waited < timeoutMs; waited += stepMs) {
    if (await condition()) return;
    await sleep(stepMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** A raw socket speaking JSON frames written by hand (e.g. ali-ons' numeric extFields). */
export interface RawPeer {
  send(headerJson: string, body?: Buffer): void;
  next(timeoutMs?: number): Promise<RemotingCommand>;
}

export async function rawPeer(t: TestContext, port: number): Promise<RawPeer> {
  const socket = net.connect({ host: LOOPBACK, port });
  t.after(() => void socket.destroy());
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const received: RemotingCommand[] = [];
  const decoder = new FrameDecoder();
  socket.on('data', (chunk: Buffer) => {
    for (const frame of decoder.push(chunk)) received.push(decodeCommand(frame));
  });
  return {
    send(headerJson, body = Buffer.alloc(0)) {
      const header = Buffer.from(headerJson, 'utf8');
      const prefix = Buffer.alloc(8);
      prefix.writeInt32BE(4 + header.length + body.length, 0);
      prefix.writeInt32BE(header.length, 4); // serialize type 0 (JSON) in the top byte
      socket.write(Buffer.concat([prefix, header, body]));
    },
    async next(timeoutMs = 3000) {
      await eventually(() => received.length > 0, timeoutMs, 'a response frame');
      return received.shift()!;
    },
  };
}
