/**
 * The messages between the worker and its process launcher (./launcher.ts, ./launcher-process.ts):
 * one request per program to run, one reply when it has ended.
 */

export interface LaunchOptions {
  /** Milliseconds before the program is killed with killSignal (execFile's `timeout`). */
  timeout: number;
  /** Bytes of stdout or stderr past which the program is killed (execFile's `maxBuffer`). */
  maxBuffer?: number;
  killSignal?: NodeJS.Signals;
  /** Written to the program's stdin, which is then closed. */
  input?: string;
}

export interface LaunchRequest {
  id: number;
  file: string;
  args: string[];
  options: LaunchOptions & {
    /** The worker's environment and directory at the call, as execFile in the worker would give. */
    env: Record<string, string>;
    cwd: string;
  };
}

/** What execFile's error said: the fields the callers read (ENOENT, an exit code, a kill). */
export interface LaunchFailure {
  message: string;
  /** The exit code, or a system error's code ("ENOENT"). */
  code?: number | string;
  killed?: boolean;
  signal?: NodeJS.Signals | null;
  errno?: number;
  syscall?: string;
  path?: string;
}

/** The launcher's first message, sent before it takes any request (./launcher.ts: a launcher that never sent it ran nothing). */
export interface LaunchReady {
  ready: true;
}

export interface LaunchReply {
  id: number;
  stdout: string;
  stderr: string;
  error?: LaunchFailure;
}
