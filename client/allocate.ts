// Queue allocation among the consumers of a group: RocketMQ's AllocateMessageQueueAveragely. Queues and
// consumer ids are sorted (Java order), each consumer gets a contiguous block, and the first
// `queues % consumers` consumers get one extra. Every member computes the same table independently.
import { compareQueues, type MessageQueue } from './route.js';

/** Java String.compareTo order (UTF-16 code units), which is also JavaScript's default sort. */
function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The queues `me` owns. Empty when `me` is not among `consumerIds` (the broker has not seen its
 * heartbeat yet) or there are more consumers than queues and `me` sorts past the last queue.
 */
export function allocateAveragely(me: string, consumerIds: readonly string[], queues: readonly MessageQueue[]): MessageQueue[] {
  const cids = [...new Set(consumerIds)].sort(compareIds);
  const mqs = [...queues].sort(compareQueues);
  const index = cids.indexOf(me);
  if (index < 0 || mqs.length === 0) return [];
  const mod = mqs.length % cids.length;
  const averageSize = mqs.length <= cids.length ? 1 : mod > 0 && index < mod ? Math.floor(mqs.length / cids.length) + 1 : Math.floor(mqs.length / cids.length);
  const startIndex = mod > 0 && index < mod ? index * averageSize : index * averageSize + mod;
  const range = Math.min(averageSize, mqs.length - startIndex);
  const out: MessageQueue[] = [];
  for (let i = 0; i < range; i++) out.push(mqs[(startIndex + i) % mqs.length]!);
  return out;
}
