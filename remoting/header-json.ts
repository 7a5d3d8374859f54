// JSON header codec (protocol section 1.2).
//
//   {"code":310,"extFields":{"a":"PG",...},"flag":0,"language":"JAVA","opaque":42,"remark":"..","version":409}
//
// Keys are written in fastjson's (alphabetical) order and nulls omitted, like Java. Decoding is
// order-independent, ignores unknown keys (`serializeTypeCurrentRPC`), and turns the numbers and
// booleans that ali-ons puts in extFields into strings.
import { languageName, SerializeType } from './codes.js';
import { defineExtField, type ExtFields, type RemotingCommand } from './command.js';
import { DecodeError, DecodeReason, errorMessage } from './errors.js';

/** Shape written by the encoder; `undefined` members are dropped by JSON.stringify. */
interface JsonHeaderOut {
  code: number;
  extFields: ExtFields | undefined;
  flag: number;
  language: string;
  opaque: number;
  remark: string | undefined;
  version: number;
}

/** Encodes the header as UTF-8 JSON, preceded by `headroomBytes` unwritten bytes (room for a frame prefix). */
export function encodeJsonHeader(command: RemotingCommand, headroomBytes = 0): Buffer {
  const out: JsonHeaderOut = {
    code: command.code,
    extFields: command.extFields === null ? undefined : stringValuedExtFields(command.extFields),
    flag: command.flag,
    language: command.language,
    opaque: command.opaque,
    remark: command.remark ?? undefined,
    version: command.version,
  };
  const text = JSON.stringify(out);
  const buffer = Buffer.allocUnsafe(headroomBytes + Buffer.byteLength(text));
  buffer.write(text, headroomBytes);
  return buffer;
}

/**
 * Go clients decode extFields into map[string]string, so only strings may go out. The typed
 * common case (all strings) is returned as is; otherwise null-ish values are dropped and the rest
 * stringified.
 */
function stringValuedExtFields(ext: ExtFields): ExtFields {
  for (const key in ext) {
    if (typeof ext[key] !== 'string') return coercedCopy(ext);
  }
  return ext;
}

function coercedCopy(ext: ExtFields): ExtFields {
  const copy: ExtFields = {};
  for (const key of Object.keys(ext)) {
    const value: unknown = ext[key];
    if (value !== null && value !== undefined) defineExtField(copy, key, String(value));
  }
  return copy;
}

/** Decodes a JSON header. Throws only DecodeError, whatever the bytes. */
export function decodeJsonHeader(header: Buffer): RemotingCommand {
  try {
    return commandFromJson(parseObject(header));
  } catch (error) {
    if (error instanceof DecodeError) throw error;
    throw malformed(`unexpected failure: ${errorMessage(error)}`, error);
  }
}

function parseObject(header: Buffer): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(header.toString('utf8'));
  } catch (error) {
    throw malformed(`not JSON (${errorMessage(error)})`, error);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw malformed('not a JSON object');
  return parsed as Record<string, unknown>;
}

function commandFromJson(json: Record<string, unknown>): RemotingCommand {
  if (json.code === undefined || json.code === null) throw malformed('no code');
  return {
    code: int32Field(json, 'code', 0),
    language: languageField(json.language),
    version: int32Field(json, 'version', 0),
    opaque: int32Field(json, 'opaque', 0),
    flag: int32Field(json, 'flag', 0),
    remark: remarkField(json.remark),
    extFields: extFieldsFrom(json.extFields),
    body: null,
    serializeType: SerializeType.JSON,
  };
}

const DECIMAL_INT = /^-?\d{1,10}$/;

/** Java's fastjson accepts numbers and numeric strings for int fields; so do we. Absent means `absent`. */
function int32Field(json: Record<string, unknown>, key: string, absent: number): number {
  const value = json[key];
  if (value === undefined || value === null) return absent;
  const n = typeof value === 'string' && DECIMAL_INT.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < -0x8000_0000 || n > 0x7fff_ffff) {
    throw malformed(`${key} is not a 32-bit integer`);
  }
  return n;
}

/** The name as sent (a name we do not know is kept; Java would reject it, we need not). Go-style byte
 * values are mapped to names. */
function languageField(value: unknown): string {
  if (value === undefined || value === null) return 'OTHER';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isInteger(value)) return languageName(value);
  throw malformed('language is neither a name nor a number');
}

function remarkField(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw malformed('remark is not a string');
}

/**
 * Reuses the parsed object (JSON.parse makes own data properties, so even `__proto__` is safe to
 * rewrite in place). Scalars become strings with String(v), nulls are dropped as Java omits them,
 * nested objects are rejected: no client sends them and they have no string form on the wire.
 */
function extFieldsFrom(value: unknown): ExtFields | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) throw malformed('extFields is not an object');
  const ext = value as Record<string, unknown>;
  for (const key of Object.keys(ext)) {
    const v = ext[key];
    if (typeof v === 'string') continue;
    if (v === null) delete ext[key];
    else if (typeof v === 'number' || typeof v === 'boolean') ext[key] = String(v);
    else throw malformed(`extFields value of ${JSON.stringify(key)} is not a scalar`);
  }
  return ext as ExtFields;
}

function malformed(detail: string, cause?: unknown): DecodeError {
  return new DecodeError(DecodeReason.MalformedJsonHeader, detail, cause === undefined ? undefined : { cause });
}
