// Replicated transaction state: which half messages (by their offset in the half topic's queue) are resolved
// (committed, rolled back, or parked after too many checks), and how often each pending one was checked and when
// it may be checked again. Resolutions come from op messages applied from the log; check bookkeeping from
// STATE entries; so a new leader knows exactly what is pending and never commits a transaction twice.
//
// Memory stays bounded by the number of pending transactions: resolved offsets below the lowest pending one fold
// into a watermark. The lowest pending one cannot stay pending forever: checks count even when no producer can be
// asked, so it is parked after checkMax of them; offsets retention deleted are skipped by a replicated STATE op.

export const TxnDecision = {
  COMMIT: 'commit',
  ROLLBACK: 'rollback',
  /** Checked the maximum number of times without an answer: moved to TRANS_CHECK_MAX_TIME_TOPIC. */
  PARKED: 'parked',
} as const;
export type TxnDecision = (typeof TxnDecision)[keyof typeof TxnDecision];

export interface TxnCheckRecord {
  checks: number;
  nextCheckAt: number;
}

export interface TxnSnapshot {
  watermark: number;
  resolved: Array<[number, TxnDecision]>;
  checks: Array<[number, TxnCheckRecord]>;
  parkedCount: number;
}

/** Decisions remembered after folding into the watermark, to answer a late conflicting END_TRANSACTION exactly. */
export const TXN_RECENT_DECISIONS_MAX = 100_000;

export class TransactionState {
  /** Every half offset below this is resolved. */
  watermark = 0;
  /** Recently folded decisions (oldest first; not part of the snapshot, so a restart may answer less precisely). */
  private readonly recent = new Map<number, TxnDecision>();
  /** Resolutions at or above the watermark. */
  private readonly resolved = new Map<number, TxnDecision>();
  private readonly checks = new Map<number, TxnCheckRecord>();
  parkedCount = 0;

  decision(halfOffset: number): TxnDecision | 'resolved-earlier' | undefined {
    if (halfOffset < this.watermark) return this.recent.get(halfOffset) ?? 'resolved-earlier';
    return this.resolved.get(halfOffset);
  }

  isResolved(halfOffset: number): boolean {
    return halfOffset < this.watermark || this.resolved.has(halfOffset);
  }

  /** Applies a committed op message. Repeated ops (replays) change nothing. */
  resolve(halfOffset: number, decision: TxnDecision): void {
    if (this.isResolved(halfOffset)) return;
    this.resolved.set(halfOffset, decision);
    this.checks.delete(halfOffset);
    if (decision === TxnDecision.PARKED) this.parkedCount++;
    this.fold();
  }

  /** Moves the watermark over the resolved offsets right above it. */
  private fold(): void {
    while (this.resolved.has(this.watermark)) {
      this.remember(this.watermark, this.resolved.get(this.watermark)!);
      this.resolved.delete(this.watermark++);
    }
  }

  private remember(halfOffset: number, decision: TxnDecision): void {
    this.recent.set(halfOffset, decision);
    if (this.recent.size > TXN_RECENT_DECISIONS_MAX) this.recent.delete(this.recent.keys().next().value!);
  }

  /**
   * Moves the watermark past half offsets that no longer exist (retention deleted the start of the half queue),
   * so they are not looked for again. Applied from a replicated STATE op, so followers forget them too. Costs the
   * size of the maps, not the size of the gap (which may be millions of offsets).
   */
  skipTo(minHalfOffset: number): void {
    if (minHalfOffset <= this.watermark) return;
    for (const o of this.resolved.keys()) if (o < minHalfOffset) this.resolved.delete(o);
    for (const o of this.checks.keys()) if (o < minHalfOffset) this.checks.delete(o);
    this.watermark = minHalfOffset;
    this.fold();
  }

  checkRecord(halfOffset: number): TxnCheckRecord | undefined {
    return this.checks.get(halfOffset);
  }

  /** Applies a committed check record (sent by the leader's check service). */
  recordCheck(halfOffset: number, record: TxnCheckRecord): void {
    if (this.isResolved(halfOffset)) return;
    const old = this.checks.get(halfOffset);
    if (!old || record.checks > old.checks) this.checks.set(halfOffset, record);
  }

  get pendingChecked(): number {
    return this.checks.size;
  }

  snapshot(): TxnSnapshot {
    return { watermark: this.watermark, resolved: [...this.resolved], checks: [...this.checks], parkedCount: this.parkedCount };
  }

  restore(s: TxnSnapshot | undefined): void {
    this.resolved.clear();
    this.checks.clear();
    this.watermark = s?.watermark ?? 0;
    this.parkedCount = s?.parkedCount ?? 0;
    for (const [o, d] of s?.resolved ?? []) this.resolved.set(o, d);
    for (const [o, c] of s?.checks ?? []) this.checks.set(o, c);
  }
}
