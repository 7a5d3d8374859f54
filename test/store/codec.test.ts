// Message codec, properties string and record CRC: round trips (property-based) and corruption detection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeMessage, draftLength, writeMessage, MessageDecodeError, type MessageDraft } from '../../common/message.js';
import { decodeProperties, encodeProperties, findProperty } from '../../common/properties.js';
import { createOffsetMessageId, parseOffsetMessageId, UniqueIdGenerator } from '../../common/message-id.js';
import { tagHashCode } from '../../common/tag-hash.js';
import { viewOf } from '../../common/bytes.js';
import { EntryType, RECORD_HEADER_BYTES, RecordCheck, checkRecord, sealRecord, writeRecordHeader } from '../../store/record.js';

// Property names and values never contain the two separator characters; values are non-empty.
const propName = fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !/[\u0001\u0002]/.test(s));
const propValue = fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }).filter((s) => !/[\u0001\u0002]/.test(s));
const propsArb = fc.dictionary(propName, propValue, { maxKeys: 8 });
const topicArb = fc.stringMatching(/^[%|a-zA-Z0-9_-]{1,127}$/);
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const i32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const safeLong = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });

const draftArb = fc.record({
  topic: topicArb,
  queueId: fc.integer({ min: 0, max: 1023 }),
  flag: i32,
  sysFlag: fc.constantFrom(0, 2, 4, 8, 12),
  bornTimestamp: safeLong,
  bornIp: u32,
  bornPort: fc.integer({ min: 0, max: 65535 }),
  reconsumeTimes: fc.integer({ min: 0, max: 100 }),
  preparedTransactionOffset: safeLong,
  body: fc.uint8Array({ maxLength: 2048 }),
  props: propsArb,
  queueOffset: safeLong,
  physicalOffset: safeLong,
  storeTimestamp: safeLong,
});

const plain = (o: object): Record<string, unknown> => Object.fromEntries(Object.entries(o));

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function toDraft(v: any): MessageDraft {
  return {
    topic: v.topic,
    topicBytes: Buffer.from(v.topic),
    queueId: v.queueId,
    flag: v.flag,
    sysFlag: v.sysFlag,
    bornTimestamp: v.bornTimestamp,
    bornHost: { ip: v.bornIp, port: v.bornPort },
    storeHost: { ip: 0x0a000001, port: 10911 },
    reconsumeTimes: v.reconsumeTimes,
    preparedTransactionOffset: v.preparedTransactionOffset,
    body: v.body,
    properties: encodeProperties(v.props),
  };
}

test('properties string: encode/decode round trip keeps every non-empty pair', () => {
  fc.assert(
    fc.property(propsArb, (props) => {
      assert.deepEqual(plain(decodeProperties(encodeProperties(props))), plain(props));
      for (const [k, v] of Object.entries(props)) assert.equal(findProperty(encodeProperties(props), k), v);
    }),
  );
});

test('properties string: empty values are dropped, separators are tolerated at the end', () => {
  assert.deepEqual(plain(decodeProperties('A\u0001\u0002B\u0001b\u0002')), { B: 'b' });
  assert.deepEqual(plain(decodeProperties('A\u0001a')), { A: 'a' });
  assert.equal(encodeProperties({ A: '', B: 'b' }), 'B\u0001b\u0002');
  assert.equal(findProperty('XTAGS\u0001no\u0002TAGS\u0001yes\u0002', 'TAGS'), 'yes');
});

test('stored message: every field survives a round trip', () => {
  fc.assert(
    fc.property(draftArb, (v) => {
      const d = toDraft(v);
      const buf = Buffer.alloc(draftLength(d) + 7);
      const n = writeMessage(buf, viewOf(buf), 7, d, v.queueOffset, v.physicalOffset, v.storeTimestamp);
      assert.equal(n, draftLength(d));
      const m = decodeMessage(buf, 7);
      assert.equal(m.topic, v.topic);
      assert.equal(m.queueId, v.queueId);
      assert.equal(m.flag, v.flag);
      assert.equal(m.queueOffset, v.queueOffset);
      assert.equal(m.commitLogOffset, v.physicalOffset);
      assert.equal(m.sysFlag, v.sysFlag);
      assert.equal(m.bornTimestamp, v.bornTimestamp);
      assert.equal(m.storeTimestamp, v.storeTimestamp);
      assert.equal(m.reconsumeTimes, v.reconsumeTimes);
      assert.equal(m.preparedTransactionOffset, v.preparedTransactionOffset);
      assert.deepEqual(new Uint8Array(m.body), v.body);
      assert.deepEqual(plain(m.properties), plain(v.props));
      assert.equal(m.storeSize, n);
      assert.equal(m.bornHost.split(':')[1], String(v.bornPort));
      assert.equal(m.offsetMsgId, createOffsetMessageId({ ip: 0x0a000001, port: 10911 }, v.physicalOffset));
    }),
  );
});

test('stored message: a flipped bit in the body is caught by BODYCRC', () => {
  fc.assert(
    fc.property(draftArb.filter((v) => v.body.length > 0), fc.nat(), fc.integer({ min: 0, max: 7 }), (v, at, bit) => {
      const d = toDraft(v);
      const buf = Buffer.alloc(draftLength(d));
      writeMessage(buf, viewOf(buf), 0, d, 0, 0, 0);
      buf[88 + (at % v.body.length)]! ^= 1 << bit;
      assert.throws(() => decodeMessage(buf, 0), MessageDecodeError);
    }),
  );
});

test('record CRC: a flipped bit anywhere after the magic is detected (CRC field included)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 512 }), fc.nat(), fc.integer({ min: 0, max: 7 }), (payload, at, bit) => {
      const size = RECORD_HEADER_BYTES + payload.length;
      const buf = Buffer.alloc(size);
      const view = viewOf(buf);
      writeRecordHeader(view, 0, size, 5, 3, EntryType.STATE, 1234);
      buf.set(payload, RECORD_HEADER_BYTES);
      sealRecord(buf, view, 0, size);
      const expect = { index: 5, minTerm: 3, prevCrc: 1234 };
      assert.equal(checkRecord(buf, view, 0, size, expect, true), RecordCheck.OK);
      const pos = 8 + (at % (size - 8));
      buf[pos]! ^= 1 << bit;
      assert.notEqual(checkRecord(buf, view, 0, size, expect, true), RecordCheck.OK);
    }),
  );
});

test('message entry: a flipped bit anywhere (header, message fields or body) is detected', () => {
  fc.assert(
    fc.property(fc.array(draftArb, { minLength: 1, maxLength: 3 }), fc.nat(), fc.integer({ min: 0, max: 7 }), (vs, at, bit) => {
      const drafts = vs.map(toDraft);
      const size = RECORD_HEADER_BYTES + drafts.reduce((n, d) => n + draftLength(d), 0);
      const buf = Buffer.alloc(size);
      const view = viewOf(buf);
      writeRecordHeader(view, 0, size, 9, 2, EntryType.MESSAGES, 77);
      let pos = RECORD_HEADER_BYTES;
      for (const d of drafts) pos += writeMessage(buf, view, pos, d, 0, pos, 1);
      sealRecord(buf, view, 0, size);
      const expect = { index: 9, minTerm: 2, prevCrc: 77 };
      assert.equal(checkRecord(buf, view, 0, size, expect, true), RecordCheck.OK);
      const flip = 8 + (at % (size - 8));
      buf[flip]! ^= 1 << bit;
      assert.notEqual(checkRecord(buf, view, 0, size, expect, true), RecordCheck.OK, `flip at byte ${flip}`);
    }),
    { numRuns: 300 },
  );
});

test('record check names stale successors: wrong previous CRC, index or term', () => {
  const size = RECORD_HEADER_BYTES + 4;
  const buf = Buffer.alloc(size);
  const view = viewOf(buf);
  writeRecordHeader(view, 0, size, 10, 4, EntryType.STATE, 99);
  sealRecord(buf, view, 0, size);
  assert.equal(checkRecord(buf, view, 0, size, { index: 10, minTerm: 4, prevCrc: 98 }, true), RecordCheck.BAD_CHAIN);
  assert.equal(checkRecord(buf, view, 0, size, { index: 11, minTerm: 4, prevCrc: 99 }, true), RecordCheck.BAD_INDEX);
  assert.equal(checkRecord(buf, view, 0, size, { index: 10, minTerm: 5, prevCrc: 99 }, true), RecordCheck.BAD_TERM);
});

test('offset message id round trip and tag hash matches Java String.hashCode', () => {
  fc.assert(
    fc.property(u32, fc.integer({ min: 0, max: 65535 }), safeLong, (ip, port, offset) => {
      const id = createOffsetMessageId({ ip, port }, offset);
      assert.match(id, /^[0-9A-F]{32}$/);
      const parsed = parseOffsetMessageId(id)!;
      assert.equal(parsed.commitLogOffset, offset);
      assert.equal(parsed.host.ip, ip);
      assert.equal(parsed.host.port, port);
    }),
  );
  assert.equal(tagHashCode('TagA'), 2598919);
  assert.equal(tagHashCode('TagB'), 2598920);
  assert.equal(tagHashCode(''), 0);
  assert.equal(tagHashCode('a rather long tag that overflows int32 many times'), 802874406);
});

test('unique ids are 32 upper-case hex characters and distinct', () => {
  const gen = new UniqueIdGenerator(Buffer.from([10, 1, 2, 3]), 4242, 77);
  const ids = new Set<string>();
  for (let i = 0; i < 10_000; i++) ids.add(gen.next(1_700_000_000_000 + i));
  assert.equal(ids.size, 10_000);
  for (const id of ids) assert.match(id, /^[0-9A-F]{32}$/);
});
