#!/usr/bin/env node
// The README's test command: runs the whole vitest suite (or what the arguments select, e.g.
// `--project unit` for `npm run test:unit`; the tiers are in vitest.config.mts), then prints one
// plain line "N passed, N failed" computed from vitest's JSON report, and exits with vitest's status.
'use strict';
const { spawnSync } = require('node:child_process');
const { mkdirSync, readFileSync, existsSync, rmSync } = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const report = path.join(root, 'test-results', 'vitest.json');
mkdirSync(path.dirname(report), { recursive: true });
if (existsSync(report)) rmSync(report);

const vitest = path.join(root, 'node_modules', 'vitest', 'vitest.mjs');
const run = spawnSync(
  process.execPath,
  [
    vitest,
    'run',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${report}`,
    ...process.argv.slice(2),
  ],
  {
    cwd: root,
    stdio: 'inherit',
    env: {
      // Record every AWS call the handlers make in the emulator tiers: the last project
      // (iam-must-allow) simulates each against the synthesized IAM policies.
      PHOENIX_RECORD_AWS_CALLS: '1',
      ...process.env,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
  },
);

let passed = 0;
let failed = 0;
if (existsSync(report)) {
  const result = JSON.parse(readFileSync(report, 'utf8'));
  passed = result.numPassedTests ?? 0;
  failed = result.numFailedTests ?? 0;
  // A file that fails to load counts no test; make it visible as a failure.
  const brokenFiles = (result.testResults ?? []).filter(
    (f) => f.status === 'failed' && (f.assertionResults ?? []).length === 0,
  ).length;
  failed += brokenFiles;
} else {
  failed = 1;
}
const status = run.status ?? 1;
if (status !== 0 && failed === 0) failed = 1;
process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
process.exit(status);
