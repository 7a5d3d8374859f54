// Segment install: how a follower that needs entries the leader no longer keeps (retention deleted them) is
// caught up. The leader sends, over its Raft port and in order: a `begin` chunk with the log base, the snapshot
// point and the replicated state (the effect of the deleted history), then the bytes of every retained segment up
// to the snapshot entry, straight from the mapped files, then `end`. The follower stages them in a directory;
// only when its core answers the install message with `installSnapshot` are they adopted (see node.ts).
import fs from 'node:fs';
import path from 'node:path';
import { createRequest, ResponseCode, createResponse, type RemotingCommand } from '../remoting/index.js';
import type { LogMeta } from '../store/commit-log.js';
import type { MappedFile } from '../store/mapped-file.js';
import type { InstallSnapshotMessage, NodeId } from './core/index.js';
import { INSTALL_CHUNK_BYTES, RAFT_INSTALL_CHUNK_CODE } from './limits.js';

const CHUNK_TIMEOUT_MS = 30_000;

export interface InstallBegin {
  id: string;
  message: InstallSnapshotMessage;
  base: LogMeta;
  segmentBytes: number;
  addresses: Record<NodeId, string>;
}

/** Leader side: streams one install to one follower. */
export async function sendInstall(
  request: (cmd: RemotingCommand) => Promise<RemotingCommand>,
  begin: InstallBegin,
  state: Buffer,
  segments: Array<{ file: MappedFile; length: number }>,
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
  check(await request(createRequest(RAFT_INSTALL_CHUNK_CODE, { k: 'end', id: begin.id })), 'end');
  return bytes;
}

export { CHUNK_TIMEOUT_MS };

/** Follower side: stages chunks of the current install; `onComplete` gets the staged install at `end`. */
export class InstallReceiver {
  private current: { begin: InstallBegin; dir: string; state: Buffer } | null = null;

  constructor(
    private readonly root: string,
    private readonly onComplete: (staged: { begin: InstallBegin; dir: string; state: Buffer }) => void,
    private readonly log: (message: string) => void,
  ) {}

  handle(request: RemotingCommand): RemotingCommand {
    const e = request.extFields ?? {};
    try {
      if (e.k === 'begin') {
        this.discard();
        const begin = JSON.parse(e.meta ?? '') as InstallBegin;
        if (!/^[A-Za-z0-9_.-]+$/.test(begin.id)) throw new Error('bad install id');
        const dir = path.join(this.root, `install-${begin.id}`);
        fs.rmSync(dir, { recursive: true, force: true });
        fs.mkdirSync(dir, { recursive: true });
        this.current = { begin, dir, state: Buffer.from(Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)) };
        this.log(`segment install ${begin.id} from ${begin.message.from}: log base ${begin.base.baseIndex}, snapshot at ${begin.message.index}`);
        return createResponse(request, ResponseCode.SUCCESS);
      }
      const cur = this.current;
      if (!cur || cur.begin.id !== e.id) return createResponse(request, ResponseCode.SYSTEM_ERROR, `no install ${e.id} under way`);
      if (e.k === 'seg') {
        const base = Number(e.base);
        const pos = Number(e.pos);
        const body = request.body;
        if (!Number.isSafeInteger(base) || base % cur.begin.segmentBytes !== 0 || !Number.isSafeInteger(pos) || !Buffer.isBuffer(body) || pos + body.length > cur.begin.segmentBytes) {
          throw new Error('malformed segment chunk');
        }
        const file = path.join(cur.dir, String(base).padStart(20, '0'));
        const fd = fs.openSync(file, pos === 0 ? 'w' : 'r+');
        try {
          fs.writeSync(fd, body, 0, body.length, pos);
        } finally {
          fs.closeSync(fd);
        }
        return createResponse(request, ResponseCode.SUCCESS);
      }
      if (e.k === 'end') {
        this.current = null;
        this.onComplete(cur);
        return createResponse(request, ResponseCode.SUCCESS);
      }
      throw new Error(`unknown chunk kind ${JSON.stringify(e.k)}`);
    } catch (err) {
      return createResponse(request, ResponseCode.SYSTEM_ERROR, `install chunk refused: ${(err as Error).message}`);
    }
  }

  /** Drops a half-received install. */
  discard(): void {
    if (this.current) fs.rmSync(this.current.dir, { recursive: true, force: true });
    this.current = null;
  }
}
