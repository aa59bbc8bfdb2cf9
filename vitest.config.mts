import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';

/**
 * Three tiers, each runnable alone (`npm run test:unit`, `test:integration`, `test:e2e`; `npm test`
 * runs all three):
 *
 * - unit: pure tests (domain logic, the synthesized template and its cdk-nag findings, the workflow
 *   definitions against step doubles, the local Step Functions service). No Python environment, no
 *   emulator: test/setup/unit.ts makes any attempt to start one fail. Files run in parallel.
 * - integration: handlers' steps and adapters against the emulator, the emulator and the Python
 *   environment themselves, cfn-lint (from .venv).
 * - e2e: the whole local runtime (router, workflows, handlers) on the emulator.
 *
 * The emulator tiers share one emulator (test/setup/global-emulator.ts, started once even when
 * both tiers run) and reset it per file, so their files run one after another.
 */
const shared = {
  testTimeout: 120_000,
  hookTimeout: 180_000,
  pool: 'forks',
} satisfies TestProjectInlineConfiguration['test'];

const emulatorTier = (name: string, include: string[]): TestProjectInlineConfiguration => ({
  test: {
    ...shared,
    name,
    include,
    fileParallelism: false,
    // After the unit tier (0), before the must-allow check (2). Explicit: vitest runs sequential
    // projects left at the default order 0 after every numbered group, i.e. after the check.
    sequence: { groupOrder: 1 },
    globalSetup: ['test/setup/global-emulator.ts', 'test/setup/aws-calls-global.ts'],
    // With PHOENIX_RECORD_AWS_CALLS=1 (npm test sets it), every AWS call a handler makes is
    // recorded for the must-allow IAM simulation (test/infra/iam-must-allow.test.ts).
    setupFiles: ['test/setup/env.ts', 'test/setup/record-aws-calls.ts'],
  },
});

/** Runs after every other project (groupOrder 2): it simulates the calls the emulator tiers recorded. */
const MUST_ALLOW = 'test/infra/iam-must-allow.test.ts';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          ...shared,
          name: 'unit',
          // The files share their worker's module cache (aws-cdk-lib is loaded once per worker,
          // not once per file): a third of the tier's CPU time. No unit file keeps global state
          // beyond its own hooks (the clock is reset by each file that sets it).
          isolate: false,
          // The workflow files mostly wait on timers (the local Step Functions service), the infra
          // files mostly compute: more workers than cores lets the one overlap the other.
          maxWorkers: 3,
          include: ['test/{unit,infra,workflows,property}/**/*.test.ts'],
          exclude: [MUST_ALLOW],
          setupFiles: ['test/setup/env.ts', 'test/setup/unit.ts'],
        },
      },
      emulatorTier('integration', ['test/integration/**/*.test.ts']),
      emulatorTier('e2e', ['test/e2e/**/*.test.ts']),
      {
        test: {
          ...shared,
          name: 'iam-must-allow',
          include: [MUST_ALLOW],
          setupFiles: ['test/setup/env.ts', 'test/setup/unit.ts'],
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
