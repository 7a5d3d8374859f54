// Small metadata files written atomically: write a temporary file, fsync it, rename it over the old one,
// fsync the directory. A crash leaves either the old or the new content, never a mix.
//
// Every write uses its own temporary name, so a synchronous write (shutdown, segment install) and an
// asynchronous one (periodic snapshot) of the same file never share a half-written temporary file. The rename of
// an asynchronous write runs on the event loop, after `shouldCommit` agreed: writers of one file are ordered by
// the moment they rename, and a writer that was overtaken by a newer one can still back out.
import fs from 'node:fs';
import path from 'node:path';

const TMP_SUFFIX = '.tmp';
let tmpSeq = 0;

function tmpPathFor(filePath: string): string {
  return `${filePath}.${process.pid}-${++tmpSeq}${TMP_SUFFIX}`;
}

export function writeFileAtomic(filePath: string, data: Buffer | string): void {
  const tmp = tmpPathFor(filePath);
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, filePath);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  syncDirectory(path.dirname(filePath));
}

/**
 * As writeFileAtomic, off the event loop (periodic checkpoints must not stall request handling on an fsync).
 * `shouldCommit` is asked right before the rename; when it says no, the file is left as it is and the result is
 * false.
 */
export async function writeFileAtomicAsync(filePath: string, data: Buffer | string, shouldCommit: () => boolean = () => true): Promise<boolean> {
  const tmp = tmpPathFor(filePath);
  try {
    const handle = await fs.promises.open(tmp, 'w');
    try {
      await handle.writeFile(typeof data === 'string' ? Buffer.from(data) : data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (!shouldCommit()) {
      fs.rmSync(tmp, { force: true });
      return false;
    }
    // Synchronous, so no other writer of this file can rename between the check and this rename.
    fs.renameSync(tmp, filePath);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  const dir = await fs.promises.open(path.dirname(filePath), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
  return true;
}

/** Removes temporary files of `filePath` left by a crash (call at startup, before any writer runs). */
export function removeStaleTemps(filePath: string): void {
  const dir = path.dirname(filePath);
  const prefix = `${path.basename(filePath)}.`;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) if (name.startsWith(prefix) && name.endsWith(TMP_SUFFIX)) fs.rmSync(path.join(dir, name), { force: true });
}

export function syncDirectory(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export function writeJsonFileAtomic(filePath: string, value: unknown): void {
  writeFileAtomic(filePath, JSON.stringify(value));
}

/** Reads a JSON file; undefined when it does not exist. A file that exists but does not parse is an error. */
export function readJsonFile<T>(filePath: string): T | undefined {
  let text: string;
  try {
    text = fs.readFileSync(filePath, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new Error(`${filePath} is not valid JSON: ${(err as Error).message}`);
  }
}
