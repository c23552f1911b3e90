// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// What may import what in src/ (the README's Development section states the same rules): a wrong
// arrow fails `npm test` here rather than in a reviewer's head.
const layer = (dir, allowed, only = {}) => {
  const all = ['core', 'registry', 'docker', 'clouds', 'job-token', 'inputs', 'pull', 'refresh', 'commands'];
  const banned = all.filter((other) => other !== dir && !allowed.includes(other));
  const message = `src/${dir} may import only ${allowed.length ? allowed.join(', ') : 'nothing of ours'} (README, Development)`;
  // An allowed folder may still be open only through some of its files (`only`).
  const narrowed = Object.entries(only).map(([name, files]) => ({
    group: [`**/${name}/**/*.ts`, ...files.map((file) => `!**/${name}/${file}`)],
    message: `src/${dir} may import from src/${name} only ${files.join(', ')} (README, Development)`,
  }));
  return {
    files: [`src/${dir}/**/*.ts`],
    rules: {
      'no-restricted-imports': ['error', { patterns: [...banned.map((name) => ({ group: [`**/${name}/*`, `**/${name}/**`], message })), ...narrowed] }],
    },
  };
};
const layering = [
  layer('core', []),
  layer('registry', ['core']),
  layer('docker', ['core', 'registry']),
  layer('job-token', ['core', 'registry']),
  layer('inputs', ['core', 'registry']),
  layer('clouds', ['core', 'registry', 'job-token', 'inputs']),
  layer('pull', ['core', 'registry', 'docker']),
  // The engine knows clouds only by the provider contract; logout also undoes an exported AWS profile.
  layer('refresh', ['core', 'registry', 'docker', 'clouds', 'job-token'], { clouds: ['provider.ts', 'aws/profile.ts'] }),
  {
    // Commands reach the refresh engine through its doors only (serve, remove, runHelper).
    files: ['src/commands/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['**/refresh/*', '!**/refresh/index.ts'], message: 'commands import src/refresh only through src/refresh/index.ts' }] }] },
  },
];

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'build/', 'coverage/', 'orb/scripts/generated/', '.cache/'] },
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
  ...layering,
  // Tests, bench and demo share the local stand-ins in testbed/; scripts never reach into test/,
  // testbed never into test/ or scripts/, and a unit test of src/ never into scripts/.
  {
    files: ['scripts/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['**/test/**'], message: 'scripts/ may import testbed/, not test/ (README, Development)' }] }] },
  },
  {
    files: ['testbed/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['**/test/**', '**/scripts/**'], message: 'testbed/ may import src/ only (README, Development)' }] }] },
  },
  {
    files: ['test/unit/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['**/scripts/**'], message: 'a unit test of src/ imports no scripts/; tests of scripts/ live in test/tooling (README, Development)' }] }] },
  },
  {
    // Build, bench and test tooling print to the developer's terminal.
    files: ['scripts/**', 'test/**', 'testbed/**'],
    rules: { 'no-console': 'off' },
  },
);
