// Membership values, single-server changes, and the tracker of configuration entries in the log.
//
// A configuration takes effect on every node as soon as its entry is in that node's log, and is
// undone if the entry is truncated (Raft thesis 4.1). So a node's configuration depends only on its
// log, never on how much of it the node knows to be committed: a restarted node needs no durable
// commit index to know its configuration. Safety of the single-server approach needs two leader-side
// rules, both enforced by `planConfChange`: at most one configuration entry above the commit index,
// and none before the leader has committed an entry of its own term (the fix from the raft-dev list,
// 2015, for changes racing across leader changes).

import assert from 'node:assert/strict';

import { MEMBERS_MAX, NODE_ID_LENGTH_MAX } from './limits.js';
import { ConfChangeReject } from './reasons.js';
import type { ConfChange, ConfEntry, Membership, MembershipState, NodeId } from './types.js';

export function makeMembership(voters: readonly NodeId[], learners: readonly NodeId[] = []): Membership {
  const membership: Membership = { voters: [...voters].sort(), learners: [...learners].sort() };
  const reason = invalidMembership(membership);
  if (reason !== null) throw new RangeError(`invalid membership: ${reason}`);
  return membership;
}

/** Returns why a membership (e.g. decoded from a message) is unusable, or null. */
export function invalidMembership(membership: Membership): string | null {
  const { voters, learners } = membership;
  if (!Array.isArray(voters) || !Array.isArray(learners)) return 'voters and learners must be lists';
  if (voters.length === 0) return 'no voters';
  if (voters.length + learners.length > MEMBERS_MAX) return `more than ${MEMBERS_MAX} members`;
  for (const list of [voters, learners]) {
    for (let i = 0; i < list.length; i++) {
      const id = list[i];
      if (typeof id !== 'string' || id.length === 0 || id.length > NODE_ID_LENGTH_MAX) return 'bad node id';
      if (i > 0 && (list[i - 1] as string) >= id) return 'ids must be sorted and unique';
    }
  }
  for (const learner of learners) if (voters.includes(learner)) return `${learner} is both voter and learner`;
  return null;
}

export function isVoter(membership: Membership, id: NodeId): boolean {
  return membership.voters.includes(id);
}

export function isLearner(membership: Membership, id: NodeId): boolean {
  return membership.learners.includes(id);
}

export function isMember(membership: Membership, id: NodeId): boolean {
  return isVoter(membership, id) || isLearner(membership, id);
}

export function members(membership: Membership): NodeId[] {
  return [...membership.voters, ...membership.learners];
}

export function sameMembership(left: Membership, right: Membership): boolean {
  return sameList(left.voters, right.voters) && sameList(left.learners, right.learners);
}

function sameList(left: readonly NodeId[], right: readonly NodeId[]): boolean {
  return left.length === right.length && left.every((id, i) => id === right[i]);
}

/** The membership after one change, or why the change is not a valid single-server step from `membership`. */
export function applyConfChange(membership: Membership, change: ConfChange): Membership | ConfChangeReject {
  const { voters, learners } = membership;
  switch (change.type) {
    case 'addLearner':
      if (isMember(membership, change.node)) return ConfChangeReject.AlreadyMember;
      if (voters.length + learners.length >= MEMBERS_MAX) return ConfChangeReject.MembersFull;
      return makeMembership(voters, [...learners, change.node]);
    case 'promote':
      if (!isLearner(membership, change.node)) return ConfChangeReject.NotLearner;
      return makeMembership(
        [...voters, change.node],
        learners.filter((id) => id !== change.node),
      );
    case 'remove':
      if (!isMember(membership, change.node)) return ConfChangeReject.NotMember;
      if (voters.length === 1 && voters[0] === change.node) return ConfChangeReject.LastVoter;
      return makeMembership(
        voters.filter((id) => id !== change.node),
        learners.filter((id) => id !== change.node),
      );
  }
}

/** Whether `next` differs from `previous` by exactly one add-learner, promote or remove. */
export function isSingleStep(previous: Membership, next: Membership): boolean {
  const previousMembers = members(previous);
  const nextMembers = members(next);
  const added = nextMembers.filter((id) => !previousMembers.includes(id));
  const removed = previousMembers.filter((id) => !nextMembers.includes(id));
  const promoted = next.voters.filter((id) => isLearner(previous, id));
  const demoted = previous.voters.filter((id) => isLearner(next, id));
  if (demoted.length > 0) return false;
  if (added.length === 1) return removed.length === 0 && promoted.length === 0 && isLearner(next, added[0] as NodeId);
  return added.length === 0 && removed.length + promoted.length === 1;
}

/** Configuration entries of the log above a committed base. See MembershipState. */
export class MembershipTracker {
  private base: ConfEntry;
  private entries: ConfEntry[];

  constructor(
    state: MembershipState,
    private readonly entriesMax: number,
  ) {
    const baseReason = invalidMembership(state.base.membership);
    assert(baseReason === null, `membership base: ${baseReason}`);
    this.base = state.base;
    this.entries = [];
    for (const entry of state.entries) this.add(entry);
  }

  active(): Membership {
    return this.latest().membership;
  }

  latest(): ConfEntry {
    return this.entries[this.entries.length - 1] ?? this.base;
  }

  baseIndex(): number {
    return this.base.index;
  }

  /** The membership in effect at `index` (>= the base index). */
  at(index: number): Membership {
    assert(index >= this.base.index, 'membership below the base is unknown');
    let membership = this.base.membership;
    for (const entry of this.entries) {
      if (entry.index > index) break;
      membership = entry.membership;
    }
    return membership;
  }

  add(entry: ConfEntry): void {
    const reason = invalidMembership(entry.membership);
    assert(reason === null, `conf entry ${entry.index}: ${reason}`);
    assert(entry.index > this.latest().index, 'conf entries must ascend above the base');
    this.entries.push(entry);
    assert(this.entries.length <= this.entriesMax, 'too many uncommitted configuration entries');
  }

  /** Entries at or above `fromIndex` left the log. */
  truncateFrom(fromIndex: number): void {
    assert(fromIndex > this.base.index, 'truncation below the committed membership base');
    while (this.entries.length > 0 && (this.entries[this.entries.length - 1] as ConfEntry).index >= fromIndex) {
      this.entries.pop();
    }
  }

  /** Entries up to `index` are committed and no longer needed individually: fold them into the base. */
  foldThrough(index: number): void {
    while (this.entries.length > 0 && (this.entries[0] as ConfEntry).index <= index) {
      this.base = this.entries.shift() as ConfEntry;
    }
  }

  /** Folds the oldest entry into the base if it is committed (at or below `commit`). */
  foldOldest(commit: number): boolean {
    const oldest = this.entries[0];
    if (oldest === undefined || oldest.index > commit) return false;
    this.base = this.entries.shift() as ConfEntry;
    return true;
  }

  /** A snapshot replaced the log: `entry` is in effect at the snapshot index. */
  reset(entry: ConfEntry): void {
    this.base = entry;
    this.entries = [];
  }

  /** Entries with afterIndex < index <= throughIndex. */
  between(afterIndex: number, throughIndex: number): ConfEntry[] {
    return this.entries.filter((entry) => entry.index > afterIndex && entry.index <= throughIndex);
  }

  count(): number {
    return this.entries.length;
  }

  state(): MembershipState {
    return { base: this.base, entries: [...this.entries] };
  }
}
