// Committed consumer offsets per (group, topic, queue): replicated state, changed only by applying committed
// STATE entries, so a new leader knows exactly where every group stopped.

export class ConsumerOffsetTable {
  /** `${topic}@${group}` -> queue id -> next offset to consume. */
  private readonly table = new Map<string, Map<number, number>>();

  private static key(group: string, topic: string): string {
    return `${topic}@${group}`;
  }

  get(group: string, topic: string, queueId: number): number | undefined {
    return this.table.get(ConsumerOffsetTable.key(group, topic))?.get(queueId);
  }

  /** Applies a committed update. Offsets may move backwards (a reset is a legitimate operator action). */
  set(group: string, topic: string, queueId: number, offset: number): void {
    const key = ConsumerOffsetTable.key(group, topic);
    let queues = this.table.get(key);
    if (!queues) {
      queues = new Map();
      this.table.set(key, queues);
    }
    queues.set(queueId, offset);
  }

  groupsOf(topic: string): string[] {
    const out: string[] = [];
    for (const key of this.table.keys()) {
      const at = key.lastIndexOf('@');
      if (key.slice(0, at) === topic) out.push(key.slice(at + 1));
    }
    return out;
  }

  /** Offsets of a group on a topic (queue id -> offset). */
  offsetsOf(group: string, topic: string): Map<number, number> {
    return new Map(this.table.get(ConsumerOffsetTable.key(group, topic)) ?? []);
  }

  snapshot(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const [key, queues] of this.table) out[key] = Object.fromEntries([...queues].map(([q, o]) => [String(q), o]));
    return out;
  }

  restore(data: Record<string, Record<string, number>>): void {
    this.table.clear();
    for (const [key, queues] of Object.entries(data)) this.table.set(key, new Map(Object.entries(queues).map(([q, o]) => [Number(q), o])));
  }
}
