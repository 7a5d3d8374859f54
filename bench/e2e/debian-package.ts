// Third-party servers the benches compare against come from Debian packages, installed with apt-get (as root, or
// through `sudo -n`) when missing; every failure is a clear error naming the command to run by hand.
import { spawnSync } from 'node:child_process';

export function which(cmd: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

const APT_TIMEOUT_MS = 600_000;

/** Installs Debian package `pkg` unless `present()` already finds what is needed; returns what `present()` finds
 *  afterwards. Tries `apt-get install` first, then `apt-get update` and the install again. */
export function ensureDebianPackage(pkg: string, present: () => string | null, log: (line: string) => void): string {
  const found = present();
  if (found) return found;
  const root = process.getuid?.() === 0;
  const prefix = root ? [] : which('sudo') ? ['sudo', '-n'] : null;
  if (prefix === null) throw new Error(`${pkg} is not installed, and installing it needs root (no sudo found): run \`apt-get install -y ${pkg}\` as root`);
  if (which('apt-get') === null) throw new Error(`${pkg} is not installed and apt-get is not available: install ${pkg} by hand`);
  const run = (args: string[]): { ok: boolean; out: string } => {
    const [cmd, ...rest] = [...prefix, ...args];
    const r = spawnSync(cmd!, rest, { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeout: APT_TIMEOUT_MS });
    return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
  };
  log(`${pkg} not found: apt-get install -y ${pkg}`);
  let r = run(['apt-get', 'install', '-y', pkg]);
  if (!r.ok) {
    log('install failed; apt-get update, then trying again');
    const u = run(['apt-get', 'update']);
    r = run(['apt-get', 'install', '-y', pkg]);
    if (!r.ok) {
      const tail = (u.ok ? r.out : `${u.out}\n${r.out}`).trim().split('\n').slice(-8).join('\n    ');
      throw new Error(`${pkg} is not installed and \`apt-get install -y ${pkg}\` failed:\n    ${tail}`);
    }
  }
  const after = present();
  if (!after) throw new Error(`apt-get installed ${pkg} but it is still not found`);
  return after;
}
