// `npm run stack`: check the ports, set up (build only what changed), then bring up the local stack
// (Temporal dev server + Web UI, embedded Postgres with the demo target, the worker) and leave it
// running until Ctrl-C.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { fail, ROOT, setup, SetupError } from './bootstrap.mjs';

function portFree(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * The running stack's pid, from the address file it writes, if that process is alive: a stack
 * whose terminal is gone (its wrapper killed, started with nohup) can only be stopped by its pid.
 */
function runningStackPid() {
  let pid;
  try {
    const dir = path.resolve(process.env.RUNBOOKS_STACK_DIR ?? path.join(ROOT, '.stack'));
    pid = JSON.parse(readFileSync(path.join(dir, 'connection.json'), 'utf8')).pid;
    process.kill(pid, 0);
    return pid;
  } catch (error) {
    // Alive but another user's: still the stack.
    return error?.code === 'EPERM' ? pid : undefined;
  }
}

/** Before anything is built or started: a second stack must not disturb the one already running. */
async function requirePorts() {
  const ports = [
    [Number(process.env.STACK_TEMPORAL_PORT ?? 7233), 'Temporal frontend', 'STACK_TEMPORAL_PORT'],
    [Number(process.env.STACK_UI_PORT ?? 8233), 'Temporal Web UI', 'STACK_UI_PORT'],
    ...(process.env.DATABASE_URL
      ? []
      : [[Number(process.env.STACK_PG_PORT ?? 55432), 'Postgres', 'STACK_PG_PORT']]),
  ];
  for (const [port, what, variable] of ports) {
    if (!(await portFree(port))) {
      const pid = runningStackPid();
      const who = pid
        ? `the stack is already running (pid ${pid}: Ctrl-C in its terminal, or kill ${pid}, stops it). Or choose`
        : 'is the stack already running? Stop it, or choose';
      throw new SetupError(
        `port ${port} (${what}) is already in use on 127.0.0.1: ${who} another port with ${variable}.`,
      );
    }
  }
}

/**
 * What a stack that did not stop left running (killed, crashed, its terminal closed) holds the
 * ports checked next: stopped first (dist/src/local/stack-leftovers.js; such leftovers exist only
 * after a stack ran, so from a build).
 */
async function stopLeftovers() {
  const module = path.join(ROOT, 'dist', 'src', 'local', 'stack-leftovers.js');
  if (!existsSync(module)) return;
  const { stopLeftoverProcesses } = await import(pathToFileURL(module).href);
  const { stackDir } = await import(
    pathToFileURL(path.join(ROOT, 'dist', 'src', 'local', 'stack-connection.js')).href
  );
  await stopLeftoverProcesses(stackDir(process.env), (line) => process.stdout.write(`${line}\n`));
}

try {
  await stopLeftovers();
} catch (error) {
  // The port check below still says what holds a port.
  process.stderr.write(`! could not stop what an earlier stack left running: ${error?.message ?? error}\n`);
}
try {
  await requirePorts();
  setup();
} catch (error) {
  fail(error);
}
const stack = spawn(
  process.execPath,
  [path.join(ROOT, 'dist', 'src', 'stack', 'main.js'), ...process.argv.slice(2)],
  {
    cwd: ROOT,
    stdio: 'inherit',
  },
);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => stack.kill(signal));
stack.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
