// Raft's persistent state { currentTerm, votedFor }, written atomically and fsynced before any vote or append
// is answered (the write is synchronous on purpose: term changes are rare and must not be reordered).
import path from 'node:path';
import { readJsonFile, writeJsonFileAtomic } from '../store/atomic-file.js';
import type { HardState } from './core/index.js';

const FILE = 'raft-hard-state.json';

export class HardStateFile {
  private current: HardState;

  constructor(private readonly dir: string) {
    const saved = readJsonFile<HardState>(path.join(dir, FILE));
    this.current = saved ?? { term: 0, votedFor: null };
  }

  get value(): HardState {
    return this.current;
  }

  save(next: HardState): void {
    if (next.term === this.current.term && next.votedFor === this.current.votedFor) return;
    // A failure here throws out of the driver: a vote that was not persisted must never be granted.
    writeJsonFileAtomic(path.join(this.dir, FILE), next);
    this.current = { term: next.term, votedFor: next.votedFor };
  }
}
