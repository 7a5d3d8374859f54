// Where a consumer's progress lives: on the brokers for clustering (QUERY/UPDATE_CONSUMER_OFFSET), in a
// local JSON file for broadcasting (every member has its own progress). Both keep the latest offsets
// in memory and write them out every persist interval, on queue release and at shutdown.
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../remoting/index.js';
import type { BrokerApi } from './broker-api.js';
import { ClientError, ClientErrorCode, errorText } from './errors.js';
import { ASSIGNED_QUEUES_MAX } from './limits.js';
import type { RouteCache } from './route-cache.js';
import { queueKey, type MessageQueue } from './route.js';

export interface OffsetStore {
  load(): Promise<void>;
  /** The stored offset of `queue` (broker or file), or -1 when there is none. */
  readStored(queue: MessageQueue): Promise<number>;
  /** The latest offset recorded in memory, if any. */
  readMemory(queue: MessageQueue): number | undefined;
  /** Records progress in memory; written out by the next persist. */
  update(queue: MessageQueue, offset: number): void;
  /** Writes out one queue's offset now. */
  persist(queue: MessageQueue): Promise<void>;
  /** Writes out every changed offset. */
  persistAll(): Promise<void>;
  /** Forgets a released queue (after persisting it). */
  remove(queue: MessageQueue): void;
}

interface Entry {
  queue: MessageQueue;
  offset: number;
  /** Offset last written out successfully (-1: never). */
  persisted: number;
}

function boundedSet(table: Map<string, Entry>, queue: MessageQueue, offset: number): Entry {
  const key = queueKey(queue);
  let entry = table.get(key);
  if (entry === undefined) {
    if (table.size >= ASSIGNED_QUEUES_MAX) throw new ClientError(`more than ${ASSIGNED_QUEUES_MAX} queues tracked`, ClientErrorCode.BUSY, false);
    entry = { queue: { ...queue }, offset, persisted: -1 };
    table.set(key, entry);
  } else {
    entry.offset = offset;
  }
  return entry;
}

export class RemoteOffsetStore implements OffsetStore {
  private readonly table = new Map<string, Entry>();

  constructor(
    private readonly broker: BrokerApi,
    private readonly routes: RouteCache,
    private readonly group: string,
    private readonly logger: Logger,
  ) {}

  async load(): Promise<void> {}

  private master(queue: MessageQueue): string {
    const address = this.routes.masterOf(queue.brokerName);
    if (address === undefined) throw new ClientError(`broker group ${queue.brokerName} has no master right now`, ClientErrorCode.NO_ROUTE, true);
    return address;
  }

  async readStored(queue: MessageQueue): Promise<number> {
    return this.broker.queryConsumerOffset(this.master(queue), this.group, queue);
  }

  readMemory(queue: MessageQueue): number | undefined {
    return this.table.get(queueKey(queue))?.offset;
  }

  update(queue: MessageQueue, offset: number): void {
    boundedSet(this.table, queue, offset);
  }

  async persist(queue: MessageQueue): Promise<void> {
    const entry = this.table.get(queueKey(queue));
    if (entry === undefined || entry.offset < 0 || entry.offset === entry.persisted) return;
    const offset = entry.offset;
    await this.broker.updateConsumerOffset(this.master(queue), this.group, queue, offset);
    entry.persisted = offset;
  }

  async persistAll(): Promise<void> {
    await Promise.all(
      [...this.table.values()].map((entry) =>
        this.persist(entry.queue).catch((error) =>
          this.logger.warn(`consumer ${this.group}: committing offset ${entry.offset} of ${queueKey(entry.queue)} failed: ${errorText(error)}`),
        ),
      ),
    );
  }

  remove(queue: MessageQueue): void {
    this.table.delete(queueKey(queue));
  }
}

interface OffsetFile {
  group: string;
  offsets: Array<{ topic: string; brokerName: string; queueId: number; offset: number }>;
}

/** Broadcasting progress in `<dir>/<group>.offsets.json`, replaced atomically (write, fsync, rename). */
export class LocalOffsetStore implements OffsetStore {
  private readonly table = new Map<string, Entry>();
  readonly file: string;
  private dirty = false;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    dir: string,
    private readonly group: string,
    private readonly logger: Logger,
  ) {
    this.file = path.join(dir, `${group}.offsets.json`);
  }

  async load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    try {
      const parsed = JSON.parse(text) as OffsetFile;
      for (const o of parsed.offsets ?? []) {
        if (typeof o.topic !== 'string' || typeof o.brokerName !== 'string' || !Number.isSafeInteger(o.queueId) || !Number.isSafeInteger(o.offset)) continue;
        const entry = boundedSet(this.table, { topic: o.topic, brokerName: o.brokerName, queueId: o.queueId }, o.offset);
        entry.persisted = o.offset;
      }
    } catch (error) {
      // A damaged file must not stop the consumer: it falls back to consumeFromWhere, as on a first start.
      this.logger.warn(`consumer ${this.group}: ignoring unreadable offset file ${this.file}: ${errorText(error)}`);
    }
  }

  async readStored(queue: MessageQueue): Promise<number> {
    return this.table.get(queueKey(queue))?.offset ?? -1;
  }

  readMemory(queue: MessageQueue): number | undefined {
    return this.table.get(queueKey(queue))?.offset;
  }

  update(queue: MessageQueue, offset: number): void {
    const entry = boundedSet(this.table, queue, offset);
    if (entry.persisted !== offset) this.dirty = true;
  }

  persist(): Promise<void> {
    return this.persistAll();
  }

  /** Writes are serialized so two persists never race on the temp file. */
  persistAll(): Promise<void> {
    this.writing = this.writing.then(() => this.writeFile());
    return this.writing;
  }

  /** Broadcasting keeps every queue's progress: a queue that leaves the route for a while resumes where it was. */
  remove(): void {}

  private async writeFile(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    const entries = [...this.table.values()];
    const body: OffsetFile = {
      group: this.group,
      offsets: entries.map((e) => ({ topic: e.queue.topic, brokerName: e.queue.brokerName, queueId: e.queue.queueId, offset: e.offset })),
    };
    const tmp = `${this.file}.${process.pid}.tmp`;
    try {
      await mkdir(path.dirname(this.file), { recursive: true });
      const handle = await open(tmp, 'w');
      try {
        await handle.writeFile(JSON.stringify(body, null, 1));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, this.file);
      for (let i = 0; i < entries.length; i++) entries[i]!.persisted = body.offsets[i]!.offset;
    } catch (error) {
      this.dirty = true;
      await rm(tmp, { force: true }).catch(() => undefined);
      this.logger.warn(`consumer ${this.group}: writing offsets to ${this.file} failed: ${errorText(error)}`);
    }
  }
}
