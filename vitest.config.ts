import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // First and last: the run's scratch directory, and the proof that no test touched the machine.
    globalSetup: ['test/support/global-setup.ts'],
    // Test files share no host state (each job has its own home and stand-in system places, each
    // stack its own ports and temp dirs), so they may run side by side. The slow e2e files spend
    // most of their time waiting on clocks and stalls, not CPU: three forks on two cores overlap
    // those waits (refresh + gcp-refresh + pull-long: 116 s wall with two forks, 75 s with three).
    pool: 'forks',
    poolOptions: { forks: { maxForks: 3, minForks: 1 } },
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
