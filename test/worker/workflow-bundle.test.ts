import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { appendFileSync, cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { REPO_ROOT } from '../../src/local/paths';
import { WORKFLOWS_PATH } from '../../src/worker/paths';
import { bundleSourceDigest, loadPrebuiltBundle } from '../../src/worker/prebuilt-bundle';
import { scratchDir } from '../../src/local/servers';
import * as workflows from '../../src/workflows';
import * as bundleEntry from '../../src/workflows/bundle-entry';
import { workflowBundle } from '../fixtures/temporal';

/**
 * What each cached run costs the worker: the SDK evaluates every module of the workflow bundle
 * again per run, except the preloaded ones. Zod (~190 classes) is preloaded and shared
 * (src/workflows/shared-zod.ts), and so is the memo our schema modules build through
 * (src/common/shared-schemas.ts); the policy file's schemas stay out of workflow code (a lint rule).
 * Before both: 3.0 MiB RSS per sleeping backstop programme; `npm run bench -- sleepers N` prints it.
 */
describe('workflow bundle', () => {
  test('the build’s bundles are this code’s; a prebuilt bundle is used only when made from the code that runs', () => {
    // `npm test` builds first (scripts/bootstrap.mjs), which writes them; the tests run on the unversioned one.
    for (const kind of ['unversioned', 'versioned'] as const) {
      const built = loadPrebuiltBundle(kind);
      assert.ok(built.bundle, `${built.file}: ${built.why ?? ''}`);
      assert.match(built.bundle.code, /exports\.preloadModules = function preloadModules/);
    }
    const dir = scratchDir('runbooks-prebuilt-bundle');
    const file = path.join(dir, 'workflow-bundle.js');
    assert.equal(loadPrebuiltBundle('unversioned', file).why, 'missing');
    writeFileSync(
      file,
      `// durable-runbooks workflow bundle, built from ${bundleSourceDigest('unversioned')}\nvar code = 1;\n`,
    );
    assert.match(loadPrebuiltBundle('unversioned', file).bundle?.code ?? '', /var code = 1;\n$/);
    assert.equal(loadPrebuiltBundle('versioned', file).why, 'stale', 'the other entry point');
    // The same code elsewhere matches; one byte more in one compiled module does not.
    const src = path.join(dir, 'src');
    cpSync(path.join(REPO_ROOT, 'dist', 'src'), src, { recursive: true });
    assert.ok(loadPrebuiltBundle('unversioned', file, src).bundle, 'a copy of the same code');
    appendFileSync(path.join(src, 'workflows', 'backstop-program', 'workflow.js'), '\n');
    assert.equal(loadPrebuiltBundle('unversioned', file, src).why, 'stale', 'a changed workflow module');
    writeFileSync(file, 'var code = 1;\n');
    assert.equal(loadPrebuiltBundle('unversioned', file).why, 'stale', 'no header');
  });

  test('the preload step loads the shared zod module (not tree-shaken away)', async () => {
    const { code } = await workflowBundle();
    const body = /exports\.preloadModules = function preloadModules\(\) \{([^}]*)\}/.exec(code)?.[1];
    assert.ok(body !== undefined, 'the bundle has a preloadModules step');
    assert.match(body, /shared-zod\.js/);
    assert.match(body, /shared-schemas\.js/);
    // Everything else is evaluated per run: the patch fold keeps each run's answer in its module.
    assert.doesNotMatch(body, /patches\.js/, 'the patch fold is per run, never shared');
  });

  test('zod schemas built per workflow instance: the bundle’s own modules build fewer than 700', async () => {
    const { code } = await workflowBundle();
    const modules = [...new Set([...code.matchAll(/"\.\/(dist\/src\/[^"]+\.js)"/g)].map((m) => m[1]!))];
    assert.ok(modules.length > 30, `found ${modules.length} of our modules in the bundle`);
    // A fresh process, so nothing is cached yet; zod calls the global post-processor once per schema.
    const script = `
      let built = 0;
      globalThis.__zod_globalConfig = { postProcessor: () => { built++; } };
      require('zod');
      const before = built;
      for (const file of ${JSON.stringify(modules)}) require(require('node:path').join(${JSON.stringify(REPO_ROOT)}, file));
      process.stdout.write(String(built - before));`;
    const built = Number(
      execFileSync(process.execPath, ['-e', script], { cwd: path.resolve(REPO_ROOT) }).toString(),
    );
    // 1,088 when workflow code imported the policy file's schema; 599 without it.
    assert.ok(built > 100 && built < 700, `${built} zod schemas built by the workflow bundle's modules`);
  });

  test('a run after the first builds almost no schemas: our schema modules build through the shared memo', () => {
    // What the SDK does per created run, in one process: every module evaluated again except the
    // preloaded ones (zod and the memo). The first evaluation builds the schemas, the second finds them.
    const script = `
      let built = 0;
      globalThis.__zod_globalConfig = { postProcessor: () => { built++; } };
      require('zod');
      const src = require('node:path').join(${JSON.stringify(REPO_ROOT)}, 'dist/src/');
      const evaluate = () => {
        for (const file of Object.keys(require.cache))
          if (file.startsWith(src) && !/shared-(schemas|zod)[.]js$/.test(file)) delete require.cache[file];
        const before = built;
        require(src + 'workflows/backstop-program/workflow.js');
        return built - before;
      };
      const first = evaluate();
      process.stdout.write(JSON.stringify([first, evaluate()]));`;
    const [first, second] = JSON.parse(
      execFileSync(process.execPath, ['-e', script], { cwd: REPO_ROOT }).toString(),
    ) as [number, number];
    assert.ok(first > 100, `the first run builds the backstop's schemas (${first})`);
    // 173 per created run before the memo; what is left is built from shared ones at module level.
    assert.ok(second < 10, `a later run builds ${second} schemas`);
  });

  test('each shared schema group has its own key, the path of its module under src/', () => {
    const keys = new Map<string, string>();
    const visit = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const file = path.join(dir, entry.name);
        if (entry.isDirectory()) visit(file);
        else if (file.endsWith('.ts'))
          for (const [, key] of readFileSync(file, 'utf8').matchAll(
            /(?:sharedSchemas|sharedOnFirstUse)\(\s*'([^']+)'/g,
          )) {
            if (key === undefined) continue;
            const module = path.relative(path.join(REPO_ROOT, 'src'), file).replace(/\.ts$/, '');
            assert.equal(key.split('#')[0], module, `${file}: key ${key}`);
            assert.ok(!keys.has(key), `${key} used by ${keys.get(key)} and ${file}`);
            keys.set(key, file);
          }
      }
    };
    visit(path.join(REPO_ROOT, 'src'));
    assert.ok(keys.size >= 10, `${keys.size} shared schema groups`);
  });

  test('the entry loads a runbook only when a run calls it: nothing at import, a backstop programme builds its own schemas only', () => {
    // Zod schemas built by requiring one compiled module in a fresh process (with what it imports).
    const schemasBuiltBy = (module: string): number => {
      const script = `
        let built = 0;
        globalThis.__zod_globalConfig = { postProcessor: () => { built++; } };
        require('zod');
        const before = built;
        require(${JSON.stringify(path.join(REPO_ROOT, 'dist/src/workflows', module))});
        process.stdout.write(String(built - before));`;
      return Number(execFileSync(process.execPath, ['-e', script], { cwd: REPO_ROOT }).toString());
    };
    assert.match(WORKFLOWS_PATH, /bundle-entry\.js$/, 'the worker bundles the lazy entry');
    assert.deepEqual(
      Object.keys(bundleEntry).sort(),
      Object.keys(workflows).sort(),
      'the entry serves every workflow',
    );
    assert.equal(schemasBuiltBy('bundle-entry.js'), 0, 'the entry evaluates no runbook module');
    const backstop = schemasBuiltBy('backstop-program/workflow.js');
    const everyRunbook = schemasBuiltBy('index.js');
    // 365 of 658 when measured; the backstop no longer loads the release rollback it starts by name.
    assert.ok(
      backstop > 100 && backstop < everyRunbook - 200,
      `a backstop programme builds ${backstop} schemas, every runbook ${everyRunbook}`,
    );
  });
});
