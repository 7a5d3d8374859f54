// Safety checkers, fed by the simulated drivers as things happen (so every step is checked):
//  - election safety: at most one leader per term;
//  - log matching: two logs that hold an entry with the same (index, term) hold the same entry and
//    the same term before it, hence (by induction) the same entries before it;
//  - leader completeness: an entry committed in term T is in the log of every leader elected for a
//    term above T (a stale leader of an older term may still be elected late; it cannot commit);
//  - committed entries never change (nor vanish: a later leader lacking one fails the check above);
//  - state-machine safety: no two nodes apply different entries at the same index.
// And two durability invariants checked directly against the simulated disks:
//  - when a leader commits index i, entry i is of its term and durable on a majority of its voters;
//  - a granted vote, or an append response, leaves only once what it vouches for is durable.

import { quorumSize } from '../../dledger/core/quorum.js';
import type { HardState, Membership, Message, NodeId } from '../../dledger/core/types.js';
import type { LogImage, SimEntry, SimLog } from './sim-log.js';

export class SafetyViolation extends Error {
  override readonly name = 'SafetyViolation';
}

export class SafetyChecker {
  private readonly leaderOfTerm = new Map<number, NodeId>();
  private readonly entryAt = new Map<string, { id: string; previousTerm: number }>();
  private readonly committed = new Map<number, SimEntry>();
  /** The lowest term in which a node saw the entry committed: the committing leader's term. */
  private readonly committedTerm = new Map<number, number>();
  private readonly applied = new Map<number, string>();
  private committedMax = 0;
  elections = 0;

  get committedIndexMax(): number {
    return this.committedMax;
  }

  committedEntry(index: number): SimEntry | undefined {
    return this.committed.get(index);
  }

  onLeader(node: NodeId, term: number, log: SimLog): void {
    const existing = this.leaderOfTerm.get(term);
    if (existing !== undefined && existing !== node) {
      throw new SafetyViolation(`election safety: ${existing} and ${node} both lead term ${term}`);
    }
    this.leaderOfTerm.set(term, node);
    this.elections++;
    for (let index = log.firstIndex(); index <= this.committedMax; index++) {
      const committed = this.committed.get(index);
      if (committed === undefined || (this.committedTerm.get(index) as number) >= term) continue;
      const entry = log.entry(index);
      if (entry === undefined || entry.id !== committed.id) {
        throw new SafetyViolation(
          `leader completeness: new leader ${node} (term ${term}) has ${entry?.id ?? 'nothing'} at ${index}, committed ${committed.id}`,
        );
      }
    }
  }

  /** Entries fromIndex..toIndex were just written into `log` of `node`. */
  onWrite(node: NodeId, log: SimLog, fromIndex: number, toIndex: number): void {
    for (let index = fromIndex; index <= toIndex; index++) {
      const entry = log.entry(index);
      if (entry === undefined) throw new SafetyViolation(`${node}: wrote ${index} but it is not in the log`);
      const previousTerm = log.term(index - 1) as number;
      const key = `${index}:${entry.term}`;
      const known = this.entryAt.get(key);
      if (known === undefined) {
        this.entryAt.set(key, { id: entry.id, previousTerm });
      } else if (known.id !== entry.id || known.previousTerm !== previousTerm) {
        throw new SafetyViolation(
          `log matching: ${node} holds ${entry.id} at ${index}@${entry.term} after term ${previousTerm}; elsewhere ${known.id} after term ${known.previousTerm}`,
        );
      }
    }
  }

  onInstall(node: NodeId, term: number, log: SimLog, image: LogImage): void {
    if (image.entries.length === 0) return;
    this.onWrite(node, log, image.first, image.first + image.entries.length - 1);
    for (const entry of image.entries) this.checkCommitted(node, term, entry);
  }

  /** `node`, in `term`, moved its commit index from `previous` to `index`. */
  onCommit(node: NodeId, term: number, log: SimLog, previous: number, index: number): void {
    for (let i = Math.max(previous + 1, log.firstIndex()); i <= index; i++) {
      const entry = log.entry(i);
      if (entry === undefined) throw new SafetyViolation(`${node}: committed ${i} beyond its log`);
      this.checkCommitted(node, term, entry);
    }
  }

  onApply(node: NodeId, entry: SimEntry): void {
    const applied = this.applied.get(entry.index);
    if (applied === undefined) this.applied.set(entry.index, entry.id);
    else if (applied !== entry.id) {
      throw new SafetyViolation(`state-machine safety: ${node} applies ${entry.id} at ${entry.index}, another node applied ${applied}`);
    }
  }

  /** `leader` committed `index`; `durableOf` gives each node's durable (crash-surviving) log. */
  onLeaderCommit(
    leader: NodeId,
    leaderTerm: number,
    membership: Membership,
    log: SimLog,
    index: number,
    durableOf: (id: NodeId) => SimLog,
  ): void {
    const entry = log.entry(index);
    if (entry === undefined) throw new SafetyViolation(`${leader}: committed ${index} beyond its log`);
    if (entry.term !== leaderTerm) {
      // Raft 5.4.2: a leader commits by counting only entries of its own term (figure 8).
      throw new SafetyViolation(`${leader} (term ${leaderTerm}) committed ${entry.id} of term ${entry.term} by counting replicas`);
    }
    let holders = 0;
    for (const voter of membership.voters) {
      const durable = durableOf(voter);
      if (index < durable.firstIndex() || durable.entry(index)?.id === entry.id) holders++;
    }
    if (holders < quorumSize(membership.voters.length)) {
      throw new SafetyViolation(
        `durable quorum: ${leader} committed ${entry.id} at ${index} but only ${holders} of ${membership.voters.length} voters hold it durably`,
      );
    }
  }

  /**
   * `message` leaves `node` now. What it vouches for must be durable, unless the durable state has
   * already moved past it (a higher term, hence possibly a truncation by a newer leader).
   * `entryTerm` is the term of the acknowledged entry when the message was emitted.
   */
  onTransmit(node: NodeId, message: Message, entryTerm: number | undefined, durable: { log: SimLog; hardState: HardState }): void {
    const { term, votedFor } = durable.hardState;
    if (message.type === 'voteResponse' && message.granted) {
      if (term < message.term || (term === message.term && votedFor !== message.to)) {
        throw new SafetyViolation(
          `vote persistence: ${node} grants ${message.to} in term ${message.term} but its durable state is term ${term} vote ${votedFor ?? '-'}`,
        );
      }
    } else if (message.type === 'appendResponse' && message.success) {
      if (term < message.term) {
        throw new SafetyViolation(`term persistence: ${node} answers in term ${message.term}, durable term ${term}`);
      }
      const index = message.index;
      if (term > message.term || index < durable.log.firstIndex()) return;
      if (durable.log.lastIndex() < index || durable.log.term(index) !== entryTerm) {
        throw new SafetyViolation(`append persistence: ${node} acknowledges ${index} before it is durable`);
      }
    }
  }

  private checkCommitted(node: NodeId, term: number, entry: SimEntry): void {
    const committed = this.committed.get(entry.index);
    const seenTerm = this.committedTerm.get(entry.index);
    if (seenTerm === undefined || term < seenTerm) this.committedTerm.set(entry.index, term);
    if (committed === undefined) {
      this.committed.set(entry.index, entry);
      this.committedMax = Math.max(this.committedMax, entry.index);
    } else if (committed.id !== entry.id) {
      throw new SafetyViolation(`committed entry changed: ${node} has ${entry.id} at ${entry.index}, committed ${committed.id}`);
    }
  }
}
