import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { SerializeType } from '../../remoting/codes.js';
import type { RemotingCommand } from '../../remoting/command.js';
import { DecodeError, DecodeReason, FrameTooLargeError } from '../../remoting/errors.js';
import { decodeCommand, encodeFrame, FrameDecoder, type Frame } from '../../remoting/frame.js';
import { anySerializeType, commandArb } from './helpers.js';

// Golden frames, built by hand from the protocol description (not with our encoder).
const GOLDEN_JSON_FRAME =
  '00000086000000807b22636f6465223a3331302c226578744669656c6473223a7b2261223a225047222c2262223a22546f70696341222c2269223a' +
  '22574149545c7530303031747275655c7530303032227d2c22666c6167223a302c226c616e6775616765223a224a415641222c226f7061717565' +
  '223a34322c2276657273696f6e223a3430397d6869';
const GOLDEN_BINARY_FRAME =
  '0000002d0100002701360001990000002a00000000000000026f6b00000010000161000000025047000162000000006869';

function command(fields: Partial<RemotingCommand>): RemotingCommand {
  return {
    code: 310,
    language: 'JAVA',
    version: 409,
    opaque: 42,
    flag: 0,
    remark: null,
    extFields: null,
    body: null,
    serializeType: SerializeType.JSON,
    ...fields,
  };
}

const jsonGoldenCommand = command({
  extFields: { a: 'PG', b: 'TopicA', i: 'WAIT\u0001true\u0002' },
  body: Buffer.from('hi'),
});
const binaryGoldenCommand = command({
  remark: 'ok',
  extFields: { a: 'PG', b: '' },
  body: Buffer.from('hi'),
  serializeType: SerializeType.ROCKETMQ,
});

test('golden bytes: one JSON frame and one binary frame encode exactly', () => {
  assert.equal(Buffer.concat(encodeFrame(jsonGoldenCommand)).toString('hex'), GOLDEN_JSON_FRAME);
  assert.equal(Buffer.concat(encodeFrame(binaryGoldenCommand)).toString('hex'), GOLDEN_BINARY_FRAME);
});

test('golden bytes decode to the expected commands', () => {
  for (const [hex, expected] of [
    [GOLDEN_JSON_FRAME, jsonGoldenCommand],
    [GOLDEN_BINARY_FRAME, binaryGoldenCommand],
  ] as const) {
    const frames = new FrameDecoder().push(Buffer.from(hex, 'hex'));
    assert.equal(frames.length, 1);
    assert.deepStrictEqual(decodeCommand(frames[0] as Frame), expected);
  }
});

test('encodeFrame passes body buffers through without copying', () => {
  const slices = [Buffer.from('abc'), Buffer.alloc(0), Buffer.from('defg')];
  const out = encodeFrame(command({ body: slices, serializeType: SerializeType.ROCKETMQ }));
  assert.equal(out.length, 3);
  assert.equal(out[1], slices[0]);
  assert.equal(out[2], slices[2]);
  assert.equal((out[0] as Buffer).readInt32BE(0) + 4, out.reduce((n, b) => n + b.length, 0));
});

test('decoded header and body are views into a chunk that held the whole frame', () => {
  const bytes = Buffer.concat(encodeFrame(jsonGoldenCommand));
  const [frame] = new FrameDecoder().push(bytes);
  assert.equal(frame?.body?.buffer, bytes.buffer);
  assert.equal(frame?.header.buffer, bytes.buffer);
});

test('a stream of frames split at every byte offset decodes identically', () => {
  const commands = [
    jsonGoldenCommand,
    binaryGoldenCommand,
    command({ code: 11, opaque: 1, serializeType: SerializeType.ROCKETMQ }),
    command({ code: 12, opaque: 2, remark: 'é', body: Buffer.alloc(300, 7) }),
  ];
  const stream = Buffer.concat(commands.flatMap((c) => encodeFrame(c)));
  for (let cut = 0; cut <= stream.length; cut++) {
    for (const pieces of [[cut], [cut, Math.min(stream.length, cut + 5)]]) {
      const decoder = new FrameDecoder();
      const frames: Frame[] = [];
      let start = 0;
      for (const end of [...pieces, stream.length]) {
        frames.push(...decoder.push(stream.subarray(start, end)));
        start = end;
      }
      assert.deepStrictEqual(frames.map(decodeCommand), commands, `cut at ${pieces.join(',')}`);
      assert.equal(decoder.pendingBytes, 0);
    }
  }
});

test('byte-at-a-time and random chunking of random commands decode identically', () => {
  const withBody = fc.tuple(anySerializeType, fc.uint8Array({ maxLength: 64 })).chain(([type, body]) =>
    commandArb(type).map((c) => ({ ...c, body: body.length === 0 ? null : Buffer.from(body) })),
  );
  fc.assert(
    fc.property(fc.array(withBody, { minLength: 1, maxLength: 5 }), fc.array(fc.nat(), { maxLength: 10 }), (commands, cuts) => {
      const stream = Buffer.concat(commands.flatMap((c) => encodeFrame(c)));
      const decoder = new FrameDecoder();
      const frames: Frame[] = [];
      let start = 0;
      for (const end of [...cuts.map((c) => c % (stream.length + 1)).sort((a, b) => a - b), stream.length]) {
        if (end < start) continue;
        frames.push(...decoder.push(stream.subarray(start, end)));
        start = end;
      }
      assert.equal(frames.length, commands.length);
      frames.forEach((frame, i) => assert.equal(decodeCommand(frame).opaque, commands[i]?.opaque));
    }),
    { numRuns: 200 },
  );
});

function assertDecodeError(decoder: FrameDecoder, bytes: Buffer, reason: DecodeReason): void {
  assert.throws(
    () => decoder.push(bytes),
    (error: unknown) => error instanceof DecodeError && error.reason === reason,
  );
}

test('an oversized total length is rejected from its 4 bytes alone, before anything is buffered', () => {
  const decoder = new FrameDecoder({ frameBytesMax: 1024, headerBytesMax: 256 });
  const length = Buffer.alloc(4);
  length.writeInt32BE(1021); // 1025 bytes with the prefix
  assertDecodeError(decoder, length, DecodeReason.FrameTooLarge);
  assert.equal(decoder.pendingBytes, 0);

  const split = new FrameDecoder();
  assert.deepEqual(split.push(Buffer.from([0x7f, 0xff])), []);
  assertDecodeError(split, Buffer.from([0xff, 0xff]), DecodeReason.FrameTooLarge);

  // A frame of exactly the limit is fine.
  const exact = new FrameDecoder({ frameBytesMax: 1024, headerBytesMax: 256 });
  length.writeInt32BE(1020);
  assert.deepEqual(exact.push(length), []);
});

test('lengths too small for the header word, and negative lengths, are rejected', () => {
  assertDecodeError(new FrameDecoder(), Buffer.from('00000003', 'hex'), DecodeReason.FrameTooShort);
  assertDecodeError(new FrameDecoder(), Buffer.from('ffffffff', 'hex'), DecodeReason.FrameTooShort);
});

test('a header length beyond the frame, over the limit, or an unknown type is rejected early', () => {
  // total 10: room for 6 header+body bytes, header claims 7.
  assertDecodeError(new FrameDecoder(), Buffer.from('0000000a00000007', 'hex'), DecodeReason.HeaderBeyondFrame);
  // Only the 24 low bits are the header length: type 1, length 6 is valid.
  assert.deepEqual(new FrameDecoder().push(Buffer.from('0000000a01000006', 'hex')), []);
  const small = new FrameDecoder({ frameBytesMax: 1024, headerBytesMax: 16 });
  assertDecodeError(small, Buffer.from('0000006400000011', 'hex'), DecodeReason.HeaderTooLarge);
  assertDecodeError(new FrameDecoder(), Buffer.from('0000000a02000000', 'hex'), DecodeReason.UnknownSerializeType);
});

test('after a DecodeError every later push fails the same way', () => {
  const decoder = new FrameDecoder();
  assertDecodeError(decoder, Buffer.from('ffffffff', 'hex'), DecodeReason.FrameTooShort);
  assertDecodeError(decoder, Buffer.concat(encodeFrame(jsonGoldenCommand)), DecodeReason.FrameTooShort);
});

test('random bytes only ever produce frames or a DecodeError', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 6 }), (chunks) => {
      const decoder = new FrameDecoder({ frameBytesMax: 4096, headerBytesMax: 1024 });
      try {
        for (const chunk of chunks) {
          for (const frame of decoder.push(Buffer.from(chunk))) decodeCommand(frame);
        }
      } catch (error) {
        assert.ok(error instanceof DecodeError, `unexpected ${String(error)}`);
      }
    }),
    { numRuns: 500 },
  );
});

test('encodeFrame refuses frames and headers over the limits', () => {
  const limits = { frameBytesMax: 256, headerBytesMax: 96 };
  assert.throws(() => encodeFrame(command({ body: Buffer.alloc(300) }), limits), FrameTooLargeError);
  assert.throws(() => encodeFrame(command({ remark: 'x'.repeat(100) }), limits), FrameTooLargeError);
  assert.equal(encodeFrame(command({ body: Buffer.alloc(8) }), limits).length, 2);
});
