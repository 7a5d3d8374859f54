// In-process Raft groups for driver tests: RaftNode + MessageStore per node on loopback ports, with a small
// owner that plays the broker's part: it applies STATE entries (numbers, summed), saves `state.json` with the
// applied index and membership base, ships it with segment installs and adopts it from them. Nodes can be
// stopped, crashed (nothing more is written) and restarted; a restart goes through recoverInstall like the broker.
import fs from 'node:fs';
import path from 'node:path';
import { MessageStore, type MessageStoreOptions } from '../../store/message-store.js';
import { EntryType } from '../../store/record.js';
import { FlushMode } from '../../store/flush-service.js';
import { RaftNode, raftDir, recoverInstall, type MembershipBase } from '../../dledger/node.js';
import { readJsonFile, writeJsonFileAtomic } from '../../store/atomic-file.js';
import { Role, type Message } from '../../dledger/core/index.js';
import { formatMessage } from '../../dledger/core/trace.js';
import { freePorts } from '../harness/cluster.js';
import { draft } from '../helpers/messages.js';
import { tempDir } from '../helpers/tmp.js';

export interface OwnerState {
  appliedIndex: number;
  sum: number;
  membership?: MembershipBase;
}

export interface GroupOptions {
  flushMode?: FlushMode;
  store?: Partial<MessageStoreOptions>;
  tickMs?: number;
  electionTicks?: number;
}

export class TestNode {
  store!: MessageStore;
  node!: RaftNode;
  owner: OwnerState = { appliedIndex: 0, sum: 0 };
  savedIndex = 0;
  readonly logs: string[] = [];
  /** Set by a test to make the next installState call throw (a crash in the middle of an install). */
  failNextInstallState = false;
  /**
   * Ship the last saved state with installs instead of the current one: a consistent but older snapshot, as a
   * broker whose dispatching lags its commit index sends (its applied index is below the install index).
   */
  shipSavedState = false;
  private lastSaved: OwnerState = { appliedIndex: 0, sum: 0 };
  fatal: Error | null = null;
  running = false;

  constructor(
    readonly id: string,
    readonly dir: string,
    readonly peers: Map<string, string>,
    private readonly options: GroupOptions,
    /** Whether node `id` of the group is running (messages to others are dropped). */
    private readonly isRunning: (id: string) => boolean,
  ) {}

  get port(): number {
    return Number(this.peers.get(this.id)!.split(':')[1]);
  }

  private get stateFile(): string {
    return path.join(this.dir, 'state.json');
  }

  /** The owner's snapshot, as the broker's saveSnapshot: the log first, then state.json. */
  saveState(membership?: MembershipBase): void {
    this.store.commitLog.flushSync();
    const state: OwnerState = { ...this.owner, membership: membership ?? this.node.membershipBaseAt(this.owner.appliedIndex) };
    writeJsonFileAtomic(this.stateFile, state);
    this.savedIndex = state.appliedIndex;
    this.lastSaved = { appliedIndex: state.appliedIndex, sum: state.sum };
  }

  private adopt(buf: Buffer, membership: MembershipBase): void {
    if (this.failNextInstallState) {
      this.failNextInstallState = false;
      throw new Error('test: crash while adopting the installed state');
    }
    const shipped = JSON.parse(buf.toString('utf8')) as OwnerState;
    this.owner = { appliedIndex: shipped.appliedIndex, sum: shipped.sum };
    writeJsonFileAtomic(this.stateFile, { ...this.owner, membership } satisfies OwnerState);
    this.savedIndex = this.owner.appliedIndex;
    this.lastSaved = { ...this.owner };
  }

  async start(): Promise<void> {
    const storeDir = path.join(this.dir, 'store');
    recoverInstall({ raftDir: raftDir(this.dir), storeDir, installState: (buf, m) => this.adopt(buf, m), log: (m) => this.logs.push(m) });
    const saved = readJsonFile<OwnerState>(this.stateFile);
    this.owner = { appliedIndex: saved?.appliedIndex ?? 0, sum: saved?.sum ?? 0 };
    this.savedIndex = this.owner.appliedIndex;
    this.lastSaved = { ...this.owner };
    this.store = MessageStore.open({
      dir: storeDir,
      segmentBytes: 64 * 1024,
      consumeQueueEntriesPerFile: 100,
      indexEnabled: false,
      preallocateAhead: false,
      flushMode: this.options.flushMode ?? FlushMode.ASYNC,
      retentionMs: 1,
      retentionIntervalMs: 3_600_000, // tests run retention themselves
      checkpointIntervalMs: 3_600_000, // ... and a restart never finds a checkpoint newer than the test wants
      replayFrom: this.owner.appliedIndex,
      retentionFloor: () => this.savedIndex,
      log: (m) => this.logs.push(`[store] ${m}`),
      hooks: {
        onApply: (entry) => {
          if (entry.type !== EntryType.STATE || entry.index <= this.owner.appliedIndex) return;
          this.owner.sum += Number(entry.payload.toString('utf8'));
          this.owner.appliedIndex = entry.index;
        },
        onDispatched: (index) => {
          if (index > this.owner.appliedIndex) this.owner.appliedIndex = index;
          this.node?.onApplied(index);
        },
      },
      ...this.options.store,
    });
    this.logs.push(`[harness] ${this.id} opened its store: entries ${this.store.commitLog.firstIndex}..${this.store.commitLog.lastIndex}`);
    this.node = new RaftNode({
      id: this.id,
      dir: raftDir(this.dir),
      store: this.store,
      peers: this.peers,
      host: '127.0.0.1',
      port: this.port,
      membershipBase: saved?.membership,
      appliedIndex: saved?.appliedIndex,
      snapshotState: () => Buffer.from(JSON.stringify(this.shipSavedState ? this.lastSaved : { appliedIndex: this.owner.appliedIndex, sum: this.owner.sum })),
      installState: (buf, m) => this.adopt(buf, m),
      tickMs: this.options.tickMs ?? 25,
      config: { electionTicks: this.options.electionTicks ?? 10 },
      logger: { warn: (m) => this.logs.push(m) },
    });
    this.filterSends();
    this.fatal = null;
    this.node.on('fatal', (err) => {
      this.fatal = err;
    });
    this.store.start();
    await this.node.start();
    this.running = true;
  }

  /**
   * Messages to a stopped node are lost, as they are when a peer stays down longer than the transport waits for
   * a connection (a few seconds). Without this, appends sent during a short outage wait for the reconnect and
   * arrive after the restart, and a follower meant to miss entries would not. LEDGERMQ_HARNESS_TRACE=1 adds
   * every Raft message this node sends to its log lines.
   */
  private filterSends(): void {
    const transport = this.node.transport;
    const send = transport.send.bind(transport);
    const trace = process.env.LEDGERMQ_HARNESS_TRACE === '1';
    transport.send = (m: Message) => {
      if (!this.isRunning(m.to)) return;
      if (trace) this.logs.push(`[trace] ${formatMessage(m)}`);
      send(m);
    };
  }

  /** Graceful stop: like the broker's close (state saved after the log is flushed). */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    await this.node.close();
    if (!this.fatal) this.saveState();
    await this.store.close();
  }

  /** Like kill -9 (the page cache survives): nothing more is written. */
  async crash(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    await this.node.close();
    this.store.abandon();
  }

  get isReadyLeader(): boolean {
    return this.running && this.node.isReadyLeader;
  }
}

export class TestGroup {
  readonly nodes: TestNode[] = [];

  private constructor(readonly root: string) {}

  static async start(ids: string[], options: GroupOptions = {}): Promise<TestGroup> {
    const group = new TestGroup(tempDir('ledgermq-raft-'));
    const ports = await freePorts(ids.length);
    const peers = new Map(ids.map((id, i) => [id, `127.0.0.1:${ports[i]}`]));
    for (const id of ids) group.nodes.push(new TestNode(id, path.join(group.root, id), peers, options, (to) => group.nodes.some((n) => n.id === to && n.running)));
    try {
      await Promise.all(group.nodes.map((n) => n.start()));
    } catch (err) {
      await group.close();
      throw err;
    }
    return group;
  }

  node(id: string): TestNode {
    const n = this.nodes.find((x) => x.id === id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  async waitForLeader(timeoutMs = 10_000, excluding: string[] = []): Promise<TestNode> {
    let leader: TestNode | undefined;
    await waitFor(() => (leader = this.nodes.find((n) => n.isReadyLeader && !excluding.includes(n.id))) !== undefined, timeoutMs, 'a ready leader');
    return leader!;
  }

  followers(leader: TestNode): TestNode[] {
    return this.nodes.filter((n) => n !== leader);
  }

  /** Waits until every running node applied everything the leader committed. */
  async waitCaughtUp(leader: TestNode, timeoutMs = 10_000): Promise<void> {
    const commit = leader.node.core.commitIndex;
    await waitFor(() => this.nodes.every((n) => !n.running || n.node.appliedIndex >= commit), timeoutMs, `every node applying entry ${commit}`);
  }

  async close(): Promise<void> {
    for (const n of this.nodes) await n.crash().catch(() => undefined);
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

export async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Writes `count` STATE entries of value `value` and `messages` messages of `bodyBytes` to topic/queue. */
export async function writeSome(leader: TestNode, opts: { states?: number; value?: number; topic?: string; queueId?: number; messages?: number; bodyBytes?: number }): Promise<void> {
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < (opts.states ?? 0); i++) pending.push(leader.node.proposeEntry(EntryType.STATE, Buffer.from(String(opts.value ?? 1))));
  const body = Buffer.alloc(opts.bodyBytes ?? 100, 7);
  for (let i = 0; i < (opts.messages ?? 0); i++) pending.push(leader.node.proposeMessages([draft(opts.topic ?? 'T', opts.queueId ?? 0, body)]));
  await Promise.all(pending);
}

export { Role };
