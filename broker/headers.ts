// Reading request headers (ext fields are strings on the wire; ali-ons sends numbers, which the remoting layer
// already turned into strings). A missing or malformed required field is an operating error answered with a
// clear remark, never an exception that escapes the processor.
import { ResponseCode, createResponse, type Processor, type RemotingCommand, type RequestContext } from '../remoting/index.js';

export class BadRequestError extends Error {
  constructor(
    message: string,
    readonly code: number = ResponseCode.SYSTEM_ERROR,
  ) {
    super(message);
    this.name = 'BadRequestError';
  }
}

const INTEGER = /^-?\d+$/;

export class Header {
  private readonly fields: Record<string, string>;

  constructor(request: RemotingCommand) {
    this.fields = request.extFields ?? {};
  }

  has(name: string): boolean {
    const v = this.fields[name];
    return v !== undefined && v !== null && v !== '';
  }

  str(name: string): string {
    const v = this.fields[name];
    if (v === undefined || v === null || v === '') throw new BadRequestError(`the request header field '${name}' is missing`);
    return v;
  }

  optStr(name: string): string | undefined {
    const v = this.fields[name];
    return v === undefined || v === null || v === '' ? undefined : v;
  }

  int(name: string): number {
    return this.integer(name, this.str(name), -0x80000000, 0x7fffffff);
  }

  optInt(name: string, fallback: number): number {
    const v = this.optStr(name);
    return v === undefined ? fallback : this.integer(name, v, -0x80000000, 0x7fffffff);
  }

  long(name: string): number {
    return this.integer(name, this.str(name), Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  }

  optLong(name: string, fallback: number): number {
    const v = this.optStr(name);
    return v === undefined ? fallback : this.integer(name, v, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  }

  bool(name: string, fallback = false): boolean {
    const v = this.optStr(name);
    if (v === undefined) return fallback;
    if (v === 'true') return true;
    if (v === 'false') return false;
    throw new BadRequestError(`the request header field '${name}' must be true or false, got ${JSON.stringify(v.slice(0, 40))}`);
  }

  private integer(name: string, v: string, min: number, max: number): number {
    const n = Number(v);
    if (!INTEGER.test(v) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new BadRequestError(`the request header field '${name}' must be an integer, got ${JSON.stringify(v.slice(0, 40))}`);
    }
    return n;
  }
}

/** Wraps a processor so header problems become a clear error response instead of a generic failure. */
export function guarded(fn: (request: RemotingCommand, rc: RequestContext) => Promise<RemotingCommand | null> | RemotingCommand | null): Processor {
  return async (request, rc) => {
    try {
      return await fn(request, rc);
    } catch (err) {
      if (err instanceof BadRequestError) return createResponse(request, err.code, err.message);
      throw err;
    }
  };
}

export function parseJsonBody<T>(request: RemotingCommand, what: string): T {
  const body = request.body;
  if (!Buffer.isBuffer(body) || body.length === 0) throw new BadRequestError(`the ${what} body is missing`);
  try {
    return JSON.parse(body.toString('utf8')) as T;
  } catch (err) {
    throw new BadRequestError(`the ${what} body is not valid JSON: ${(err as Error).message}`);
  }
}
