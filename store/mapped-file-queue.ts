// A directory of equally sized mapped files that together form one contiguous byte space
// (commit log or consume queue). Files are named by their starting byte offset.
import fs from 'node:fs';
import path from 'node:path';
import { MappedFile, PREALLOCATING_SUFFIX, PREPARING_SUFFIX, parseSegmentFileName, type PreallocatedSegment } from './mapped-file.js';

export interface MappedFileQueueOptions {
  /** Prepare the next file in the background when a new one is taken into use. */
  preallocateAhead?: boolean;
  /** When an existing file is shorter than fileSize (cut by a crash or an operator), extend it with zeroes. */
  repairShortFiles?: boolean;
  /** Create files sparse instead of zero-filled (small derived files; see MappedFile.createSparse). */
  sparse?: boolean;
}

export class MappedFileQueue {
  readonly files: MappedFile[] = [];
  private next: Promise<PreallocatedSegment> | null = null;
  private nextBase = -1;

  constructor(
    readonly dir: string,
    readonly fileSize: number,
    private readonly options: MappedFileQueueOptions = {},
  ) {
    fs.mkdirSync(dir, { recursive: true });
  }

  /** Opens every existing file in order. Write positions are left at 0: the owner recovers them. */
  load(): void {
    const bases: number[] = [];
    for (const name of fs.readdirSync(this.dir)) {
      if (name.endsWith(PREALLOCATING_SUFFIX) || name.endsWith(PREPARING_SUFFIX)) {
        fs.rmSync(path.join(this.dir, name), { force: true });
        continue;
      }
      const base = parseSegmentFileName(name);
      if (base !== null) bases.push(base);
    }
    bases.sort((a, b) => a - b);
    for (let i = 0; i < bases.length; i++) {
      const base = bases[i]!;
      if (base % this.fileSize !== 0) throw new Error(`${this.dir}: file ${base} is not aligned to the file size ${this.fileSize}`);
      if (i > 0 && base !== bases[i - 1]! + this.fileSize) throw new Error(`${this.dir}: files ${bases[i - 1]} and ${base} are not contiguous`);
      const filePath = path.join(this.dir, String(base).padStart(20, '0'));
      if (this.options.repairShortFiles) this.extendIfShort(filePath);
      this.files.push(MappedFile.openSync(filePath, base, this.fileSize));
    }
    this.prepareFollowing();
  }

  private extendIfShort(filePath: string): void {
    const { size } = fs.statSync(filePath);
    if (size >= this.fileSize) return;
    const fd = fs.openSync(filePath, 'r+');
    try {
      const zeros = Buffer.alloc(Math.min(this.fileSize - size, 4 * 1024 * 1024));
      for (let at = size; at < this.fileSize; at += zeros.length) fs.writeSync(fd, zeros, 0, Math.min(zeros.length, this.fileSize - at), at);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  get isEmpty(): boolean {
    return this.files.length === 0;
  }

  first(): MappedFile | undefined {
    return this.files[0];
  }

  last(): MappedFile | undefined {
    return this.files[this.files.length - 1];
  }

  /** Lowest byte offset still stored. */
  get minOffset(): number {
    return this.files[0]?.baseOffset ?? 0;
  }

  /** The file holding byte `offset`, if stored. */
  findByOffset(offset: number): MappedFile | undefined {
    const first = this.files[0];
    if (!first || offset < first.baseOffset) return undefined;
    const i = Math.floor((offset - first.baseOffset) / this.fileSize);
    return this.files[i];
  }

  indexOfFile(file: MappedFile): number {
    const first = this.files[0];
    return first ? (file.baseOffset - first.baseOffset) / this.fileSize : -1;
  }

  /** Appends a new file starting at `baseOffset` (which must follow the last file, or start an empty queue). */
  addFile(baseOffset: number): MappedFile {
    const last = this.last();
    if (last && baseOffset !== last.endOffset) throw new Error(`${this.dir}: new file ${baseOffset} does not follow ${last.baseOffset}`);
    let file: MappedFile | undefined;
    // The background allocation may still be running; only adopt it if it already finished.
    const settled = this.settledNext;
    if (settled && this.nextBase === baseOffset) file = MappedFile.adopt(settled);
    else if (settled) fs.rmSync(settled.tmpPath, { force: true });
    this.next = null;
    this.settledNext = null;
    file ??= this.options.sparse ? MappedFile.createSparse(this.dir, baseOffset, this.fileSize) : MappedFile.createSync(this.dir, baseOffset, this.fileSize);
    this.files.push(file);
    if (this.options.preallocateAhead) this.prepare(baseOffset + this.fileSize);
    return file;
  }

  private settledNext: PreallocatedSegment | null = null;

  /**
   * Makes sure the file after the current last one is being prepared. Needed whenever the end moves by other means
   * than addFile (startup, truncation): otherwise the next roll creates a whole segment synchronously, which stalls
   * the event loop for seconds on a leader (no heartbeats: an election) or a follower.
   */
  private prepareFollowing(): void {
    const last = this.last();
    if (!this.options.preallocateAhead || !last) return;
    if (this.next && this.nextBase === last.endOffset) return;
    this.prepare(last.endOffset);
  }

  private prepare(baseOffset: number): void {
    if (this.settledNext) fs.rmSync(this.settledNext.tmpPath, { force: true }); // prepared for an end that moved
    this.settledNext = null;
    this.nextBase = baseOffset;
    const pending = MappedFile.preallocate(this.dir, baseOffset, this.fileSize);
    this.next = pending;
    pending.then(
      (seg) => {
        if (this.next === pending) this.settledNext = seg;
        else fs.rmSync(seg.tmpPath, { force: true });
      },
      () => {
        // Disk full or I/O error: the synchronous path will report it when the file is really needed.
        if (this.next === pending) this.next = null;
      },
    );
  }

  /** Resolves once a background preparation of the next file (if any) has finished. */
  async whenPrepared(): Promise<void> {
    await this.next?.catch(() => undefined);
  }

  /** Removes files from the end whose base offset is >= `offset` (they are destroyed once unreferenced). */
  dropFilesFrom(offset: number): void {
    let dropped = false;
    while (this.files.length > 0 && this.last()!.baseOffset >= offset) {
      this.files.pop()!.destroy();
      dropped = true;
    }
    if (dropped) this.prepareFollowing();
  }

  /** Removes the first file (retention). */
  dropFirst(): MappedFile | undefined {
    const file = this.files.shift();
    file?.destroy();
    return file;
  }

  async flushAll(): Promise<void> {
    for (const file of this.files) if (file.writePosition > file.flushedPosition) await file.flush();
  }

  flushAllSync(): void {
    for (const file of this.files) file.flushSync();
  }

  close(): void {
    for (const file of this.files) file.close();
    this.files.length = 0;
    if (this.settledNext) fs.rmSync(this.settledNext.tmpPath, { force: true });
    this.next = null;
    this.settledNext = null;
  }

  /** Removes every file (used when a follower's log is replaced by a segment install). */
  destroyAll(): void {
    while (this.files.length > 0) this.files.pop()!.destroy();
  }
}
