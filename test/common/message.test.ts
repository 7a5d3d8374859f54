// The stored-message writer refuses properties its signed 16-bit PROPERTIESLEN cannot hold, before writing a byte:
// a wrapped length would make the message undecodable for good.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { viewOf } from '../../common/bytes.js';
import { PROPERTIES_BYTES_MAX } from '../../common/limits.js';
import { PropertiesTooLongError, decodeMessage, draftLength, writeMessage, type MessageDraft } from '../../common/message.js';
import { draft } from '../helpers/messages.js';

/** A draft whose encoded properties take exactly `bytes` UTF-8 bytes, made of `unit` (1 or 2 bytes each). */
function draftWithProperties(bytes: number, unit = 'x'): MessageDraft {
  const d = draft('T', 0, Buffer.from('body'));
  const prefix = 'P\u0001';
  const fill = bytes - Buffer.byteLength(prefix) - 1;
  const perUnit = Buffer.byteLength(unit);
  assert.equal(fill % perUnit, 0);
  d.properties = `${prefix}${unit.repeat(fill / perUnit)}\u0002`;
  assert.equal(Buffer.byteLength(d.properties), bytes);
  return d;
}

test('properties of exactly PROPERTIES_BYTES_MAX bytes are written and decode back', () => {
  const d = draftWithProperties(PROPERTIES_BYTES_MAX);
  const buf = Buffer.alloc(draftLength(d));
  assert.equal(writeMessage(buf, viewOf(buf), 0, d, 7, 1234, 99), buf.length);
  const m = decodeMessage(buf);
  assert.equal(m.properties.P!.length, PROPERTIES_BYTES_MAX - 3);
  assert.equal(m.body.toString(), 'body');
});

test('one byte more is refused with a typed error by draftLength and by writeMessage, which writes nothing', () => {
  for (const d of [draftWithProperties(PROPERTIES_BYTES_MAX + 1), draftWithProperties(32_782), draftWithProperties(PROPERTIES_BYTES_MAX + 2, 'é')]) {
    assert.throws(() => draftLength(d), (err: unknown) => err instanceof PropertiesTooLongError && err.bytes === Buffer.byteLength(d.properties) && /32767/.test(err.message));
    const buf = Buffer.alloc(200_000);
    d.propertiesLength = undefined;
    assert.throws(() => writeMessage(buf, viewOf(buf), 0, d, 0, 0, 0), PropertiesTooLongError);
    assert.equal(buf.findIndex((b) => b !== 0), -1, 'nothing written');
  }
});

test('a length cached on the draft is checked too', () => {
  const d = draftWithProperties(PROPERTIES_BYTES_MAX + 1);
  d.propertiesLength = PROPERTIES_BYTES_MAX + 1;
  assert.throws(() => draftLength(d), PropertiesTooLongError);
});
