// NATS JetStream as the bench's reference system: Debian's nats-server (installed with apt-get when missing),
// one server on a free loopback port with JetStream on and its store in a temp dir.
import { execFileSync, spawnSync } from 'node:child_process';
import { Child, freePort } from '../e2e/procs.js';

function which(cmd: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** Path of nats-server, installing Debian's package first if needed; throws a clear error when impossible. */
export function ensureNatsServer(log: (line: string) => void): string {
  const found = which('nats-server');
  if (found) return found;
  const root = process.getuid?.() === 0;
  const prefix = root ? [] : which('sudo') ? ['sudo', '-n'] : null;
  if (prefix === null) throw new Error('nats-server is not installed, and installing it needs root (no sudo found): run `apt-get install -y nats-server` as root, or put nats-server on PATH');
  if (which('apt-get') === null) throw new Error('nats-server is not installed and apt-get is not available: install nats-server (https://nats.io) and put it on PATH');
  const run = (args: string[]): { ok: boolean; out: string } => {
    const [cmd, ...rest] = [...prefix, ...args];
    const r = spawnSync(cmd!, rest, { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeout: 300_000 });
    return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
  };
  log('nats-server not found: apt-get install -y nats-server');
  let r = run(['apt-get', 'install', '-y', 'nats-server']);
  if (!r.ok) {
    log('install failed; apt-get update, then trying again');
    const u = run(['apt-get', 'update']);
    r = run(['apt-get', 'install', '-y', 'nats-server']);
    if (!r.ok) {
      const tail = (u.ok ? r.out : `${u.out}\n${r.out}`).trim().split('\n').slice(-8).join('\n    ');
      throw new Error(`nats-server is not installed and \`apt-get install -y nats-server\` failed:\n    ${tail}`);
    }
  }
  const path = which('nats-server');
  if (!path) throw new Error('apt-get installed nats-server but it is not on PATH');
  return path;
}

export function natsServerVersion(bin: string): string {
  try {
    return execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

export class NatsServer {
  private constructor(
    readonly child: Child,
    readonly url: string,
  ) {}

  static async start(bin: string, storeDir: string, echo = false): Promise<NatsServer> {
    const port = await freePort();
    const child = new Child('nats-server', bin, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir], { echo });
    try {
      await child.waitForLine(/Server is ready/, 30_000);
    } catch (error) {
      await child.stop(3000);
      throw error;
    }
    return new NatsServer(child, `127.0.0.1:${port}`);
  }

  async stop(): Promise<void> {
    await this.child.stop(8000, 'SIGINT');
  }
}
