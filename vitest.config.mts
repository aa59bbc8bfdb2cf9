import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One emulator serves the whole run (started by the global setup); files that use it reset it
    // first, so files run one after another. Unit files are quick either way.
    fileParallelism: false,
    globalSetup: ['test/setup/global-emulator.ts', 'test/setup/aws-calls-global.ts'],
    setupFiles: ['test/setup/env.ts', 'test/setup/record-aws-calls.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: 'forks',
  },
});
