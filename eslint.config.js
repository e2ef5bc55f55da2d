import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['eslint.config.js', 'node_modules/**', 'tools/**', 'deploy/**', '.stack/**', 'dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite', 'before', 'after'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    // Workflow code must stay deterministic: only the workflow SDK and pure modules.
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                'node:*',
                '@kubernetes/*',
                '@temporalio/client',
                '@temporalio/worker',
                '@temporalio/activity',
                'pino',
                'prom-client',
              ],
              message: 'workflow code imports only @temporalio/workflow and pure modules',
            },
          ],
        },
      ],
    },
  },
  {
    // The operator's processes load only the parts of the Kubernetes client they use (kubernetes/client-node.ts, which
    // the build bundles): their code takes its values from there, and only types from the library itself.
    files: [
      'activities/**',
      'cli/**',
      'client/**',
      'kubernetes/**',
      'operations/**',
      'resources/**',
      'watcher/**',
      'worker/**',
    ],
    ignores: ['kubernetes/client-node.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: '@kubernetes/client-node',
              allowTypeImports: true,
              message:
                'import its values from kubernetes/client-node.ts (add them there), so the build bundles only what is used',
            },
          ],
        },
      ],
    },
  },
  {
    // The package's launcher is plain JavaScript outside the TypeScript project: the untyped rules only.
    files: ['bin/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: { process: 'readonly', URL: 'readonly' },
    },
  },
);
