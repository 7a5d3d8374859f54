// What a follower does with an append message, decided from its log alone (pure).
//
// 1. prevIndex below our commit index: the prefix through our commit is committed and therefore
//    identical to the leader's; answer with our commit index and let the leader continue from there.
// 2. No entry at prevIndex, or one with another term: reject, with a hint so the leader can skip a
//    whole term per round trip instead of one entry.
// 3. Otherwise find the last entry that agrees with the leader's (binary search, agreement is
//    prefix-closed), truncate after it if our log goes on with other entries, and write the rest.
//    Entries that already agree are never rewritten, so duplicated and reordered appends are harmless.

import assert from 'node:assert/strict';

import { lastAgreeingIndex, lastIndexWithTermAtMost, type LogView, termAt } from './log-view.js';
import { AppendReject } from './reasons.js';
import type { AppendMessage } from './types.js';

export type AppendPlan =
  | { readonly kind: 'belowCommit' }
  | { readonly kind: 'reject'; readonly reason: AppendReject; readonly hintIndex: number; readonly hintTerm: number }
  | {
      readonly kind: 'accept';
      /** Remove entries from here on first (null: nothing conflicts). */
      readonly truncateFrom: number | null;
      /** Write the message's entries from here through its lastIndex (null: we have them all). */
      readonly writeFrom: number | null;
    };

export function planFollowerAppend(log: LogView, commit: number, message: AppendMessage): AppendPlan {
  const lastIndex = log.lastIndex();
  assert(commit <= lastIndex);
  if (message.prevIndex < commit) return { kind: 'belowCommit' };

  if (message.prevIndex > lastIndex) {
    return { kind: 'reject', reason: AppendReject.PrevIndexBeyondEnd, hintIndex: lastIndex, hintTerm: termAt(log, lastIndex) };
  }
  if (termAt(log, message.prevIndex) !== message.prevTerm) {
    // Our last entry at or below prevIndex whose term is <= the leader's prevTerm: everything above it
    // has a term the leader does not have at those positions.
    const hint = lastIndexWithTermAtMost(log, message.prevIndex, message.prevTerm);
    return { kind: 'reject', reason: AppendReject.PrevTermMismatch, hintIndex: hint.index, hintTerm: hint.term };
  }
  if (message.lastIndex === message.prevIndex) return { kind: 'accept', truncateFrom: null, writeFrom: null };

  const overlapEnd = Math.min(message.lastIndex, lastIndex);
  const agreed = lastAgreeingIndex(log, message.prevIndex, message.runs, overlapEnd);
  if (agreed === message.lastIndex) return { kind: 'accept', truncateFrom: null, writeFrom: null };
  const truncateFrom = agreed < lastIndex ? agreed + 1 : null;
  if (truncateFrom !== null) assert(truncateFrom > commit, 'a conflicting entry at or below the commit index');
  return { kind: 'accept', truncateFrom, writeFrom: agreed + 1 };
}
