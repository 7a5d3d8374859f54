// Operating errors of the store, as values with a code the broker maps to a response code.

export const StoreErrorCode = {
  /** A record or message is larger than a limit. */
  MESSAGE_TOO_LARGE: 'MESSAGE_TOO_LARGE',
  /** The disk is full (or above the refuse ratio): appends are refused, reads continue. */
  DISK_FULL: 'DISK_FULL',
  /** A disk write or sync failed; appends are refused until restart (data may not be durable). */
  IO_ERROR: 'IO_ERROR',
  /** The requested offset is no longer stored (retention) or not yet written. */
  OFFSET_MOVED: 'OFFSET_MOVED',
  /** Bytes handed to the log do not form valid records at the expected place (replication). */
  INVALID_APPEND: 'INVALID_APPEND',
  /** The store was closed. */
  CLOSED: 'CLOSED',
} as const;
export type StoreErrorCode = (typeof StoreErrorCode)[keyof typeof StoreErrorCode];

export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StoreError';
  }
}

export function isDiskFullError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}
