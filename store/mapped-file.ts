// One preallocated, memory-mapped segment file, named by the 20-digit byte offset where it starts.
//
// Lifetime: mmap-io unmaps a mapping only when its Buffer (and every slice of it) has been garbage
// collected, so a slice handed to a reader can never point at unmapped memory. `destroy()` (retention,
// truncation) unlinks the file at once, so its name is free for a new segment at the same offset, but closes
// the descriptor only once every holder has released its reference: a reader that acquired the segment keeps
// reading the bytes it was promised from the unlinked inode. Files are never shrunk while mapped (that is what
// turns reads into SIGBUS).
import fs from 'node:fs';
import path from 'node:path';
import { mmap } from './mmap.js';
import { PREALLOCATE_CHUNK_BYTES } from './limits.js';
import { StoreError, StoreErrorCode, isDiskFullError } from './errors.js';

const ZERO_CHUNK = Buffer.alloc(PREALLOCATE_CHUNK_BYTES);
let preparations = 0;

/** Suffixes of segment files being created: synchronously, or ahead of time in the background. */
export const PREALLOCATING_SUFFIX = '.alloc';
export const PREPARING_SUFFIX = '.prealloc';

export interface PreallocatedSegment {
  tmpPath: string;
  filePath: string;
  baseOffset: number;
  size: number;
}

export function segmentFileName(baseOffset: number): string {
  return String(baseOffset).padStart(20, '0');
}

export function parseSegmentFileName(name: string): number | null {
  return /^\d{20}$/.test(name) ? Number(name) : null;
}

export class MappedFile {
  /** Next byte to write, relative to the start of this file. */
  writePosition = 0;
  /** Bytes known durable (fsynced), relative to the start of this file. */
  flushedPosition = 0;
  private refs = 1;
  private destroyRequested = false;
  private closed = false;
  private syncInFlight: Promise<void> | null = null;
  /** Bumped whenever the write position moves back, so an fsync that started before cannot vouch for what follows. */
  private rewinds = 0;
  /** A DataView over the mapping, for the hot-path codecs. */
  readonly view: DataView;

  private constructor(
    readonly filePath: string,
    readonly baseOffset: number,
    readonly size: number,
    private fd: number,
    /** The mapping. Slices of it stay valid after release (see the header comment). */
    readonly buffer: Buffer,
  ) {
    this.view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }

  get endOffset(): number {
    return this.baseOffset + this.size;
  }

  get fileName(): string {
    return path.basename(this.filePath);
  }

  /** Creates and preallocates a segment synchronously. Throws StoreError(DISK_FULL) when there is no room. */
  static createSync(dir: string, baseOffset: number, size: number): MappedFile {
    const filePath = path.join(dir, segmentFileName(baseOffset));
    const tmpPath = filePath + PREALLOCATING_SUFFIX;
    let fd = -1;
    try {
      fd = fs.openSync(tmpPath, 'w+');
      for (let at = 0; at < size; at += ZERO_CHUNK.length) {
        const n = Math.min(ZERO_CHUNK.length, size - at);
        fs.writeSync(fd, ZERO_CHUNK, 0, n, at);
      }
      fs.fdatasyncSync(fd);
      fs.renameSync(tmpPath, filePath);
    } catch (err) {
      if (fd >= 0) fs.closeSync(fd);
      fs.rmSync(tmpPath, { force: true });
      throw allocationError(filePath, err);
    }
    return MappedFile.mapFd(filePath, baseOffset, size, fd);
  }

  /**
   * Creates a file of `size` bytes without writing them (sparse), for small derived files (consume queues, index):
   * instant, where a zero-fill with fsync would stall the event loop for every new queue. Their blocks come from
   * the headroom the commit log keeps free (DERIVED_DATA_RESERVE_BYTES_DEFAULT) as entries are written.
   */
  static createSparse(dir: string, baseOffset: number, size: number): MappedFile {
    const filePath = path.join(dir, segmentFileName(baseOffset));
    const tmpPath = filePath + PREALLOCATING_SUFFIX;
    let fd = -1;
    try {
      fd = fs.openSync(tmpPath, 'w+');
      fs.ftruncateSync(fd, size);
      fs.renameSync(tmpPath, filePath);
    } catch (err) {
      if (fd >= 0) fs.closeSync(fd);
      fs.rmSync(tmpPath, { force: true });
      throw allocationError(filePath, err);
    }
    return MappedFile.mapFd(filePath, baseOffset, size, fd);
  }

  /**
   * Preallocates a segment off the event loop under a temporary name (used to prepare the next segment
   * ahead of time). `adopt` later gives it its real name and maps it; recovery deletes leftovers.
   */
  static async preallocate(dir: string, baseOffset: number, size: number): Promise<PreallocatedSegment> {
    const filePath = path.join(dir, segmentFileName(baseOffset));
    // Unique per preparation: two preparations of one offset (a truncation re-rolled into it) must not share a file.
    const tmpPath = `${filePath}.${++preparations}${PREPARING_SUFFIX}`;
    let handle: fs.promises.FileHandle | null = null;
    try {
      handle = await fs.promises.open(tmpPath, 'w+');
      for (let at = 0; at < size; at += ZERO_CHUNK.length) {
        const n = Math.min(ZERO_CHUNK.length, size - at);
        await handle.write(ZERO_CHUNK, 0, n, at);
      }
      await handle.datasync();
      await handle.close();
      handle = null;
    } catch (err) {
      await handle?.close().catch(() => undefined);
      await fs.promises.rm(tmpPath, { force: true });
      throw allocationError(filePath, err);
    }
    return { tmpPath, filePath, baseOffset, size };
  }

  static adopt(prepared: PreallocatedSegment): MappedFile {
    fs.renameSync(prepared.tmpPath, prepared.filePath);
    return MappedFile.openSync(prepared.filePath, prepared.baseOffset, prepared.size);
  }

  /** Opens an existing segment file (recovery). */
  static openSync(filePath: string, baseOffset: number, expectedSize: number): MappedFile {
    const fd = fs.openSync(filePath, 'r+');
    const { size } = fs.fstatSync(fd);
    if (size !== expectedSize) {
      fs.closeSync(fd);
      throw new Error(`segment ${filePath} is ${size} bytes, expected ${expectedSize} (was the segment size changed?)`);
    }
    return MappedFile.mapFd(filePath, baseOffset, size, fd);
  }

  private static mapFd(filePath: string, baseOffset: number, size: number, fd: number): MappedFile {
    let buffer: Buffer;
    try {
      buffer = mmap.map(size, (mmap.PROT_READ | mmap.PROT_WRITE) as 3, mmap.MAP_SHARED, fd, 0, mmap.MADV_SEQUENTIAL);
    } catch (err) {
      fs.closeSync(fd);
      throw new StoreError(StoreErrorCode.IO_ERROR, `cannot map ${filePath}: ${(err as Error).message}`, { cause: err });
    }
    return new MappedFile(filePath, baseOffset, size, fd, buffer);
  }

  get remaining(): number {
    return this.size - this.writePosition;
  }

  get isFull(): boolean {
    return this.writePosition >= this.size;
  }

  get isDestroyed(): boolean {
    return this.destroyRequested;
  }

  /** Takes a reference; returns false when the file is being destroyed (the caller must not use it). */
  acquire(): boolean {
    if (this.destroyRequested) return false;
    this.refs++;
    return true;
  }

  release(): void {
    if (this.refs <= 0) throw new Error(`release without acquire on ${this.filePath}`);
    this.refs--;
    if (this.refs === 0) this.close();
  }

  get referenceCount(): number {
    return this.refs;
  }

  /** Moves the write position back to `position` (truncation); the bytes after it no longer count as durable. */
  rewindTo(position: number): void {
    this.writePosition = position;
    if (this.flushedPosition > position) this.flushedPosition = position;
    this.rewinds++;
  }

  /** Writes everything up to the write position to disk. Only one fsync runs at a time per file. */
  async flush(): Promise<number> {
    let target = this.writePosition;
    if (target <= this.flushedPosition || this.closed) return this.flushedPosition;
    while (this.syncInFlight) await this.syncInFlight;
    if (this.closed) return this.flushedPosition;
    target = this.writePosition; // what is written now is what this fsync covers
    if (target <= this.flushedPosition) return this.flushedPosition;
    const rewinds = this.rewinds;
    const fd = this.fd;
    this.syncInFlight = new Promise<void>((resolve, reject) => {
      fs.fdatasync(fd, (err) => (err ? reject(err) : resolve()));
    });
    try {
      await this.syncInFlight;
      // A rewind meanwhile means bytes below `target` may have been rewritten after the fsync began: claim nothing.
      if (rewinds === this.rewinds && target > this.flushedPosition) this.flushedPosition = Math.min(target, this.writePosition);
    } catch (err) {
      // Closed meanwhile (deleted by retention or truncation, or shutdown): there is nothing left to make durable.
      if (this.closed) return this.flushedPosition;
      throw new StoreError(isDiskFullError(err) ? StoreErrorCode.DISK_FULL : StoreErrorCode.IO_ERROR, `fsync of ${this.filePath} failed: ${(err as Error).message}`, { cause: err });
    } finally {
      this.syncInFlight = null;
      if (this.closed && this.fd >= 0) this.closeFd();
    }
    return this.flushedPosition;
  }

  flushSync(): void {
    if (this.closed || this.writePosition <= this.flushedPosition) return;
    const target = this.writePosition;
    fs.fdatasyncSync(this.fd);
    this.flushedPosition = target;
  }

  /** Deletes the file now; the descriptor closes once the owner's and every reader's reference is released. */
  destroy(): void {
    if (this.destroyRequested) return;
    this.destroyRequested = true;
    fs.rmSync(this.filePath, { force: true });
    this.release();
  }

  /** Closes without deleting (store shutdown). An fsync in flight keeps the descriptor until it returns. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.syncInFlight) this.closeFd();
  }

  private closeFd(): void {
    fs.closeSync(this.fd);
    this.fd = -1;
  }
}

function allocationError(filePath: string, err: unknown): StoreError {
  if (isDiskFullError(err)) return new StoreError(StoreErrorCode.DISK_FULL, `disk full: cannot preallocate segment ${filePath}`, { cause: err });
  return new StoreError(StoreErrorCode.IO_ERROR, `cannot create segment ${filePath}: ${(err as Error).message}`, { cause: err });
}
