// ESLint 9 flat config: type-aware rules everywhere, and a determinism fence around workflow code.
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

const nodeBuiltins = builtinModules.flatMap((name) => [name, `node:${name}`]);

/** Import patterns that reach into the given rooms of src/. */
function rooms(names, why) {
  return names.map((name) => ({ group: [`**/${name}`, `**/${name}/**`], message: `${why} (not ${name}/).` }));
}

/**
 * Workflow code runs in Temporal's deterministic sandbox: no Node built-ins, no I/O libraries,
 * activities imported for their types only, nothing worker-side.
 */
function workflowImports(extraPatterns = [], { allowPatched = false } = {}) {
  return {
    paths: [
      ...(allowPatched
        ? []
        : [
            {
              name: '@temporalio/workflow',
              importNames: ['patched'],
              message:
                'Ask isPatched (workflows/shared/patches.ts): a new run then records one fold marker, not one per patch.',
            },
          ]),
      ...nodeBuiltins.map((name) => ({ name, message: 'Workflow code must not use Node built-ins.' })),
      { name: 'pg', message: 'Workflow code must not do I/O: use an activity.' },
      { name: '@temporalio/activity', message: 'Workflow code must not import the activity API.' },
      { name: '@temporalio/client', message: 'Workflow code must not import the client.' },
      { name: '@temporalio/worker', message: 'Workflow code must not import the worker.' },
    ],
    patterns: [
      {
        group: ['**/activities', '**/activities/**'],
        allowTypeImports: true,
        message: 'Import activities as types only (import type) and call them through proxyActivities.',
      },
      ...rooms(
        ['worker', 'cli', 'client', 'stack', 'local', 'db'],
        'Workflow code must not import worker-side modules',
      ),
      {
        // Every module workflow code imports is evaluated again in each workflow instance.
        regex: '/common/policy(/index|/backstop)?$',
        allowTypeImports: true,
        message:
          'The policy file schema (~550 zod schemas) would be built in every cached workflow: import the section file that holds what you need (types are fine).',
      },
      ...extraPatterns,
    ],
  };
}

export default tseslint.config(
  {
    ignores: [
      'eslint.config.mjs',
      'dist/**',
      'dist.next/**',
      'dist.old-*/**',
      'node_modules/**',
      '.tools/**',
      '.stack/**',
      '.test-tmp/**',
      'scripts/**',
      '.ci/**',
      // Plain-JS test doubles run as executables (the fake kubectl and its cluster).
      'test/fixtures/fake-kubectl/*.js',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test's describe/test return promises the runner itself awaits.
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['describe', 'test', 'it', 'suite'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
      eqeqeq: ['error', 'always'],
    },
  },
  // Rooms and the way imports run between them (docs/architecture.md): workflows → common (and
  // activities as types); activities → common; local → common; db → nothing of ours; the worker,
  // the CLI and the stack may use everything.
  {
    files: ['src/workflows/**/*.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', workflowImports()] },
  },
  {
    // The one caller of patched(): the folds (PATCH_FOLDS) and every patch's answer.
    files: ['src/workflows/shared/patches.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', workflowImports([], { allowPatched: true })],
    },
  },
  {
    // A runbook's messages and input are its own: shared schemas live in workflows/shared/.
    files: ['src/workflows/*/definitions.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        workflowImports([
          {
            regex: '^\\.\\./(?!shared/|\\.\\./)',
            message:
              "A runbook's definitions.ts imports no other runbook's folder: move what they share to workflows/shared/.",
          },
        ]),
      ],
    },
  },
  {
    files: ['src/common/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.map((name) => ({
              name,
              message: 'common/ is used by workflow code: no Node built-ins.',
            })),
            { name: 'pg', message: 'common/ does no I/O.' },
          ],
          patterns: rooms(
            ['activities', 'workflows', 'worker', 'cli', 'client', 'stack', 'local', 'db'],
            'common/ depends on nothing of ours',
          ),
        },
      ],
    },
  },
  {
    files: ['src/activities/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: rooms(
            ['workflows', 'worker', 'cli', 'client', 'stack', 'local'],
            'activities depend on common/ and db/ only',
          ),
        },
      ],
    },
  },
  {
    files: ['src/local/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: rooms(
            ['activities', 'workflows', 'worker', 'cli', 'stack'],
            'local/ (server launchers) depends on common/ only',
          ),
        },
      ],
    },
  },
  {
    files: ['src/db/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: rooms(
            ['activities', 'workflows', 'worker', 'cli', 'stack', 'local', 'common'],
            'db/ holds DDL only',
          ),
        },
      ],
    },
  },
  {
    // Imports run one way: no module reaches itself again through its imports.
    files: ['src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/extensions': ['.ts'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [importX.createNodeResolver({ extensions: ['.ts', '.js'] })],
    },
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] },
  },
  {
    // Files that do one thing, functions that read without scrolling.
    files: ['src/**/*.ts'],
    rules: {
      'max-lines': ['error', { max: 400, skipBlankLines: true, skipComments: true }],
      'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true, IIFEs: true }],
    },
  },
  {
    // The CLI and stack print to the terminal by design; library code logs through the SDK logger.
    files: ['src/cli/**/*.ts', 'src/stack/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
);
