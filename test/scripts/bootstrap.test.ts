import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { REPO_ROOT } from '../../src/local/paths';

/** scripts/bootstrap.mjs decides whether `npm run stack` / `npm test` run `npm ci` again. */
async function dependenciesHash(lockText: string): Promise<string> {
  const bootstrap = (await import(pathToFileURL(path.join(REPO_ROOT, 'scripts', 'bootstrap.mjs')).href)) as {
    dependenciesHash(text: string): string;
  };
  return bootstrap.dependenciesHash(lockText);
}

test("the installed dependencies are current after a version bump (the project's own entry), not after a package changed", async () => {
  const text = readFileSync(path.join(REPO_ROOT, 'package-lock.json'), 'utf8');
  const lock = JSON.parse(text) as { version: string; packages: Record<string, { version?: string }> };
  const bumped = structuredClone(lock);
  bumped.version = bumped.packages['']!.version = '99.0.0';
  assert.equal(await dependenciesHash(JSON.stringify(bumped, null, 2)), await dependenciesHash(text));
  const changed = structuredClone(lock);
  changed.packages['node_modules/zod']!.version = '0.0.1';
  assert.notEqual(await dependenciesHash(JSON.stringify(changed)), await dependenciesHash(text));
});
