// A tiny HTTP endpoint serving one prom-client registry at /metrics, shared by the name server and the broker.
import http from 'node:http';
import type net from 'node:net';

/** The part of a prom-client `Registry` the endpoint needs (any content type). */
export interface MetricsSource {
  metrics(): Promise<string>;
  readonly contentType: string;
}

export interface MetricsServerOptions {
  /** Interface to bind; default loopback, so metrics are not exposed by accident. */
  host?: string;
  /** Port to bind; 0 (default) picks a free one, read it back from the handle. */
  port?: number;
}

export interface MetricsServerHandle {
  readonly port: number;
  /** Stops accepting and drops open scrape connections (keep-alive scrapers would otherwise delay it). */
  close(): Promise<void>;
}

export const METRICS_PATH = '/metrics';
/** Concurrent scrape connections; Prometheus needs one per scraper. */
export const METRICS_CONNECTIONS_MAX = 64;
/** A scrape request must arrive completely within this time. */
export const METRICS_REQUEST_TIMEOUT_MS = 10_000;

export async function startMetricsServer(registry: MetricsSource, options: MetricsServerOptions = {}): Promise<MetricsServerHandle> {
  const server = http.createServer({ requestTimeout: METRICS_REQUEST_TIMEOUT_MS }, (request, response) => {
    void serveRequest(registry, request, response);
  });
  server.maxConnections = METRICS_CONNECTIONS_MAX;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  // After listening, errors (e.g. EMFILE on accept) must not crash the process.
  server.on('error', () => undefined);
  const port = (server.address() as net.AddressInfo).port;
  let closing: Promise<void> | null = null;
  return {
    port,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

async function serveRequest(registry: MetricsSource, request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
  const path = (request.url ?? '').split('?', 1)[0];
  if (path !== METRICS_PATH) {
    sendText(response, 404, 'not found: metrics are served at /metrics\n');
    return;
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('Allow', 'GET, HEAD');
    sendText(response, 405, 'method not allowed\n');
    return;
  }
  let text: string;
  try {
    text = await registry.metrics();
  } catch (error) {
    sendText(response, 500, `collecting metrics failed: ${error instanceof Error ? error.message : String(error)}\n`);
    return;
  }
  response.statusCode = 200;
  response.setHeader('Content-Type', registry.contentType);
  response.end(request.method === 'HEAD' ? undefined : text);
}

function sendText(response: http.ServerResponse, status: number, text: string): void {
  response.statusCode = status;
  response.setHeader('Content-Type', 'text/plain; charset=utf-8');
  response.end(text);
}
