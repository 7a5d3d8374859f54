// Parsing of RegisterBrokerBody, the JSON body of REGISTER_BROKER (protocol section 5.1):
//   {"topicConfigSerializeWrapper":{"topicConfigTable":{"T":{"topicName":"T","readQueueNums":8,...}},
//                                   "dataVersion":{"timestamp":..,"counter":..,"stateVersion":0}},
//    "filterServerList":[]}
// Only what routes need is kept. fastjson writes numbers, but numeric strings are accepted too.
import { topicNameProblem } from '../common/topic.js';
import { NamesrvRequestError } from './errors.js';
import { QUEUE_NUMS_MAX, TOPICS_PER_REGISTRATION_MAX } from './limits.js';

/** A broker's topic-table version: unchanged version, unchanged table. */
export interface DataVersion {
  readonly timestamp: number;
  readonly counter: number;
  readonly stateVersion: number;
}

/** The part of a TopicConfig that becomes a route's QueueData. */
export interface TopicQueueConfig {
  readonly readQueueNums: number;
  readonly writeQueueNums: number;
  readonly perm: number;
  readonly topicSysFlag: number;
}

export interface TopicTable {
  readonly dataVersion: DataVersion;
  readonly topics: ReadonlyMap<string, TopicQueueConfig>;
}

const PERM_MAX = 0xff;
const SYS_FLAG_MAX = 0x7fff_ffff;

export function sameDataVersion(a: DataVersion, b: DataVersion): boolean {
  return a.timestamp === b.timestamp && a.counter === b.counter && a.stateVersion === b.stateVersion;
}

/** Parses a RegisterBrokerBody; throws NamesrvRequestError naming the offending field. */
export function parseRegisterBrokerBody(body: Buffer): TopicTable {
  let root: unknown;
  try {
    root = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new NamesrvRequestError(`register body is not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  const wrapper = field(expectObject(root, 'register body'), 'topicConfigSerializeWrapper', 'register body');
  const wrapperObject = expectObject(wrapper, 'topicConfigSerializeWrapper');
  const dataVersion = parseDataVersion(field(wrapperObject, 'dataVersion', 'topicConfigSerializeWrapper'));
  const table = expectObject(field(wrapperObject, 'topicConfigTable', 'topicConfigSerializeWrapper'), 'topicConfigTable');
  const entries = Object.entries(table);
  if (entries.length > TOPICS_PER_REGISTRATION_MAX) {
    throw new NamesrvRequestError(`topicConfigTable has ${entries.length} topics, more than the ${TOPICS_PER_REGISTRATION_MAX} accepted per registration`);
  }
  const topics = new Map<string, TopicQueueConfig>();
  for (const [topic, config] of entries) topics.set(topic, parseTopicConfig(topic, config));
  return { dataVersion, topics };
}

function parseDataVersion(value: unknown): DataVersion {
  const object = expectObject(value, 'dataVersion');
  return {
    timestamp: integerField(object, 'timestamp', 'dataVersion', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
    counter: integerField(object, 'counter', 'dataVersion', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
    // 5.x only; a 4.x broker leaves it out.
    stateVersion: Object.hasOwn(object, 'stateVersion')
      ? integerField(object, 'stateVersion', 'dataVersion', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)
      : 0,
  };
}

function parseTopicConfig(topic: string, value: unknown): TopicQueueConfig {
  const where = `topicConfigTable["${topic}"]`;
  const problem = topicNameProblem(topic);
  if (problem !== null) throw new NamesrvRequestError(`${where}: ${problem}`);
  const config = expectObject(value, where);
  if (Object.hasOwn(config, 'topicName') && config.topicName !== topic) {
    throw new NamesrvRequestError(`${where}.topicName is ${JSON.stringify(config.topicName)}, not the table key`);
  }
  return {
    readQueueNums: integerField(config, 'readQueueNums', where, 0, QUEUE_NUMS_MAX),
    writeQueueNums: integerField(config, 'writeQueueNums', where, 0, QUEUE_NUMS_MAX),
    perm: integerField(config, 'perm', where, 0, PERM_MAX),
    topicSysFlag: Object.hasOwn(config, 'topicSysFlag') ? integerField(config, 'topicSysFlag', where, 0, SYS_FLAG_MAX) : 0,
  };
}

function expectObject(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new NamesrvRequestError(`${where} must be a JSON object, got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

function field(object: Record<string, unknown>, name: string, where: string): unknown {
  if (!Object.hasOwn(object, name) || object[name] === null) throw new NamesrvRequestError(`${where}.${name} is missing`);
  return object[name];
}

function integerField(object: Record<string, unknown>, name: string, where: string, min: number, max: number): number {
  const raw = field(object, name, where);
  const number = typeof raw === 'number' ? raw : typeof raw === 'string' && /^[+-]?\d{1,20}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(number) || number < min || number > max) {
    throw new NamesrvRequestError(`${where}.${name} must be an integer in [${min}, ${max}], got ${describe(raw)}`);
  }
  return number;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}
