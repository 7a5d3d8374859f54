import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { SerializeType } from '../../remoting/codes.js';
import type { RemotingCommand } from '../../remoting/command.js';
import { DecodeError, DecodeReason } from '../../remoting/errors.js';
import { BINARY_HEADER_FIXED_BYTES, decodeBinaryHeader, encodeBinaryHeader } from '../../remoting/header-binary.js';
import { commandArb } from './helpers.js';

/** What the binary encoding can express: an empty remark reads back as null, an empty ext map as none. */
function binaryView(command: RemotingCommand): RemotingCommand {
  const ext = command.extFields;
  return {
    ...command,
    remark: command.remark === '' ? null : command.remark,
    extFields: ext === null || Object.keys(ext).length === 0 ? null : ext,
  };
}

test('binary header round-trips any command, unicode and empty strings included', () => {
  fc.assert(
    fc.property(commandArb(SerializeType.ROCKETMQ), (command) => {
      assert.deepStrictEqual(decodeBinaryHeader(encodeBinaryHeader(command)), binaryView(command));
    }),
    { numRuns: 300 },
  );
});

test('binary header: empty ext values stay empty strings, unknown language names go out as OTHER', () => {
  const command: RemotingCommand = {
    code: 11,
    language: 'COBOL',
    version: 1,
    opaque: 2,
    flag: 3,
    remark: '',
    extFields: { empty: '', full: 'v' },
    body: null,
    serializeType: SerializeType.ROCKETMQ,
  };
  const decoded = decodeBinaryHeader(encodeBinaryHeader(command));
  assert.equal(decoded.language, 'OTHER');
  assert.equal(decoded.remark, null);
  assert.deepStrictEqual(decoded.extFields, { empty: '', full: 'v' });
});

test('binary header: the smallest header is the 21-byte fixed part', () => {
  const bytes = encodeBinaryHeader({
    code: 0,
    language: 'JAVA',
    version: 0,
    opaque: 0,
    flag: 0,
    remark: null,
    extFields: null,
    body: null,
    serializeType: SerializeType.ROCKETMQ,
  });
  assert.equal(bytes.length, BINARY_HEADER_FIXED_BYTES);
});

test('truncated or inconsistent binary headers are DecodeErrors', () => {
  const good = encodeBinaryHeader({
    code: 310,
    language: 'JAVA',
    version: 409,
    opaque: 42,
    flag: 0,
    remark: 'ok',
    extFields: { a: 'PG', topic: 'T' },
    body: null,
    serializeType: SerializeType.ROCKETMQ,
  });
  // Every strict prefix shorter than the ext block's end must be rejected.
  for (let length = 0; length < good.length; length++) {
    assert.throws(
      () => decodeBinaryHeader(good.subarray(0, length)),
      (error: unknown) => error instanceof DecodeError && error.reason === DecodeReason.MalformedBinaryHeader,
      `prefix of ${length} bytes`,
    );
  }
  const negativeRemark = Buffer.from(good);
  negativeRemark.writeInt32BE(-1, 13);
  assert.throws(() => decodeBinaryHeader(negativeRemark), DecodeError);
});

test('random bytes only ever decode or throw DecodeError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => {
      try {
        decodeBinaryHeader(Buffer.from(bytes));
      } catch (error) {
        assert.ok(error instanceof DecodeError, `unexpected ${String(error)}`);
      }
    }),
    { numRuns: 500 },
  );
});

test('encoding a code that does not fit a short is a programmer error', () => {
  const command: RemotingCommand = {
    code: 40000,
    language: 'JAVA',
    version: 0,
    opaque: 0,
    flag: 0,
    remark: null,
    extFields: null,
    body: null,
    serializeType: SerializeType.ROCKETMQ,
  };
  assert.throws(() => encodeBinaryHeader(command), assert.AssertionError);
});
