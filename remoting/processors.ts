// Dispatch of incoming requests by request code: one processor per code, shared by server and client.
import assert from 'node:assert';
import { requestCodeLabel, ResponseCode } from './codes.js';
import { createResponse, type RemotingCommand } from './command.js';
import type { Connection } from './connection.js';

/** What a processor learns about where a request came from. One object per connection. */
export interface RequestContext {
  /** The connection the request arrived on: also usable to send requests or oneways back to the peer. */
  readonly connection: Connection;
  readonly connectionId: number;
  /** `host:port` of the peer. */
  readonly remoteAddress: string;
}

/** A response, null for "no response" (oneway requests never get one), or a promise of either. */
export type ProcessorResult = RemotingCommand | null | Promise<RemotingCommand | null>;

/**
 * Handles one request. Throwing or rejecting is answered with SYSTEM_ERROR carrying the error message.
 * The connection fills in the response's opaque, response flag and serialize type from the request.
 */
export type Processor = (request: RemotingCommand, ctx: RequestContext) => ProcessorResult;

export class ProcessorTable {
  private readonly byCode = new Map<number, Processor>();

  /** Registering a second processor for a code is a programmer error. */
  register(code: number, processor: Processor): void {
    assert(Number.isInteger(code), `request code must be an integer, got ${code}`);
    assert(!this.byCode.has(code), `a processor for ${requestCodeLabel(code)} is already registered`);
    this.byCode.set(code, processor);
  }

  has(code: number): boolean {
    return this.byCode.has(code);
  }

  /** The connection's request handler: routes by code; an unknown code gets Java's exact answer. */
  readonly dispatch: Processor = (request, ctx) => {
    const processor = this.byCode.get(request.code);
    if (processor === undefined) {
      return createResponse(request, ResponseCode.REQUEST_CODE_NOT_SUPPORTED, ` request type ${request.code} not supported`);
    }
    return processor(request, ctx);
  };
}
