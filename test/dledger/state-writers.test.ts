// Writers of the owner's state.json (the replicated-state snapshot that segment installs and restarts rely on):
// a synchronous save (shutdown, segment install) and the periodic asynchronous one never mix, the newer one
// wins, the asynchronous one waits for the log to be durable first, and temporary files of a crash go away.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ReplicatedState } from '../../broker/replicated-state.js';
import { writeFileAtomicAsync } from '../../store/atomic-file.js';
import { tempDir, removeDir } from '../helpers/tmp.js';

const read = (dir: string): { appliedIndex: number } => JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8')) as { appliedIndex: number };
const temps = (dir: string): string[] => fs.readdirSync(dir).filter((n) => n.endsWith('.tmp'));

test('a synchronous state save during an asynchronous one wins; the asynchronous one waits for the log', async () => {
  const dir = tempDir('state-writers-');
  try {
    const state = new ReplicatedState(dir);
    state.appliedIndex = 5;
    let logDurable!: () => void;
    const saving = state.saveSnapshotAsync(() => new Promise<void>((r) => (logDurable = r)));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(fs.existsSync(path.join(dir, 'state.json')), false, 'nothing is written before the log is durable');
    state.appliedIndex = 9; // e.g. a segment install saves what it brought
    state.saveSnapshot();
    logDurable();
    await saving;
    assert.equal(read(dir).appliedIndex, 9);
    assert.equal(state.snapshotIndex, 9);
    assert.deepEqual(temps(dir), []);

    // Both at once with nothing to wait for: still whole files, the later writer's content.
    state.appliedIndex = 12;
    const again = state.saveSnapshotAsync();
    state.appliedIndex = 13;
    state.saveSnapshot();
    await again;
    assert.equal(read(dir).appliedIndex, 13);
    assert.deepEqual(temps(dir), []);
  } finally {
    removeDir(dir);
  }
});

test('concurrent atomic writes of one file use their own temporary files; a crash leftover is removed on load', async () => {
  const dir = tempDir('state-writers-');
  try {
    const file = path.join(dir, 'state.json');
    const snap = (appliedIndex: number): string => JSON.stringify({ ...new ReplicatedState(dir).snapshot(), appliedIndex });
    await Promise.all([writeFileAtomicAsync(file, snap(1)), writeFileAtomicAsync(file, snap(2))]);
    assert.ok([1, 2].includes(read(dir).appliedIndex));
    fs.writeFileSync(`${file}.4242-7.tmp`, '{"half');
    fs.writeFileSync(`${file}.tmp`, '{"half');
    const state = new ReplicatedState(dir);
    assert.ok([1, 2].includes(state.load()));
    assert.deepEqual(temps(dir), []);
  } finally {
    removeDir(dir);
  }
});
