// ROCKETMQ binary header codec (protocol section 1.3, Java's RocketMQSerializable). Big-endian.
//
//   code:short  language:byte  version:short  opaque:int  flag:int       (fixed 13 bytes)
//   remarkLen:int  remark:utf8[remarkLen]                                  (0 = null)
//   extLen:int  { keyLen:short key:utf8[keyLen]  valLen:int value:utf8[valLen] }*   (extLen bytes, 0 = none)
//
// A zero remark length means null, so an empty remark comes back as null; an ext block of zero bytes
// means no extFields, so `{}` comes back as null. Empty ext values stay "" (Java 5.x reads them as null).
import assert from 'node:assert';
import { languageByte, languageName, SerializeType } from './codes.js';
import { defineExtField, type ExtFields, type RemotingCommand } from './command.js';
import { DecodeError, DecodeReason, errorMessage } from './errors.js';
import { readUtf8, utf8ByteLength, writeUtf8 } from './utf8.js';

/** Fixed part: code 2 + language 1 + version 2 + opaque 4 + flag 4 + remarkLen 4 + extLen 4. */
export const BINARY_HEADER_FIXED_BYTES = 21;
const EXT_KEY_BYTES_MAX = 0x7fff; // the key length is a signed short

/** Encodes the binary header, preceded by `headroomBytes` unwritten bytes (room for a frame prefix). */
export function encodeBinaryHeader(command: RemotingCommand, headroomBytes = 0): Buffer {
  assertShort(command.code, 'code');
  assertShort(command.version, 'version');
  assertInt32(command.opaque, 'opaque');
  assertInt32(command.flag, 'flag');
  const remarkBytes = command.remark === null ? 0 : utf8ByteLength(command.remark);
  const extBytes = command.extFields === null ? 0 : extBlockBytes(command.extFields);
  const buffer = Buffer.allocUnsafe(headroomBytes + BINARY_HEADER_FIXED_BYTES + remarkBytes + extBytes);
  let at = headroomBytes;
  at = buffer.writeInt16BE(command.code, at);
  at = buffer.writeUInt8(languageByte(command.language), at);
  at = buffer.writeInt16BE(command.version, at);
  at = buffer.writeInt32BE(command.opaque, at);
  at = buffer.writeInt32BE(command.flag, at);
  at = buffer.writeInt32BE(remarkBytes, at);
  if (remarkBytes > 0) at += writeUtf8(buffer, command.remark as string, at);
  at = buffer.writeInt32BE(extBytes, at);
  if (extBytes > 0) at = writeExtBlock(buffer, at, command.extFields as ExtFields);
  assert.equal(at, buffer.length, 'binary header size mismatch');
  return buffer;
}

function assertShort(value: number, field: string): void {
  assert(Number.isInteger(value) && value >= -0x8000 && value <= 0x7fff, `${field} ${value} does not fit a short`);
}

function assertInt32(value: number, field: string): void {
  assert(Number.isInteger(value) && value >= -0x8000_0000 && value <= 0x7fff_ffff, `${field} ${value} does not fit an int`);
}

/** Entries with a null-ish value are skipped, as Java does; other non-strings are stringified. */
function extValue(value: unknown): string | null {
  if (typeof value === 'string') return value;
  return value === null || value === undefined ? null : String(value);
}

function extBlockBytes(ext: ExtFields): number {
  let total = 0;
  for (const key in ext) {
    const value = extValue(ext[key]);
    if (value === null) continue;
    const keyBytes = utf8ByteLength(key);
    assert(keyBytes <= EXT_KEY_BYTES_MAX, `extFields key of ${keyBytes} bytes does not fit a short length`);
    total += 2 + keyBytes + 4 + utf8ByteLength(value);
  }
  return total;
}

function writeExtBlock(buffer: Buffer, start: number, ext: ExtFields): number {
  let at = start;
  for (const key in ext) {
    const value = extValue(ext[key]);
    if (value === null) continue;
    const keyBytes = writeUtf8(buffer, key, at + 2);
    buffer.writeInt16BE(keyBytes, at);
    at += 2 + keyBytes;
    const valueBytes = writeUtf8(buffer, value, at + 4);
    buffer.writeInt32BE(valueBytes, at);
    at += 4 + valueBytes;
  }
  return at;
}

/** Decodes a binary header. Throws only DecodeError, whatever the bytes. */
export function decodeBinaryHeader(header: Buffer): RemotingCommand {
  try {
    return decodeChecked(header);
  } catch (error) {
    if (error instanceof DecodeError) throw error;
    throw malformed(`unexpected failure: ${errorMessage(error)}`, error);
  }
}

function decodeChecked(h: Buffer): RemotingCommand {
  if (h.length < BINARY_HEADER_FIXED_BYTES) throw malformed(`${h.length} bytes, fixed part needs ${BINARY_HEADER_FIXED_BYTES}`);
  const remarkBytes = h.readInt32BE(13);
  // Room must remain for the 4-byte ext length that follows the remark.
  if (remarkBytes < 0 || remarkBytes > h.length - BINARY_HEADER_FIXED_BYTES) throw malformed(`remark length ${remarkBytes} out of bounds`);
  const extLengthAt = 17 + remarkBytes;
  const extBytes = h.readInt32BE(extLengthAt);
  const extStart = extLengthAt + 4;
  if (extBytes < 0 || extBytes > h.length - extStart) throw malformed(`ext block length ${extBytes} out of bounds`);
  // Bytes after the ext block are ignored rather than rejected, so a later Java field would not break us.
  return {
    code: h.readInt16BE(0),
    language: languageName(h[2] as number),
    version: h.readInt16BE(3),
    opaque: h.readInt32BE(5),
    flag: h.readInt32BE(9),
    remark: remarkBytes === 0 ? null : readUtf8(h, 17, extLengthAt),
    extFields: extBytes === 0 ? null : decodeExtBlock(h, extStart, extStart + extBytes),
    body: null,
    serializeType: SerializeType.ROCKETMQ,
  };
}

function decodeExtBlock(h: Buffer, start: number, end: number): ExtFields {
  const ext: ExtFields = {};
  let at = start;
  // Each entry consumes at least 6 bytes, so the loop is bounded by the block length.
  while (at < end) {
    if (end - at < 2) throw malformed('truncated ext key length');
    const keyBytes = h.readInt16BE(at);
    at += 2;
    if (keyBytes < 0 || keyBytes > end - at - 4) throw malformed(`ext key length ${keyBytes} out of bounds`);
    const key = readUtf8(h, at, at + keyBytes);
    at += keyBytes;
    const valueBytes = h.readInt32BE(at);
    at += 4;
    if (valueBytes < 0 || valueBytes > end - at) throw malformed(`ext value length ${valueBytes} out of bounds`);
    defineExtField(ext, key, readUtf8(h, at, at + valueBytes));
    at += valueBytes;
  }
  return ext;
}

function malformed(detail: string, cause?: unknown): DecodeError {
  return new DecodeError(DecodeReason.MalformedBinaryHeader, detail, cause === undefined ? undefined : { cause });
}
