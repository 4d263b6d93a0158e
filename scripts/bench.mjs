// `npm run bench`: set up, then print Procedure A's figures (see bench/restore.bench.ts).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fail, ROOT, setup } from './bootstrap.mjs';

try {
  setup();
} catch (error) {
  fail(error);
}
// `npm run bench -- sleepers 1000`: the sleeping-programmes benchmark (bench/sleepers.bench.ts);
// `npm run bench -- overhead 10`: Procedure A's activities against a no-op (bench/overhead.bench.ts);
// `npm run bench -- replay 1000`: a programme's start replayed in one process (bench/replay.bench.ts);
// `npm run bench -- launcher 200`: a program's start from the worker and from its launcher (bench/launcher.bench.ts).
const [which = 'restore', ...args] = process.argv.slice(2);
if (!['restore', 'sleepers', 'overhead', 'replay', 'launcher'].includes(which))
  fail(
    new Error(
      `npm run bench -- [restore | sleepers N | overhead RUNS | replay N | launcher N]: unknown "${which}"`,
    ),
  );
const result = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'bench', `${which}.bench.js`), ...args], {
  cwd: ROOT,
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
