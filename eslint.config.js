// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'build/', 'coverage/', 'orb/scripts/generated/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // A secret must never be printed by accident: every line goes through src/core/output.ts.
      'no-console': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        { selector: "CallExpression[callee.name='eval']", message: 'eval is forbidden' },
      ],
    },
  },
  {
    // Build, bench and test tooling print to the developer's terminal.
    files: ['scripts/**', 'test/**'],
    rules: { 'no-console': 'off' },
  },
);
