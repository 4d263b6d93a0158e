// `npm run stack`: check the ports, set up (build only what changed), then bring up the local stack
// (Temporal dev server + Web UI, embedded Postgres with the demo target, the worker) and leave it
// running until Ctrl-C.
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fail, ROOT, setup, SetupError } from './bootstrap.mjs';

function portFree(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
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
      throw new SetupError(
        `port ${port} (${what}) is already in use on 127.0.0.1: is the stack already running? ` +
          `Stop it, or choose another port with ${variable}.`,
      );
    }
  }
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
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => stack.kill(signal));
stack.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
