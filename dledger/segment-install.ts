// Segment install: how a follower that needs entries the leader no longer keeps (retention deleted them) is
// caught up. The leader sends, over its Raft port and in order: a `begin` chunk with the log base, the snapshot
// point and the replicated state (the effect of the deleted history), then the bytes of every retained segment up
// to the snapshot entry, straight from the mapped files, then the end of every consume queue (queues whose
// messages were all deleted are in no segment), then `end`. The follower stages all of it in a directory and
// makes it durable before answering `end`; only when its core answers the install message with
// `installSnapshot` is it adopted (see node.ts), under an install marker that lets a restart finish an
// install a crash interrupted.
import fs from 'node:fs';
import path from 'node:path';
import { createRequest, ResponseCode, createResponse, type RemotingCommand } from '../remoting/index.js';
import type { LogMeta } from '../store/commit-log.js';
import type { MappedFile } from '../store/mapped-file.js';
import { STAGED_LOG_DIR, STAGED_QUEUE_TABLE_FILE } from '../store/message-store.js';
import { readJsonFile, syncDirectory, writeJsonFileAtomic } from '../store/atomic-file.js';
import type { ConfEntry, InstallSnapshotMessage, Membership, NodeId } from './core/index.js';
import { INSTALL_CHUNK_BYTES, INSTALL_IDLE_MS, INSTALL_QUEUE_TABLE_BYTES_MAX, RAFT_INSTALL_CHUNK_CODE } from './limits.js';

const CHUNK_TIMEOUT_MS = 30_000;
/** The replicated state that came with a staged install. */
export const STAGED_STATE_FILE = 'state.bin';
const MARKER_FILE = 'install.json';
const STAGED_PREFIX = 'install-';

export interface InstallBegin {
  id: string;
  message: InstallSnapshotMessage;
  base: LogMeta;
  segmentBytes: number;
  addresses: Record<NodeId, string>;
}

export interface StagedInstall {
  begin: InstallBegin;
  dir: string;
  state: Buffer;
}

/** Leader side: streams one install to one follower. */
export async function sendInstall(
  request: (cmd: RemotingCommand) => Promise<RemotingCommand>,
  begin: InstallBegin,
  state: Buffer,
  segments: Array<{ file: MappedFile; length: number }>,
  queueTable: Buffer,
): Promise<number> {
  let bytes = 0;
  const check = (r: RemotingCommand, what: string): void => {
    if (r.code !== ResponseCode.SUCCESS) throw new Error(`install ${what} refused by ${begin.message.to}: ${r.remark}`);
  };
  check(await request(createRequest(RAFT_INSTALL_CHUNK_CODE, { k: 'begin', id: begin.id, meta: JSON.stringify(begin) }, state)), 'begin');
  for (const { file, length } of segments) {
    for (let pos = 0; pos < length; pos += INSTALL_CHUNK_BYTES) {
      const n = Math.min(INSTALL_CHUNK_BYTES, length - pos);
      const body = file.buffer.subarray(pos, pos + n);
      check(await request(createRequest(RAFT_INSTALL_CHUNK_CODE, { k: 'seg', id: begin.id, base: String(file.baseOffset), pos: String(pos) }, body)), `segment ${file.baseOffset}`);
      bytes += n;
    }
  }
  for (let pos = 0; pos < queueTable.length; pos += INSTALL_CHUNK_BYTES) {
    const body = queueTable.subarray(pos, Math.min(queueTable.length, pos + INSTALL_CHUNK_BYTES));
    check(await request(createRequest(RAFT_INSTALL_CHUNK_CODE, { k: 'queues', id: begin.id, pos: String(pos) }, body)), 'queue table');
    bytes += body.length;
  }
  check(await request(createRequest(RAFT_INSTALL_CHUNK_CODE, { k: 'end', id: begin.id })), 'end');
  return bytes;
}

export { CHUNK_TIMEOUT_MS };

/** Follower side: stages chunks of the current install; `onComplete` gets the staged install at `end`. */
export class InstallReceiver {
  private current: StagedInstall | null = null;
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly root: string,
    private readonly onComplete: (staged: StagedInstall) => void,
    private readonly log: (message: string) => void,
  ) {}

  async handle(request: RemotingCommand): Promise<RemotingCommand> {
    const e = request.extFields ?? {};
    try {
      if (e.k === 'begin') {
        this.discard();
        const begin = JSON.parse(e.meta ?? '') as InstallBegin;
        if (!/^[A-Za-z0-9_.-]+$/.test(begin.id)) throw new Error('bad install id');
        const dir = stagedDirOf(this.root, begin.id);
        fs.rmSync(dir, { recursive: true, force: true });
        fs.mkdirSync(path.join(dir, STAGED_LOG_DIR), { recursive: true });
        this.current = { begin, dir, state: Buffer.from(Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)) };
        this.touch();
        this.log(`segment install ${begin.id} from ${begin.message.from}: log base ${begin.base.baseIndex}, snapshot at ${begin.message.index}`);
        return createResponse(request, ResponseCode.SUCCESS);
      }
      const cur = this.current;
      if (!cur || cur.begin.id !== e.id) return createResponse(request, ResponseCode.SYSTEM_ERROR, `no install ${e.id} under way`);
      this.touch();
      if (e.k === 'seg') {
        const base = Number(e.base);
        const pos = Number(e.pos);
        const body = request.body;
        if (!Number.isSafeInteger(base) || base % cur.begin.segmentBytes !== 0 || !Number.isSafeInteger(pos) || !Buffer.isBuffer(body) || pos + body.length > cur.begin.segmentBytes) {
          throw new Error('malformed segment chunk');
        }
        writeAt(path.join(cur.dir, STAGED_LOG_DIR, String(base).padStart(20, '0')), body, pos);
        return createResponse(request, ResponseCode.SUCCESS);
      }
      if (e.k === 'queues') {
        const pos = Number(e.pos);
        const body = request.body;
        if (!Number.isSafeInteger(pos) || pos < 0 || !Buffer.isBuffer(body) || pos + body.length > INSTALL_QUEUE_TABLE_BYTES_MAX) throw new Error('malformed queue table chunk');
        writeAt(path.join(cur.dir, STAGED_QUEUE_TABLE_FILE), body, pos);
        return createResponse(request, ResponseCode.SUCCESS);
      }
      if (e.k === 'end') {
        this.current = null;
        this.stopTimer();
        try {
          fs.writeFileSync(path.join(cur.dir, STAGED_STATE_FILE), cur.state);
          // Durable before the leader hears `end`: the follower acknowledges the install once it adopted it,
          // and a restart after that may have to finish it from these files.
          await syncTree(cur.dir);
        } catch (err) {
          fs.rmSync(cur.dir, { recursive: true, force: true });
          throw err;
        }
        this.onComplete(cur);
        return createResponse(request, ResponseCode.SUCCESS);
      }
      throw new Error(`unknown chunk kind ${JSON.stringify(e.k)}`);
    } catch (err) {
      return createResponse(request, ResponseCode.SYSTEM_ERROR, `install chunk refused: ${(err as Error).message}`);
    }
  }

  /** A sender that went silent (leader gone) leaves nothing behind for long. */
  private touch(): void {
    this.stopTimer();
    this.idleTimer = setTimeout(() => {
      if (!this.current) return;
      this.log(`segment install ${this.current.begin.id} stalled for ${INSTALL_IDLE_MS} ms; dropped`);
      this.discard();
    }, INSTALL_IDLE_MS);
    this.idleTimer.unref();
  }

  private stopTimer(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  /** Drops a half-received install. */
  discard(): void {
    this.stopTimer();
    if (this.current) fs.rmSync(this.current.dir, { recursive: true, force: true });
    this.current = null;
  }
}

function writeAt(file: string, body: Buffer, pos: number): void {
  const fd = fs.openSync(file, pos === 0 ? 'w' : 'r+');
  try {
    fs.writeSync(fd, body, 0, body.length, pos);
  } finally {
    fs.closeSync(fd);
  }
}

/** fsyncs every file under `dir`, then the directories (off the event loop: segments can be large). */
async function syncTree(dir: string): Promise<void> {
  for (const entry of await fs.promises.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      await syncTree(full);
      continue;
    }
    const handle = await fs.promises.open(full, 'r+');
    try {
      await handle.datasync();
    } finally {
      await handle.close();
    }
  }
  syncDirectory(dir);
}

export function stagedDirOf(raftDir: string, id: string): string {
  return path.join(raftDir, `${STAGED_PREFIX}${id}`);
}

/**
 * Written (durably) before an adopted install touches the store and removed once the owner's state is saved:
 * while it exists, the staged directory of `id` holds everything needed to finish the install at startup.
 */
export interface InstallMarker {
  id: string;
  index: number;
  term: number;
  base: LogMeta;
  membership: Membership;
  addresses: Record<NodeId, string>;
}

export function writeInstallMarker(raftDir: string, marker: InstallMarker): void {
  writeJsonFileAtomic(path.join(raftDir, MARKER_FILE), marker);
}

export function readInstallMarker(raftDir: string): InstallMarker | undefined {
  return readJsonFile<InstallMarker>(path.join(raftDir, MARKER_FILE));
}

export function clearInstallMarker(raftDir: string): void {
  fs.rmSync(path.join(raftDir, MARKER_FILE), { force: true });
  syncDirectory(raftDir);
}

/** The membership base an install leaves: the configuration in effect at the snapshot entry. */
export function installedMembership(marker: Pick<InstallMarker, 'index' | 'membership' | 'addresses'>): { entry: ConfEntry; addresses: Record<NodeId, string> } {
  return { entry: { index: marker.index, membership: marker.membership }, addresses: marker.addresses };
}

/** Removes staged installs that will never be adopted (left by a crash or an abandoned transfer). */
export function removeStagedInstalls(raftDir: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(raftDir);
  } catch {
    return;
  }
  for (const name of names) if (name.startsWith(STAGED_PREFIX)) fs.rmSync(path.join(raftDir, name), { recursive: true, force: true });
}
