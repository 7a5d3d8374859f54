// What every name-server processor shares: the tables, the metrics, the event reporter, and the
// translation of a refused request into an error response.
import { createResponse, requestCodeLabel, type Body, type Processor, type RemotingCommand, type RequestContext } from '../../remoting/index.js';
import { NamesrvRequestError } from '../errors.js';
import type { KvConfig } from '../kv-config.js';
import type { NamesrvMetrics } from '../metrics.js';
import type { RouteEvent, RouteInfo } from '../route-info.js';

export interface NamesrvState {
  readonly routes: RouteInfo;
  readonly kv: KvConfig;
  readonly metrics: NamesrvMetrics;
  /** Logs and counts the route changes a request caused. */
  readonly report: (events: readonly RouteEvent[]) => void;
}

export type SyncProcessor = (request: RemotingCommand, ctx: RequestContext) => RemotingCommand;

/** Answers a NamesrvRequestError with its code and a remark naming the request; other errors are bugs. */
export function guarded(handler: SyncProcessor): Processor {
  return (request, ctx) => {
    try {
      return handler(request, ctx);
    } catch (error) {
      if (!(error instanceof NamesrvRequestError)) throw error;
      return createResponse(request, error.responseCode, `${requestCodeLabel(request.code)}: ${error.message}`);
    }
  };
}

/** The body as one buffer, or null when there is none. */
export function bodyBuffer(body: Body): Buffer | null {
  if (body === null) return null;
  const buffer = Buffer.isBuffer(body) ? body : Buffer.concat(body as readonly Buffer[]);
  return buffer.length === 0 ? null : buffer;
}
