/**
 * The process launcher: a small Node process the worker forks once, which runs the programs the
 * worker's activities call (kubectl, helm, the revert command, ssh-keygen) with execFile and an
 * argument array, and answers with their output. See ./launcher.ts for why.
 *
 * When the worker goes away (its IPC channel closes) the launcher exits at once; a program still
 * running goes on to its end, as it would have after the worker's own death. Signals to the
 * worker's process group do not end it (below).
 */
import type { ExecFileException } from 'node:child_process';
import type { LaunchFailure, LaunchReady, LaunchReply, LaunchRequest } from './protocol';
import { runProgram } from './run-program';

function failureOf(error: ExecFileException | Error): LaunchFailure {
  const failure = error as ExecFileException;
  return {
    message: failure.message,
    ...(failure.code !== undefined && failure.code !== null ? { code: failure.code } : {}),
    ...(failure.killed !== undefined ? { killed: failure.killed } : {}),
    ...(failure.signal !== undefined ? { signal: failure.signal } : {}),
    ...(failure.errno !== undefined ? { errno: failure.errno } : {}),
    ...(failure.syscall !== undefined ? { syscall: failure.syscall } : {}),
    ...(failure.path !== undefined ? { path: failure.path } : {}),
  };
}

function reply(message: LaunchReply): void {
  // The worker gone: nobody to answer (the 'disconnect' handler ends this process).
  if (process.connected) process.send?.(message);
}

function run(request: LaunchRequest): void {
  const { id, file, args, options } = request;
  try {
    runProgram(file, args, options, (error, stdout, stderr) =>
      reply({ id, stdout, stderr, ...(error ? { error: failureOf(error) } : {}) }),
    );
  } catch (error) {
    // execFile throws for arguments it cannot take (a NUL byte in one): that call's failure only.
    reply({ id, stdout: '', stderr: '', error: failureOf(error as Error) });
  }
}

// Ready, then the handler, in one turn: no request is taken before the worker can know it started.
process.send?.({ ready: true } satisfies LaunchReady);
process.on('message', (message) => run(message as LaunchRequest));
process.on('disconnect', () => process.exit(0));
// It lives as long as its worker's channel: a Ctrl-C or a SIGTERM to the worker's process group
// stops the worker, which finishes what it was doing (the programs it waits for among it) and
// ends, and then the launcher.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => undefined);
