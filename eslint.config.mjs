// ESLint 9 flat config: type-aware rules everywhere, and a determinism fence around workflow code.
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeBuiltins = builtinModules.flatMap((name) => [name, `node:${name}`]);

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
      // Plain-JS test doubles run as executables (fake blocks CLI, fake kubectl).
      'test/fixtures/fake-blocks.js',
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
  {
    // Workflow code runs in Temporal's deterministic sandbox: no Node built-ins, no I/O libraries,
    // and activities are imported for their types only.
    files: ['src/workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
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
            {
              group: ['**/worker/**', '**/cli/**', '**/stack/**'],
              message: 'Workflow code must not import worker-side modules.',
            },
          ],
        },
      ],
    },
  },
  {
    // The CLI and stack print to the terminal by design; library code logs through the SDK logger.
    files: ['src/cli/**/*.ts', 'src/stack/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
);
