// One TCP connection carrying remoting frames in both directions: our requests and their responses,
// and the peer's requests (dispatched to a handler) and our responses. The broker's connection to a
// client and a client's connection to a broker are the same class.
import assert from 'node:assert';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { RemotingFlag, requestCodeLabel, ResponseCode, SerializeType } from './codes.js';
import { createResponse, isOneway, isResponse, type RemotingCommand } from './command.js';
import {
  ConnectionClosedError,
  errorMessage,
  InflightLimitError,
  OutboundBufferFullError,
  RemotingError,
  RequestTimeoutError,
} from './errors.js';
import { decodeCommand, encodeFrame, FRAME_LENGTH_BYTES, FrameDecoder, type Frame } from './frame.js';
import {
  CONNECTION_LIMITS_DEFAULT,
  ERROR_REMARK_CHARS_MAX,
  REQUEST_TIMEOUT_MS_DEFAULT,
  REQUEST_TIMEOUT_MS_MAX,
  type ConnectionLimits,
} from './limits.js';
import { consoleLogger, type Logger } from './logger.js';
import type { Processor, RequestContext } from './processors.js';

export interface ConnectionOptions {
  /** Handles the peer's requests (a ProcessorTable's `dispatch`). */
  handler: Processor;
  limits?: ConnectionLimits;
  logger?: Logger;
  /**
   * Header encoding stamped on requests we send. null mirrors the encoding of the peer's latest request
   * (JSON until it has sent one), which is what a server wants: ali-ons only understands JSON.
   */
  requestSerializeType?: SerializeType | null;
  /** Peer label for logs and errors; defaults to the socket's remote address. */
  remoteAddress?: string;
  /** Called once, after every pending invoke has been rejected. */
  onClose?: (connection: Connection, cause: Error | null) => void;
}

type ConnectionState = 'open' | 'closing' | 'closed';

/** An invoke waiting for a slot (`frame` set) or for its response (`frame` null). */
interface PendingInvoke {
  readonly request: RemotingCommand;
  readonly deadline: number;
  readonly timeoutMs: number;
  frame: Buffer[] | null;
  readonly resolve: (response: RemotingCommand) => void;
  readonly reject: (error: Error) => void;
}

const REQUEST_FLAG_BITS = RemotingFlag.RESPONSE | RemotingFlag.ONEWAY;

let lastConnectionId = 0;

export class Connection {
  readonly id: number;
  readonly remoteAddress: string;
  /** Passed to every processor call; built once per connection. */
  readonly context: RequestContext;

  private readonly socket: Socket;
  private readonly handler: Processor;
  private readonly limits: ConnectionLimits;
  private readonly logger: Logger;
  private readonly requestSerializeType: SerializeType | null;
  private readonly onCloseHook: ConnectionOptions['onClose'];
  private readonly decoder: FrameDecoder;
  private readonly closed: Promise<void>;
  private resolveClosed!: () => void;

  private state: ConnectionState = 'open';
  /** Set by destroy(): frames still in the current chunk are ignored until 'close' arrives. */
  private destroyed = false;
  private closeCause: Error | null = null;
  private framesReceivedCount = 0;
  private peerSerializeType: SerializeType = SerializeType.JSON;

  // Correlation: Maps keep insertion order, so `waiting` doubles as the FIFO of queued invokes.
  private readonly inflight = new Map<number, PendingInvoke>();
  private readonly waiting = new Map<number, PendingInvoke>();
  // One timer per connection, armed for the earliest deadline, instead of one per request.
  private timer: NodeJS.Timeout | null = null;
  private timerDeadline = Infinity;
  private graceTimer: NodeJS.Timeout | null = null;

  // Inbound flow control.
  private requestsInProcess = 0;
  private readPaused = false;
  private writeBlocked = false;

  // Outbound coalescing: cork on the first write, uncork at the end of the microtask or past a threshold.
  private corked = false;
  private corkedBytes = 0;
  private flushScheduled = false;

  constructor(socket: Socket, options: ConnectionOptions) {
    this.id = ++lastConnectionId;
    this.socket = socket;
    this.handler = options.handler;
    this.limits = options.limits ?? CONNECTION_LIMITS_DEFAULT;
    this.logger = options.logger ?? consoleLogger;
    this.requestSerializeType = options.requestSerializeType ?? null;
    this.onCloseHook = options.onClose;
    this.remoteAddress = options.remoteAddress ?? `${socket.remoteAddress}:${socket.remotePort}`;
    this.decoder = new FrameDecoder(this.limits);
    this.context = Object.freeze({ connection: this, connectionId: this.id, remoteAddress: this.remoteAddress });
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    // We coalesce writes ourselves, so Nagle would only add latency.
    socket.setNoDelay(true);
    socket.on('data', this.onData);
    socket.on('drain', this.onDrain);
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
    socket.on('close', this.onSocketClose);
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** Frames received so far; a client uses it to tell a working peer from one that accepts and hangs up. */
  get framesReceived(): number {
    return this.framesReceivedCount;
  }

  /** Invokes awaiting a response or a slot. */
  get pendingInvokes(): number {
    return this.inflight.size + this.waiting.size;
  }

  /** Requests from the peer whose processor has not finished yet. */
  get requestsProcessing(): number {
    return this.requestsInProcess;
  }

  /** Resolves once the socket has closed and every pending invoke has been rejected. */
  whenClosed(): Promise<void> {
    return this.closed;
  }

  /**
   * Sends a request and resolves with its response. The connection sets the request's flag bits and
   * serialize type. Operating failures reject (RequestTimeoutError, ConnectionClosedError,
   * InflightLimitError, OutboundBufferFullError, FrameTooLargeError); only a timeout outside
   * (0, REQUEST_TIMEOUT_MS_MAX] throws, as the programmer error it is.
   */
  invoke(request: RemotingCommand, timeoutMs: number = REQUEST_TIMEOUT_MS_DEFAULT): Promise<RemotingCommand> {
    assert(timeoutMs > 0 && timeoutMs <= REQUEST_TIMEOUT_MS_MAX, `timeout ${timeoutMs} ms outside (0, ${REQUEST_TIMEOUT_MS_MAX}]`);
    if (this.state !== 'open') return Promise.reject(this.closedError());
    const refusal = this.admissionRefusal(request.opaque);
    if (refusal !== null) return Promise.reject(refusal);
    let frame: Buffer[];
    try {
      frame = this.encodeRequest(request, 0);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.inflight.size < this.limits.inflightRequestsMax) {
      const full = this.outboundRefusal(frame);
      if (full !== null) return Promise.reject(full);
    }
    return new Promise<RemotingCommand>((resolve, reject) => {
      const deadline = performance.now() + timeoutMs;
      const pending: PendingInvoke = { request, deadline, timeoutMs, frame, resolve, reject };
      if (this.inflight.size < this.limits.inflightRequestsMax) this.send(pending);
      else this.waiting.set(request.opaque, pending);
      this.armTimer(deadline);
    });
  }

  /** Sends a request with the oneway bit set; the peer sends no response. Throws if it cannot be written. */
  invokeOneway(request: RemotingCommand): void {
    if (this.state !== 'open') throw this.closedError();
    const frame = this.encodeRequest(request, RemotingFlag.ONEWAY);
    const full = this.outboundRefusal(frame);
    if (full !== null) throw full;
    this.writeFrame(frame);
  }

  /** Flushes, half-closes, and destroys the socket if the peer has not closed within the grace period. */
  close(): Promise<void> {
    if (this.state === 'open') {
      this.state = 'closing';
      this.flush();
      this.socket.end();
      this.graceTimer = setTimeout(this.destroyAfterGrace, this.limits.closeGraceMs);
      this.graceTimer.unref();
    }
    return this.closed;
  }

  /** Closes at once; pending invokes reject with ConnectionClosedError citing `cause`. */
  destroy(cause?: Error): void {
    if (this.destroyed || this.state === 'closed') return;
    this.destroyed = true;
    if (this.state === 'open') this.state = 'closing';
    if (cause !== undefined) this.closeCause ??= cause;
    this.socket.destroy();
  }

  // ---- requests we send ------------------------------------------------------------------------

  private admissionRefusal(opaque: number): Error | null {
    if (this.inflight.has(opaque) || this.waiting.has(opaque)) {
      return new RemotingError(`opaque ${opaque} is already awaiting a response from ${this.remoteAddress}`, false);
    }
    if (this.inflight.size >= this.limits.inflightRequestsMax && this.waiting.size >= this.limits.invokeWaitersMax) {
      return new InflightLimitError(
        `${this.remoteAddress}: ${this.inflight.size} requests in flight and ${this.waiting.size} waiting (limits ${this.limits.inflightRequestsMax}/${this.limits.invokeWaitersMax})`,
      );
    }
    return null;
  }

  private encodeRequest(request: RemotingCommand, onewayBit: number): Buffer[] {
    request.flag = (request.flag & ~REQUEST_FLAG_BITS) | onewayBit;
    request.serializeType = this.requestSerializeType ?? this.peerSerializeType;
    return encodeFrame(request, this.limits);
  }

  /** Refuses a frame when the peer is not reading and too much is already queued for it. */
  private outboundRefusal(frame: Buffer[]): Error | null {
    const frameBytes = (frame[0] as Buffer).readInt32BE(0) + FRAME_LENGTH_BYTES;
    const queued = this.socket.writableLength;
    if (queued + frameBytes <= this.limits.outboundBytesMax) return null;
    return new OutboundBufferFullError(`${this.remoteAddress}: ${queued} bytes already queued, limit ${this.limits.outboundBytesMax}`);
  }

  private send(pending: PendingInvoke): void {
    this.inflight.set(pending.request.opaque, pending);
    this.writeFrame(pending.frame as Buffer[]);
    pending.frame = null;
  }

  private promoteWaiters(): void {
    // Bounded by the waiting queue's size.
    for (const [opaque, pending] of this.waiting) {
      if (this.inflight.size >= this.limits.inflightRequestsMax || this.state !== 'open') return;
      this.waiting.delete(opaque);
      const full = this.outboundRefusal(pending.frame as Buffer[]);
      if (full === null) this.send(pending);
      else pending.reject(full);
    }
  }

  private onResponse(response: RemotingCommand): void {
    const pending = this.inflight.get(response.opaque);
    if (pending === undefined) {
      // Late (after a timeout) or unsolicited: nobody is waiting for it.
      this.logger.debug?.(`remoting: dropped response opaque=${response.opaque} from ${this.remoteAddress}`);
      return;
    }
    this.inflight.delete(response.opaque);
    pending.resolve(response);
    this.promoteWaiters();
  }

  private armTimer(deadline: number): void {
    if (deadline >= this.timerDeadline) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timerDeadline = deadline;
    this.timer = setTimeout(this.onTimer, Math.max(0, Math.ceil(deadline - performance.now())));
    this.timer.unref();
  }

  private readonly onTimer = (): void => {
    this.timer = null;
    this.timerDeadline = Infinity;
    const now = performance.now();
    const next = Math.min(this.expire(this.inflight, now), this.expire(this.waiting, now));
    this.promoteWaiters();
    if (next !== Infinity && this.state !== 'closed') this.armTimer(next);
  };

  /** Rejects the expired entries of `table`; returns the earliest remaining deadline. */
  private expire(table: Map<number, PendingInvoke>, now: number): number {
    let next = Infinity;
    for (const [opaque, pending] of table) {
      if (pending.deadline > now) {
        next = Math.min(next, pending.deadline);
        continue;
      }
      table.delete(opaque);
      const where = pending.frame === null ? 'awaiting the response' : 'waiting for an in-flight slot';
      pending.reject(
        new RequestTimeoutError(
          `${requestCodeLabel(pending.request.code)} to ${this.remoteAddress} timed out after ${pending.timeoutMs} ms ${where} (opaque ${opaque})`,
          pending.timeoutMs,
        ),
      );
    }
    return next;
  }

  // ---- requests the peer sends -----------------------------------------------------------------

  private readonly onData = (chunk: Buffer): void => {
    if (this.destroyed || this.state === 'closed') return;
    try {
      let frames: Frame[];
      try {
        frames = this.decoder.push(chunk);
      } catch (error) {
        this.failProtocol(error);
        return;
      }
      for (const frame of frames) {
        if (!this.receiveFrame(frame)) return;
      }
      this.updateInboundFlow();
    } catch (error) {
      // Last line of defence: nothing may escape a socket event handler.
      this.failProtocol(error);
    }
  };

  /** Returns false once the connection has been failed and the remaining frames must be ignored. */
  private receiveFrame(frame: Frame): boolean {
    let command: RemotingCommand;
    try {
      command = decodeCommand(frame);
    } catch (error) {
      this.failProtocol(error);
      return false;
    }
    this.framesReceivedCount++;
    if (isResponse(command)) this.onResponse(command);
    else this.onRequest(command);
    return !this.destroyed && this.state !== 'closed';
  }

  private onRequest(request: RemotingCommand): void {
    // While closing we can no longer answer, so the peer's new requests are not started.
    if (this.state !== 'open') return;
    this.peerSerializeType = request.serializeType;
    let result: ReturnType<Processor>;
    try {
      result = this.handler(request, this.context);
    } catch (error) {
      this.respond(request, this.failureResponse(request, error));
      return;
    }
    if (isPromiseLike(result)) {
      this.requestsInProcess++;
      void this.settle(request, result);
    } else {
      this.respond(request, result ?? null);
    }
  }

  /** Awaits an asynchronous processor; an async method keeps per-request state without a closure. */
  private async settle(request: RemotingCommand, pending: PromiseLike<RemotingCommand | null>): Promise<void> {
    let response: RemotingCommand | null;
    try {
      response = (await pending) ?? null;
    } catch (error) {
      response = this.failureResponse(request, error);
    }
    this.requestsInProcess--;
    this.respond(request, response);
    this.updateInboundFlow();
  }

  /** Writes the response unless the request was oneway. Never throws (it runs inside promise callbacks). */
  private respond(request: RemotingCommand, response: RemotingCommand | null): void {
    if (response === null || isOneway(request) || this.state !== 'open') return;
    try {
      response.opaque = request.opaque;
      response.flag = (response.flag | RemotingFlag.RESPONSE) & ~RemotingFlag.ONEWAY;
      response.serializeType = request.serializeType;
      let frame: Buffer[];
      try {
        frame = encodeFrame(response, this.limits);
      } catch (error) {
        frame = encodeFrame(this.failureResponse(request, error), this.limits);
      }
      this.writeFrame(frame);
    } catch (error) {
      this.failProtocol(error);
    }
  }

  private failureResponse(request: RemotingCommand, error: unknown): RemotingCommand {
    const message = errorMessage(error);
    this.logger.warn(`remoting: ${requestCodeLabel(request.code)} from ${this.remoteAddress} failed: ${message}`);
    return createResponse(request, ResponseCode.SYSTEM_ERROR, message.slice(0, ERROR_REMARK_CHARS_MAX));
  }

  /** Pauses reading while too many requests are in process or the peer is not reading our responses. */
  private updateInboundFlow(): void {
    if (this.state === 'closed') return;
    const limits = this.limits;
    if (!this.readPaused) {
      if (this.requestsInProcess >= limits.inboundRequestsHighWater || this.writeBlocked) {
        this.readPaused = true;
        this.socket.pause();
      }
    } else if (!this.writeBlocked && this.requestsInProcess <= limits.inboundRequestsLowWater) {
      this.readPaused = false;
      this.socket.resume();
    }
  }

  // ---- writing -----------------------------------------------------------------------------------

  private writeFrame(frame: Buffer[]): void {
    const socket = this.socket;
    if (!this.corked) {
      socket.cork();
      this.corked = true;
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        queueMicrotask(this.flushFromMicrotask);
      }
    }
    let full = false;
    for (const buffer of frame) {
      this.corkedBytes += buffer.length;
      if (!socket.write(buffer)) full = true;
    }
    // Only when write() said "full" is a 'drain' guaranteed to follow and unblock us.
    if (full && !this.writeBlocked && socket.writableLength >= this.limits.outboundBytesHighWater) {
      this.writeBlocked = true;
      this.updateInboundFlow();
    }
    if (this.corkedBytes >= this.limits.flushBytesThreshold) this.flush();
  }

  private flush(): void {
    if (!this.corked) return;
    this.corked = false;
    this.corkedBytes = 0;
    this.socket.uncork();
  }

  private readonly flushFromMicrotask = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  private readonly onDrain = (): void => {
    if (!this.writeBlocked) return;
    this.writeBlocked = false;
    this.updateInboundFlow();
  };

  // ---- closing -------------------------------------------------------------------------------------

  /** A peer that sends bytes we cannot decode is cut off: logged once, then destroyed. */
  private failProtocol(error: unknown): void {
    if (this.destroyed || this.state === 'closed') return;
    const cause = error instanceof Error ? error : new Error(String(error));
    this.logger.warn(`remoting: closing connection to ${this.remoteAddress}: ${cause.message}`);
    this.destroy(cause);
  }

  private readonly destroyAfterGrace = (): void => {
    this.graceTimer = null;
    this.destroy();
  };

  /** The peer will send nothing more, so no response can arrive: refuse new invokes from now on.
   * Node ends our side too (allowHalfOpen is off) and 'close' rejects what is pending. */
  private readonly onEnd = (): void => {
    if (this.state === 'open') this.state = 'closing';
  };

  private readonly onError = (error: Error): void => {
    // Resets and refusals are routine; 'close' follows and reports the cause to pending invokes.
    this.closeCause ??= error;
    this.logger.debug?.(`remoting: socket error on ${this.remoteAddress}: ${error.message}`);
  };

  private readonly onSocketClose = (): void => {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.graceTimer !== null) clearTimeout(this.graceTimer);
    this.timer = null;
    this.graceTimer = null;
    this.rejectAll(this.closedError());
    this.notifyClosed();
    this.resolveClosed();
  };

  private rejectAll(error: Error): void {
    for (const table of [this.inflight, this.waiting]) {
      for (const pending of table.values()) pending.reject(error);
      table.clear();
    }
  }

  private notifyClosed(): void {
    if (this.onCloseHook === undefined) return;
    try {
      this.onCloseHook(this, this.closeCause);
    } catch (error) {
      this.logger.warn(`remoting: close listener for ${this.remoteAddress} threw: ${errorMessage(error)}`);
    }
  }

  private closedError(): ConnectionClosedError {
    const cause = this.closeCause;
    const detail = cause === null ? '' : `: ${cause.message}`;
    const state = this.state === 'open' ? 'closed' : this.state;
    return new ConnectionClosedError(`connection to ${this.remoteAddress} is ${state}${detail}`, cause === null ? undefined : { cause });
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<RemotingCommand | null> {
  return value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function';
}
