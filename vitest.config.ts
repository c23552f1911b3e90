import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // First and last: the run's scratch directory, and the proof that no test touched the machine.
    globalSetup: ['test/support/global-setup.ts'],
    // Integration suites start real registries and engines; two cores, so keep forks few.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
