// Consumer offset commits, batched: updates arriving within OFFSET_COMMIT_BATCH_MS become one replicated STATE
// entry, and each caller is answered once that entry is applied.
import { EntryType } from '../store/record.js';
import type { RaftNode } from '../dledger/node.js';
import { encodeStateEntry, type StateOp } from './replicated-state.js';
import { OFFSET_COMMIT_BATCH_MS } from './limits.js';

interface Pending {
  queues: Map<string, Map<number, number>>; // `${group}\u0000${topic}` -> queue -> offset
  waiters: Array<{ resolve: () => void; reject: (e: Error) => void }>;
}

export class OffsetCommitter {
  private pending: Pending | null = null;

  constructor(private readonly raft: RaftNode) {}

  commit(group: string, topic: string, queueId: number, offset: number): Promise<void> {
    if (!this.pending) {
      this.pending = { queues: new Map(), waiters: [] };
      const t = setTimeout(() => this.flush(), OFFSET_COMMIT_BATCH_MS);
      t.unref();
    }
    const key = `${group}\u0000${topic}`;
    let queues = this.pending.queues.get(key);
    if (!queues) {
      queues = new Map();
      this.pending.queues.set(key, queues);
    }
    queues.set(queueId, offset);
    return new Promise((resolve, reject) => this.pending!.waiters.push({ resolve, reject }));
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = null;
    if (!batch) return;
    const ops: StateOp[] = [];
    for (const [key, queues] of batch.queues) {
      const [group, topic] = key.split('\u0000') as [string, string];
      ops.push({ t: 'offsets', group, topic, queues: Object.fromEntries([...queues].map(([q, o]) => [String(q), o])) });
    }
    this.raft
      .proposeEntry(EntryType.STATE, encodeStateEntry(ops))
      .then((r) => this.raft.waitApplied(r.index))
      .then(
        () => batch.waiters.forEach((w) => w.resolve()),
        (err: Error) => batch.waiters.forEach((w) => w.reject(err)),
      );
  }
}
