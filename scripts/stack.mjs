// `npm run stack`: check the ports, set up (build only what changed), then bring up the local stack
// (Temporal dev server + Web UI, embedded Postgres with the demo target, the worker) and leave it
// running until Ctrl-C.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
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
 * A module of the build, if there is one: leftovers of a stack, or a stack running, exist only
 * after a stack ran, so from a build.
 */
async function fromBuild(file) {
  const module = path.join(ROOT, 'dist', 'src', 'local', file);
  return existsSync(module) ? import(pathToFileURL(module).href) : undefined;
}

/**
 * The running stack's pid, if there is one: a stack whose terminal is gone (its wrapper killed,
 * started with nohup) can only be stopped by its pid.
 */
async function runningStackPid() {
  return (await fromBuild('stack-connection.js'))?.runningStack?.(process.env)?.pid;
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
      const pid = await runningStackPid();
      const who = pid
        ? `the stack is already running (pid ${pid}: Ctrl-C in its terminal, or kill ${pid}, stops it). Or choose`
        : 'is the stack already running? Stop it, or choose';
      throw new SetupError(
        `port ${port} (${what}) is already in use on 127.0.0.1: ${who} another port with ${variable}.`,
      );
    }
  }
}

/** What a stack that did not stop left running (killed, crashed, its terminal closed) holds the ports checked next. */
async function stopLeftovers() {
  const leftovers = await fromBuild('stack-leftovers.js');
  const { stackDir } = (await fromBuild('stack-connection.js')) ?? {};
  if (leftovers && stackDir)
    await leftovers.stopLeftoverProcesses(stackDir(process.env), (line) => process.stdout.write(`${line}\n`));
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
