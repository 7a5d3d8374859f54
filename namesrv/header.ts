// Typed reads of request header fields (extFields). Every value arrives as a string (the remoting layer
// already turns ali-ons' JSON numbers and booleans into strings); a missing or malformed field is a
// NamesrvRequestError naming the field.
import type { ExtFields } from '../remoting/index.js';
import { NamesrvRequestError } from './errors.js';
import { NAME_CHARS_MAX } from './limits.js';

const DECIMAL_INTEGER = /^[+-]?\d{1,20}$/;
const INT32_MIN = -0x8000_0000;
const INT32_MAX = 0x7fff_ffff;
/** No whitespace or control characters: names end up in logs and JSON keys. */
const NAME_PATTERN = /^[^\s\p{Cc}]+$/u;

function rawField(ext: ExtFields | null, field: string): string | undefined {
  if (ext === null || !Object.hasOwn(ext, field)) return undefined;
  const value: unknown = ext[field];
  if (typeof value !== 'string') throw new NamesrvRequestError(`header field ${field} must be a string, got ${typeof value}`);
  return value;
}

export function optionalString(ext: ExtFields | null, field: string): string | null {
  return rawField(ext, field) ?? null;
}

/** Present and not empty (Java's @CFNotNull; a binary header cannot tell an empty string from null). */
export function requiredString(ext: ExtFields | null, field: string): string {
  const value = rawField(ext, field);
  if (value === undefined || value === '') throw new NamesrvRequestError(`header field ${field} is required`);
  return value;
}

/** A broker, cluster or namespace name: 1..NAME_CHARS_MAX characters, no whitespace or control characters. */
export function requiredName(ext: ExtFields | null, field: string): string {
  const value = requiredString(ext, field);
  if (value.length > NAME_CHARS_MAX) throw new NamesrvRequestError(`header field ${field} is longer than ${NAME_CHARS_MAX} characters`);
  if (!NAME_PATTERN.test(value)) throw new NamesrvRequestError(`header field ${field} contains whitespace or control characters: ${JSON.stringify(value)}`);
  return value;
}

/** A Java long that fits a JS number exactly (every id, count and timeout we read does). */
export function optionalLong(ext: ExtFields | null, field: string): number | null {
  const value = rawField(ext, field);
  if (value === undefined) return null;
  const number = DECIMAL_INTEGER.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(number)) throw new NamesrvRequestError(`header field ${field} must be an integer, got ${JSON.stringify(value)}`);
  return number;
}

export function requiredLong(ext: ExtFields | null, field: string): number {
  const value = optionalLong(ext, field);
  if (value === null) throw new NamesrvRequestError(`header field ${field} is required`);
  return value;
}

export function optionalInt(ext: ExtFields | null, field: string): number | null {
  const value = optionalLong(ext, field);
  if (value !== null && (value < INT32_MIN || value > INT32_MAX)) {
    throw new NamesrvRequestError(`header field ${field} must be a 32-bit integer, got ${value}`);
  }
  return value;
}

/** `true`/`false` in any case (Java's Boolean.parseBoolean, but anything else is an error rather than false). */
export function optionalBoolean(ext: ExtFields | null, field: string): boolean | null {
  const value = rawField(ext, field);
  if (value === undefined) return null;
  const lower = value.toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  throw new NamesrvRequestError(`header field ${field} must be true or false, got ${JSON.stringify(value)}`);
}
