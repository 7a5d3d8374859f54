// CRC32 (IEEE) via the crc-32 package. RocketMQ stores body CRCs masked to a non-negative int.
import CRC32 from 'crc-32';

/** Unsigned CRC32 of `data`, continuing from `seed` (the signed value a previous call returned, or 0). */
export function crc32(data: Uint8Array, seed = 0): number {
  return CRC32.buf(data, seed);
}

/** RocketMQ's BODYCRC: CRC32 of the body masked with 0x7FFFFFFF. */
export function bodyCrc(body: Uint8Array): number {
  return CRC32.buf(body, 0) & 0x7fffffff;
}
