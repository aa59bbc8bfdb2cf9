import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One emulator serves the whole run (started by the global setup); files that use it reset it
    // first, so files run one after another. Unit files are quick either way.
    fileParallelism: false,
    globalSetup: ['test/setup/global-emulator.ts'],
    setupFiles: ['test/setup/env.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: 'forks',
  },
});
