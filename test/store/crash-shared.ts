// What the crash test's writer and checker agree on: store settings and the content of message `id`.
import { createHash } from 'node:crypto';
import type { MessageStoreOptions } from '../../store/message-store.js';

export function crashStoreOptions(dir: string): MessageStoreOptions {
  return {
    dir,
    segmentBytes: 1024 * 1024,
    consumeQueueEntriesPerFile: 1000,
    indexSlots: 1000,
    indexEntries: 4000,
    flushIntervalMs: 20,
    checkpointIntervalMs: 50,
    log: () => undefined,
  };
}

const TOPICS = ['crashA', 'crashB', 'crashC'];

export function messageTopic(id: string): string {
  return TOPICS[hash(id)[0]! % TOPICS.length]!;
}

export function messageQueue(id: string): number {
  return hash(id)[1]! % 4;
}

/** Deterministic body: the id, a length, then bytes derived from the id. */
export function messageBody(id: string, length: number): Buffer {
  const head = Buffer.from(`${id}|${length}|`);
  const body = Buffer.alloc(Math.max(length, head.length));
  head.copy(body);
  let block = hash(id);
  for (let at = head.length; at < body.length; at += block.length) {
    block.copy(body, at, 0, Math.min(block.length, body.length - at));
    block = createHash('sha256').update(block).digest();
  }
  return body;
}

/** Returns the id a body claims, or throws if the body is not exactly what messageBody would produce. */
export function verifyBody(body: Buffer): string {
  const text = body.subarray(0, 64).toString('latin1');
  const [id, lengthText] = text.split('|');
  if (!id || !lengthText) throw new Error(`body does not start with an id: ${JSON.stringify(text.slice(0, 40))}`);
  const expected = messageBody(id, Number(lengthText));
  if (!expected.equals(body)) throw new Error(`body of ${id} is damaged`);
  return id;
}

function hash(id: string): Buffer {
  return createHash('sha256').update(id).digest();
}
