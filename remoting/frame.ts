// Frame layer (protocol section 1.1):
//
//   totalLength:int  (serializeType:byte | headerLength:24 bits):int  header[headerLength]  body[rest]
//
// totalLength counts everything after itself. FrameDecoder cuts a byte stream into frames; encodeFrame
// turns a command into the buffers to write; decodeCommand turns a frame into a command.
import { BufferList } from 'bl';
import { isSerializeType, SerializeType } from './codes.js';
import { bodyBytes, type RemotingCommand } from './command.js';
import { DecodeError, DecodeReason, FrameTooLargeError } from './errors.js';
import { decodeBinaryHeader, encodeBinaryHeader } from './header-binary.js';
import { decodeJsonHeader, encodeJsonHeader } from './header-json.js';
import { FRAME_BYTES_MAX, HEADER_BYTES_MAX } from './limits.js';

/** Bytes of the total-length field. */
export const FRAME_LENGTH_BYTES = 4;
/** Bytes before the header: total length + type/header-length word. */
export const FRAME_PREFIX_BYTES = 8;
const HEADER_LENGTH_MASK = 0xff_ffff;

/** One undecoded frame. `header` and `body` are views into the received bytes when they arrived in one chunk. */
export interface Frame {
  serializeType: SerializeType;
  header: Buffer;
  body: Buffer | null;
}

export interface FrameLimits {
  /** Largest frame including its 4-byte length prefix. */
  frameBytesMax: number;
  headerBytesMax: number;
}

const DEFAULT_FRAME_LIMITS: FrameLimits = { frameBytesMax: FRAME_BYTES_MAX, headerBytesMax: HEADER_BYTES_MAX };

/**
 * Cuts a byte stream into frames. Invariant between pushes: `pending` holds less than one frame,
 * so a frame completed by a chunk ends inside that chunk and everything after it can be parsed from
 * the chunk directly. Frames that arrive whole inside a chunk are never copied.
 *
 * After the first DecodeError the stream is out of sync for good, so every later push throws it again.
 */
export class FrameDecoder {
  private readonly limits: FrameLimits;
  private readonly pending = new BufferList();
  private failure: DecodeError | null = null;

  constructor(limits: FrameLimits = DEFAULT_FRAME_LIMITS) {
    this.limits = limits;
  }

  /** Bytes held back waiting for the rest of a frame. */
  get pendingBytes(): number {
    return this.pending.length;
  }

  /** Returns the frames completed by `chunk`; throws DecodeError on a malformed prefix. */
  push(chunk: Buffer): Frame[] {
    if (this.failure !== null) throw this.failure;
    const frames: Frame[] = [];
    try {
      let rest = chunk;
      if (this.pending.length > 0) {
        const used = this.completePending(chunk, frames);
        if (used < 0) return frames;
        rest = chunk.subarray(used);
      }
      const consumed = this.takeWhole(rest, frames);
      if (consumed < rest.length) this.pending.append(rest.subarray(consumed));
    } catch (error) {
      if (error instanceof DecodeError) this.failure = error;
      throw error;
    }
    return frames;
  }

  /**
   * Appends `chunk` to the partial frame. Returns how many bytes of `chunk` the completed frame used,
   * or -1 while it is still incomplete. The completed frame is copied once into contiguous memory.
   */
  private completePending(chunk: Buffer, frames: Frame[]): number {
    const pending = this.pending;
    pending.append(chunk);
    if (pending.length < FRAME_LENGTH_BYTES) return -1;
    const total = this.checkTotal(pending.readInt32BE(0));
    if (pending.length >= FRAME_PREFIX_BYTES) this.checkWord(pending.readUInt32BE(FRAME_LENGTH_BYTES), total);
    const frameEnd = FRAME_LENGTH_BYTES + total;
    if (pending.length < frameEnd) return -1;
    const used = chunk.length - (pending.length - frameEnd);
    frames.push(this.frameAt(pending.slice(0, frameEnd), 0, total));
    pending.consume(pending.length);
    return used;
  }

  /** Takes every whole frame from the start of `bytes`, validating the prefix of a trailing partial one. */
  private takeWhole(bytes: Buffer, frames: Frame[]): number {
    let at = 0;
    // Each iteration consumes at least 8 bytes or stops, so the loop is bounded by the chunk length.
    while (bytes.length - at >= FRAME_LENGTH_BYTES) {
      const total = this.checkTotal(bytes.readInt32BE(at));
      const available = bytes.length - at;
      if (available < FRAME_LENGTH_BYTES + total) {
        if (available >= FRAME_PREFIX_BYTES) this.checkWord(bytes.readUInt32BE(at + FRAME_LENGTH_BYTES), total);
        break;
      }
      frames.push(this.frameAt(bytes, at, total));
      at += FRAME_LENGTH_BYTES + total;
    }
    return at;
  }

  /** Rejects an impossible or oversized length as soon as its 4 bytes are known, before buffering the frame. */
  private checkTotal(total: number): number {
    if (total < FRAME_LENGTH_BYTES) {
      throw new DecodeError(DecodeReason.FrameTooShort, `frame length ${total} cannot hold the header-length word`);
    }
    if (total > this.limits.frameBytesMax - FRAME_LENGTH_BYTES) {
      throw new DecodeError(DecodeReason.FrameTooLarge, `frame of ${total + FRAME_LENGTH_BYTES} bytes exceeds ${this.limits.frameBytesMax}`);
    }
    return total;
  }

  /** Checks the serialize-type/header-length word; returns the header length. */
  private checkWord(word: number, total: number): number {
    const serializeType = word >>> 24;
    if (!isSerializeType(serializeType)) {
      throw new DecodeError(DecodeReason.UnknownSerializeType, `serialize type ${serializeType}`);
    }
    const headerBytes = word & HEADER_LENGTH_MASK;
    if (headerBytes > total - FRAME_LENGTH_BYTES) {
      throw new DecodeError(DecodeReason.HeaderBeyondFrame, `header length ${headerBytes} exceeds frame length ${total} - 4`);
    }
    if (headerBytes > this.limits.headerBytesMax) {
      throw new DecodeError(DecodeReason.HeaderTooLarge, `header of ${headerBytes} bytes exceeds ${this.limits.headerBytesMax}`);
    }
    return headerBytes;
  }

  private frameAt(bytes: Buffer, start: number, total: number): Frame {
    const word = bytes.readUInt32BE(start + FRAME_LENGTH_BYTES);
    const headerBytes = this.checkWord(word, total);
    const headerStart = start + FRAME_PREFIX_BYTES;
    const bodyStart = headerStart + headerBytes;
    const frameEnd = start + FRAME_LENGTH_BYTES + total;
    return {
      serializeType: (word >>> 24) as SerializeType,
      header: bytes.subarray(headerStart, bodyStart),
      body: bodyStart === frameEnd ? null : bytes.subarray(bodyStart, frameEnd),
    };
  }
}

/** Decodes a frame's header into a command carrying the frame's body. Throws only DecodeError. */
export function decodeCommand(frame: Frame): RemotingCommand {
  const command = frame.serializeType === SerializeType.ROCKETMQ ? decodeBinaryHeader(frame.header) : decodeJsonHeader(frame.header);
  command.body = frame.body;
  return command;
}

/**
 * Returns the buffers to write for `command`: [prefix + header, ...body]. Body buffers are passed
 * through untouched (they may be slices of a mapped file). Throws FrameTooLargeError beyond the limits:
 * a peer with the same limits would otherwise drop the whole connection.
 */
export function encodeFrame(command: RemotingCommand, limits: FrameLimits = DEFAULT_FRAME_LIMITS): Buffer[] {
  const head =
    command.serializeType === SerializeType.ROCKETMQ
      ? encodeBinaryHeader(command, FRAME_PREFIX_BYTES)
      : encodeJsonHeader(command, FRAME_PREFIX_BYTES);
  const headerBytes = head.length - FRAME_PREFIX_BYTES;
  if (headerBytes > limits.headerBytesMax) {
    throw new FrameTooLargeError(`header of ${headerBytes} bytes exceeds ${limits.headerBytesMax}`);
  }
  const frameBytes = head.length + bodyBytes(command.body);
  if (frameBytes > limits.frameBytesMax) {
    throw new FrameTooLargeError(`frame of ${frameBytes} bytes exceeds ${limits.frameBytesMax}`);
  }
  head.writeInt32BE(frameBytes - FRAME_LENGTH_BYTES, 0);
  head.writeUInt32BE(((command.serializeType << 24) | headerBytes) >>> 0, FRAME_LENGTH_BYTES);
  return withBody(head, command.body);
}

function withBody(head: Buffer, body: RemotingCommand['body']): Buffer[] {
  if (body === null) return [head];
  if (Buffer.isBuffer(body)) return body.length === 0 ? [head] : [head, body];
  const buffers = [head];
  for (const part of body as readonly Buffer[]) if (part.length > 0) buffers.push(part);
  return buffers;
}
