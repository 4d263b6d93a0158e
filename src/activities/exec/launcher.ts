/**
 * Runs a program for an activity the way `execFile` does (an argument array, never a shell; a
 * timeout; output captured), but from a small process the worker forks once (the launcher,
 * ./launcher-process.ts) rather than from the worker itself.
 *
 * Why: Node starts a program with fork() + exec() in the event loop's thread, and fork copies the
 * caller's page tables, so the start blocks the worker for a time that grows with its memory:
 * ~10 ms per kubectl call from a test worker of 500–650 MiB (1 ms from a 50 MiB process),
 * during which no workflow task, heartbeat or other activity of the worker moves. In a fault
 * matrix run those starts were a third of the worker's CPU time. From the launcher (41 MiB) a
 * start costs its own ~1 ms and the worker only a message.
 *
 * If the launcher cannot be started (fork fails, or it ends before it says it is ready, so it ran
 * nothing), the programs are started from the worker as before, from then on. If it dies once
 * ready, each call it had fails (retryable, like a kubectl that died: it may have run) and the
 * next call starts a new launcher.
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { LaunchFailure, LaunchOptions, LaunchReady, LaunchReply, LaunchRequest } from './protocol';
import { runProgram } from './run-program';

export type { LaunchOptions } from './protocol';

/** execFile's error, with the fields the callers read. */
export interface LaunchError extends Error {
  code?: number | string | null;
  killed?: boolean;
  signal?: NodeJS.Signals | null;
}

export type LaunchCallback = (error: LaunchError | null, stdout: string, stderr: string) => void;

/** What a failed call says when its program printed nothing: its exit code, or why it has none. */
export function failureWithoutOutput(error: LaunchError): string {
  return typeof error.code === 'number' ? `exit code ${error.code}` : error.message;
}

const LAUNCHER_SCRIPT = path.join(__dirname, 'launcher-process.js');

function errorOf(failure: LaunchFailure): LaunchError {
  return Object.assign(new Error(failure.message), failure);
}

/** The environment as execFile would pass it (unset variables left out). */
function currentEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined) env[name] = value;
  return env;
}

class Launcher {
  private child: ChildProcess | undefined;
  /** The launcher could not be started: the worker starts its programs itself. */
  private unavailable = false;
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { file: string; args: string[]; options: LaunchOptions; callback: LaunchCallback }
  >();

  run(file: string, args: string[], options: LaunchOptions, callback: LaunchCallback): void {
    const child = this.unavailable ? undefined : (this.child ?? this.start());
    if (!child) return runProgram(file, args, options, callback);
    const request: LaunchRequest = {
      id: this.nextId++,
      file,
      args,
      options: { ...options, env: currentEnv(), cwd: process.cwd() },
    };
    this.pending.set(request.id, { file, args, options, callback });
    // A program running keeps the worker's process alive, as its own child would.
    if (this.pending.size === 1) this.hold(child, true);
    child.send(request, (error) => {
      if (error) this.settle({ id: request.id, stdout: '', stderr: '', error: { message: error.message } });
    });
  }

  private start(): ChildProcess | undefined {
    let child: ChildProcess;
    try {
      child = fork(LAUNCHER_SCRIPT, [], {
        // A plain node: none of the worker's flags (heap size, inspector), none of NODE_OPTIONS.
        execArgv: [],
        env: { PATH: process.env.PATH ?? '' },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        serialization: 'advanced',
      });
    } catch (error) {
      this.giveUp(error instanceof Error ? error.message : String(error));
      return undefined;
    }
    let ready = false;
    child.on('message', (message: LaunchReply | LaunchReady) => {
      if ('ready' in message) ready = true;
      else this.settle(message);
    });
    const gone = (why: string) => {
      if (this.child !== child) return;
      this.child = undefined;
      if (!ready) {
        // It took no request: each is started here instead, once.
        this.giveUp(why);
        for (const [id, { file, args, options, callback }] of this.pending) {
          this.pending.delete(id);
          runProgram(file, args, options, callback);
        }
        return;
      }
      for (const [id, { file }] of this.pending)
        this.settle({
          id,
          stdout: '',
          stderr: '',
          error: { code: 'ELAUNCHER', message: `the process launcher ${why} before ${file} ended` },
        });
    };
    // 'close': once it has exited and its channel is read to the end (every answer it sent taken).
    child.on('close', (code, signal) => gone(`exited (${signal ?? `code ${String(code)}`})`));
    child.on('error', (error) => gone(`failed (${error.message})`));
    this.child = child;
    this.hold(child, false);
    return child;
  }

  private giveUp(why: string): void {
    this.unavailable = true;
    process.emitWarning(
      `the process launcher could not be started (${why}): the worker starts its programs itself`,
      { code: 'RUNBOOKS_LAUNCHER_UNAVAILABLE' },
    );
  }

  private settle(reply: LaunchReply): void {
    const call = this.pending.get(reply.id);
    if (!call) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0 && this.child) this.hold(this.child, false);
    call.callback(reply.error ? errorOf(reply.error) : null, reply.stdout, reply.stderr);
  }

  /** An idle launcher never keeps the worker's process from ending. */
  private hold(child: ChildProcess, busy: boolean): void {
    const handles = [child, child.channel] as ({ ref(): void; unref(): void } | null | undefined)[];
    for (const handle of handles) {
      if (busy) handle?.ref();
      else handle?.unref();
    }
  }
}

const launcher = new Launcher();

/**
 * Runs `file` with `args` (no shell) from the worker's process launcher; calls back as execFile
 * does: an error with the exit code, or a system error's code ("ENOENT"), or `killed` after the
 * timeout; stdout and stderr as text.
 */
export function launchFile(
  file: string,
  args: string[],
  options: LaunchOptions,
  callback: LaunchCallback,
): void {
  launcher.run(file, args, options, callback);
}
