// Message ids (RocketMQ section 4.5 of rocketmq-protocol.md).
//  - offset message id: store host IPv4 (4) + port (4) + commit-log offset (8), as 32 upper-case hex characters;
//  - UNIQ_KEY: client IPv4 (4) + pid (2) + a per-process random (4) + ms since the start of the month (4) + counter (2).
import { randomInt } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import { readInt64BE, writeInt64BE, formatIPv4 } from './bytes.js';
import type { HostV4 } from './message.js';

const HEX = '0123456789ABCDEF';

function toHex(buf: Buffer): string {
  let out = '';
  for (let i = 0; i < buf.length; i++) out += HEX[buf[i]! >> 4]! + HEX[buf[i]! & 15]!;
  return out;
}

const offsetIdScratch = Buffer.alloc(16);

export function createOffsetMessageId(host: HostV4, commitLogOffset: number): string {
  offsetIdScratch.writeUInt32BE(host.ip >>> 0, 0);
  offsetIdScratch.writeInt32BE(host.port, 4);
  writeInt64BE(offsetIdScratch, commitLogOffset, 8);
  return toHex(offsetIdScratch);
}

export interface OffsetMessageId {
  address: string;
  host: HostV4;
  commitLogOffset: number;
}

/** Parses a 32-character offset message id; returns null when it is not one. */
export function parseOffsetMessageId(id: string): OffsetMessageId | null {
  if (!/^[0-9A-Fa-f]{32}$/.test(id)) return null;
  const buf = Buffer.from(id, 'hex');
  const host = { ip: buf.readUInt32BE(0), port: buf.readInt32BE(4) };
  return { address: `${formatIPv4(host.ip)}:${host.port}`, host, commitLogOffset: readInt64BE(buf, 8) };
}

function localIPv4(): Buffer {
  for (const list of Object.values(networkInterfaces())) {
    for (const addr of list ?? []) {
      if (addr.family === 'IPv4' && !addr.internal) return Buffer.from(addr.address.split('.').map(Number));
    }
  }
  return Buffer.from([127, 0, 0, 1]);
}

const HEX_BYTE: string[] = Array.from({ length: 256 }, (_, i) => HEX[i >> 4]! + HEX[i & 15]!);

function hex32(v: number): string {
  return HEX_BYTE[(v >>> 24) & 255]! + HEX_BYTE[(v >>> 16) & 255]! + HEX_BYTE[(v >>> 8) & 255]! + HEX_BYTE[v & 255]!;
}

/** Generates UNIQ_KEY values like the Java client's MessageClientIDSetter (opaque to everyone else). */
export class UniqueIdGenerator {
  private readonly prefix: string;
  private counter = 0;
  private monthStart = 0;
  private nextMonthStart = 0;

  constructor(ip: Buffer = localIPv4(), pid = process.pid, random = randomInt(0, 0x7fffffff)) {
    const head = Buffer.alloc(10);
    ip.copy(head, 0, 0, 4);
    head.writeUInt16BE(pid & 0xffff, 4);
    head.writeInt32BE(random, 6);
    this.prefix = toHex(head);
  }

  next(now = Date.now()): string {
    if (now >= this.nextMonthStart) this.resetMonth(now);
    const counter = this.counter;
    this.counter = (counter + 1) & 0xffff;
    return this.prefix + hex32((now - this.monthStart) | 0) + HEX_BYTE[counter >> 8]! + HEX_BYTE[counter & 255]!;
  }

  private resetMonth(now: number): void {
    const d = new Date(now);
    this.monthStart = new Date(d.getFullYear(), d.getMonth(), 1).getTime();
    this.nextMonthStart = new Date(d.getFullYear(), d.getMonth() + 1, 1).getTime();
  }
}

export const uniqueIds = new UniqueIdGenerator();
