// Runs the `ledgermq` command (dist/cli/main.js, what `npx ledgermq` starts) as a child process, as a user would.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI_MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'cli', 'main.js');
const OUTPUT_CHARS_MAX = 1_000_000;

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

const running = new Set<ChildProcess>();

/** SIGKILLs every command still running (a test's cleanup). */
export function killClis(): void {
  for (const child of running) child.kill('SIGKILL');
}

/**
 * Runs `node script ...args` (the ledgermq command unless `script` is given); killed (and rejected) if it runs
 * past `timeoutMs`.
 */
export function cli(args: string[], timeoutMs = 20_000, options: { script?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  const what = `${options.script ? path.basename(options.script) : 'ledgermq'} ${args.join(' ')}`;
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, [options.script ?? CLI_MAIN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FORCE_COLOR: '0', ...options.env },
    });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => {
      if (stdout.length < OUTPUT_CHARS_MAX) stdout += c.toString();
    });
    child.stderr!.on('data', (c: Buffer) => {
      if (stderr.length < OUTPUT_CHARS_MAX) stderr += c.toString();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what} still running after ${timeoutMs} ms; stdout: ${stdout.slice(-500)} stderr: ${stderr.slice(-500)}`));
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      running.delete(child);
      reject(err);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** The command's stdout; fails the test with its output unless it exited with 0. */
export function ok(r: CliResult, what: string): string {
  assert.equal(r.code, 0, `${what} exited with ${r.code ?? r.signal}; stderr: ${r.stderr}; stdout: ${r.stdout}`);
  return r.stdout;
}
