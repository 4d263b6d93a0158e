// `npm run bench`: set up, then print Procedure A's figures (see bench/restore.bench.ts).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fail, ROOT, setup } from './bootstrap.mjs';

try {
  setup();
} catch (error) {
  fail(error);
}
const result = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'bench', 'restore.bench.js')], {
  cwd: ROOT,
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
