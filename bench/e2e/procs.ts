// Child processes for the end-to-end bench: spawn with drained, line-split output (the last lines are kept for
// error messages), wait for a line, stop with SIGINT then SIGKILL. Every child is SIGKILLed if the orchestrator
// exits without stopping it. Also free loopback ports.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';

const LINES_KEPT = 200;
const live = new Set<Child>();
process.on('exit', () => {
  for (const c of live) c.killNow();
});

export class Child {
  readonly process: ChildProcess;
  private readonly lines: string[] = [];
  private readonly waiters: Array<{ re: RegExp; resolve: (m: RegExpMatchArray) => void }> = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;

  constructor(
    readonly name: string,
    command: string,
    args: string[],
    options: { echo?: boolean; env?: NodeJS.ProcessEnv } = {},
  ) {
    this.process = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: options.env ?? process.env });
    live.add(this);
    this.exited = new Promise((resolve) => {
      this.process.on('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        live.delete(this);
        resolve({ code, signal });
      });
      this.process.on('error', (error) => {
        this.keep(`spawn error: ${error.message}`);
        this.exitInfo = { code: -1, signal: null };
        live.delete(this);
        resolve({ code: -1, signal: null });
      });
    });
    this.process.stdin!.on('error', () => undefined); // the child may exit before reading
    for (const stream of [this.process.stdout!, this.process.stderr!]) {
      let buffered = '';
      stream.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          this.keep(line);
          if (options.echo) process.stdout.write(`  [${name}] ${line}\n`);
        }
        if (buffered.length > 1 << 20) buffered = buffered.slice(-4096); // a line that never ends
      });
    }
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  get running(): boolean {
    return this.exitInfo === null;
  }

  private keep(line: string): void {
    this.lines.push(line);
    if (this.lines.length > LINES_KEPT) this.lines.splice(0, this.lines.length - LINES_KEPT);
    for (let i = 0; i < this.waiters.length; i++) {
      const m = this.waiters[i]!.re.exec(line);
      if (m) {
        this.waiters[i]!.resolve(m);
        this.waiters.splice(i--, 1);
      }
    }
  }

  tail(n = 30): string {
    return this.lines.slice(-n).map((l) => `    [${this.name}] ${l}`).join('\n');
  }

  /** Resolves with the first line (already seen or to come) matching `re`; fails on timeout or exit. */
  waitForLine(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    for (const line of this.lines) {
      const m = re.exec(line);
      if (m) return Promise.resolve(m);
    }
    return new Promise((resolve, reject) => {
      const waiter = { re, resolve: (m: RegExpMatchArray) => (clearTimeout(timer), resolve(m)) };
      const fail = (why: string): void => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`${this.name}: ${why} while waiting for ${re}\n${this.tail()}`));
      };
      const timer = setTimeout(() => fail(`no line within ${timeoutMs} ms`), timeoutMs);
      this.waiters.push(waiter);
      void this.exited.then(({ code, signal }) => {
        if (this.waiters.includes(waiter)) {
          clearTimeout(timer);
          // let the last lines of output arrive before giving up
          setTimeout(() => {
            for (const line of this.lines) {
              const m = re.exec(line);
              if (m) return waiter.resolve(m);
            }
            fail(`exited (${signal ?? `code ${code}`})`);
          }, 50);
        }
      });
    });
  }

  write(line: string): void {
    if (this.running && this.process.stdin!.writable) this.process.stdin!.write(line + '\n');
  }

  killNow(): void {
    if (this.running) this.process.kill('SIGKILL');
  }

  /** SIGINT (or `signal`), then SIGKILL after `graceMs`; resolves once the process is gone. */
  async stop(graceMs = 8000, signal: NodeJS.Signals = 'SIGINT'): Promise<void> {
    if (!this.running) return;
    this.process.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const gone = await Promise.race([this.exited.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), graceMs)))]);
    clearTimeout(timer);
    if (!gone) {
      this.process.kill('SIGKILL');
      await this.exited;
    }
  }

  /** Waits for the process to end by itself; SIGKILLs it after `timeoutMs`. */
  async join(timeoutMs: number): Promise<void> {
    if (!this.running) return;
    let timer: NodeJS.Timeout | undefined;
    const gone = await Promise.race([this.exited.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeoutMs)))]);
    clearTimeout(timer);
    if (!gone) await this.stop(2000, 'SIGTERM');
  }
}

/** SIGKILLs every child still running (used on fatal errors and signals). */
export function killAll(): void {
  for (const c of live) c.killNow();
}

async function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A base port such that base + each offset is free on 127.0.0.1 (for tools that derive ports from a base). */
export async function freePortBlock(offsets: number[], attempts = 100): Promise<number> {
  const span = Math.max(...offsets) + 1;
  for (let i = 0; i < attempts; i++) {
    const base = 20_000 + Math.floor(Math.random() * (40_000 - span));
    let ok = true;
    for (const off of offsets) {
      if (!(await isFree(base + off))) {
        ok = false;
        break;
      }
    }
    if (ok) return base;
  }
  throw new Error(`no free block of loopback ports found after ${attempts} attempts`);
}

/** One free loopback port (the kernel's choice). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}
