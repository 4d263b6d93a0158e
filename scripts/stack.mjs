// `npm run stack`: set up, then bring up the local stack (Temporal dev server + Web UI, embedded
// Postgres with the demo target, the worker) and leave it running until Ctrl-C.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fail, ROOT, setup } from './bootstrap.mjs';

try {
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
