// NATS JetStream as the bench's reference system: Debian's nats-server (installed with apt-get when missing),
// one server on a free loopback port with JetStream on and its store in a temp dir.
import { execFileSync } from 'node:child_process';
import { ensureDebianPackage, which } from '../e2e/debian-package.js';
import { Child, freePort } from '../e2e/procs.js';

/** Path of nats-server, installing Debian's package first if needed; throws a clear error when impossible. */
export function ensureNatsServer(log: (line: string) => void): string {
  return ensureDebianPackage('nats-server', () => which('nats-server'), log);
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
