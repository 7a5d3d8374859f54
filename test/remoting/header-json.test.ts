import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { SerializeType } from '../../remoting/codes.js';
import { DecodeError, DecodeReason } from '../../remoting/errors.js';
import { decodeJsonHeader, encodeJsonHeader } from '../../remoting/header-json.js';
import { commandArb } from './helpers.js';

test('JSON header round-trips any command, unicode and empty strings included', () => {
  fc.assert(
    fc.property(commandArb(SerializeType.JSON), (command) => {
      assert.deepStrictEqual(decodeJsonHeader(encodeJsonHeader(command)), command);
    }),
    { numRuns: 300 },
  );
});

test('JSON header: keys in fastjson order, nulls omitted, language as a name', () => {
  const header = encodeJsonHeader({
    code: 105,
    language: 'JAVA',
    version: 409,
    opaque: 7,
    flag: 1,
    remark: null,
    extFields: { topic: 'T' },
    body: null,
    serializeType: SerializeType.JSON,
  });
  assert.equal(header.toString(), '{"code":105,"extFields":{"topic":"T"},"flag":1,"language":"JAVA","opaque":7,"version":409}');
});

test('JSON header headroom leaves leading bytes for the frame prefix', () => {
  const command = { code: 1, language: 'JAVA', version: 0, opaque: 0, flag: 0, remark: null, extFields: null, body: null, serializeType: SerializeType.JSON };
  const plain = encodeJsonHeader(command);
  const roomy = encodeJsonHeader(command, 8);
  assert.deepEqual(roomy.subarray(8), plain);
});

test('ali-ons style numbers and booleans in extFields decode to strings; unknown keys are ignored', () => {
  const text =
    '{"code":310,"language":"JAVA","opaque":3,"flag":0,"version":121,"serializeTypeCurrentRPC":"JSON",' +
    '"extFields":{"a":"PG","e":0,"g":1700000000000,"k":false,"m":true,"d":4.5,"n":null}}';
  const command = decodeJsonHeader(Buffer.from(text));
  assert.deepStrictEqual(command.extFields, { a: 'PG', e: '0', g: '1700000000000', k: 'false', m: 'true', d: '4.5' });
  assert.equal(command.code, 310);
  assert.equal(command.version, 121);
  assert.equal(command.remark, null);
  assert.equal(command.serializeType, SerializeType.JSON);
});

test('JSON header: numeric strings for int fields, absent fields defaulted, Go-style numeric language', () => {
  const command = decodeJsonHeader(Buffer.from('{"code":"34","language":9,"opaque":"12"}'));
  assert.equal(command.code, 34);
  assert.equal(command.opaque, 12);
  assert.equal(command.flag, 0);
  assert.equal(command.version, 0);
  assert.equal(command.language, 'GO');
  assert.equal(command.extFields, null);
});

test('JSON header keeps a __proto__ ext key as data', () => {
  const command = decodeJsonHeader(Buffer.from('{"code":1,"extFields":{"__proto__":"x","a":1}}'));
  assert.equal(Object.getPrototypeOf(command.extFields), Object.prototype);
  assert.deepEqual(Object.keys(command.extFields ?? {}), ['__proto__', 'a']);
  assert.equal(Object.getOwnPropertyDescriptor(command.extFields, '__proto__')?.value, 'x');
});

test('malformed JSON headers are DecodeErrors with a reason', () => {
  const cases = [
    'not json',
    '',
    '[]',
    '"text"',
    '{"opaque":1}',
    '{"code":1.5}',
    '{"code":4294967296}',
    '{"code":1,"extFields":[]}',
    '{"code":1,"extFields":{"a":{"b":1}}}',
    '{"code":1,"remark":{}}',
    '{"code":1,"language":{}}',
  ];
  for (const text of cases) {
    assert.throws(
      () => decodeJsonHeader(Buffer.from(text)),
      (error: unknown) => error instanceof DecodeError && error.reason === DecodeReason.MalformedJsonHeader,
      text,
    );
  }
});

test('random bytes and random JSON values only ever decode or throw DecodeError', () => {
  const onlyDecodeErrors = (bytes: Buffer): void => {
    try {
      decodeJsonHeader(bytes);
    } catch (error) {
      assert.ok(error instanceof DecodeError, `unexpected ${String(error)}`);
    }
  };
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => onlyDecodeErrors(Buffer.from(bytes))), { numRuns: 300 });
  fc.assert(fc.property(fc.jsonValue(), (value) => onlyDecodeErrors(Buffer.from(JSON.stringify(value) ?? ''))), { numRuns: 300 });
  const headerish = fc.record({ code: fc.jsonValue(), opaque: fc.jsonValue(), extFields: fc.jsonValue(), remark: fc.jsonValue() }, { requiredKeys: [] });
  fc.assert(fc.property(headerish, (value) => onlyDecodeErrors(Buffer.from(JSON.stringify(value)))), { numRuns: 300 });
});
