// Small metadata files written atomically: write a temporary file, fsync it, rename it over the old one,
// fsync the directory. A crash leaves either the old or the new content, never a mix.
import fs from 'node:fs';
import path from 'node:path';

export function writeFileAtomic(filePath: string, data: Buffer | string): void {
  const tmp = `${filePath}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, filePath);
  syncDirectory(path.dirname(filePath));
}

/** As writeFileAtomic, off the event loop (periodic checkpoints must not stall request handling on an fsync). */
export async function writeFileAtomicAsync(filePath: string, data: Buffer | string): Promise<void> {
  const tmp = `${filePath}.tmp`;
  const handle = await fs.promises.open(tmp, 'w');
  try {
    await handle.writeFile(typeof data === 'string' ? Buffer.from(data) : data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.promises.rename(tmp, filePath);
  const dir = await fs.promises.open(path.dirname(filePath), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
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
