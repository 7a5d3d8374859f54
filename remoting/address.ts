// `host:port` addresses as RocketMQ writes them (`10.0.0.5:10911`, `[::1]:9876` for IPv6).
import { RemotingError } from './errors.js';

export interface HostPort {
  host: string;
  port: number;
}

const PORT_MAX = 65535;

/** Parses `host:port`; throws a RemotingError (not retriable) for anything else. */
export function parseAddress(address: string): HostPort {
  const colon = address.lastIndexOf(':');
  const rawHost = colon > 0 ? address.slice(0, colon) : '';
  const host = rawHost.startsWith('[') && rawHost.endsWith(']') ? rawHost.slice(1, -1) : rawHost;
  const portText = address.slice(colon + 1);
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : Number.NaN;
  if (host === '' || !(port >= 1 && port <= PORT_MAX)) {
    throw new RemotingError(`invalid address ${JSON.stringify(address)}: expected host:port`, false);
  }
  return { host, port };
}

export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
