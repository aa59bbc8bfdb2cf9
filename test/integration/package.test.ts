/**
 * The construct as a package: `npm pack` (its `prepack` builds dist/), then `npm i` of the tarball
 * in a fresh CDK app in a temporary directory, where `new PhoenixControlPlane(stack, 'P')`
 * synthesizes with the handlers bundled by esbuild from the package's `lambdas/` sources, and a
 * TypeScript file type-checks against the package's `.d.ts`, and the installed `phoenix` command
 * runs (its version, `events classify` on a real sample). The npm cache is expected warm
 * (`--prefer-offline`); no emulator needed.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const REPO_ROOT = path.join(__dirname, '..', '..');
const DIST = path.join(REPO_ROOT, 'dist');
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'phoenix-package-'));
// `npm pack` builds dist/ in the repository (prepack): remove it again unless it was there before,
// so that a later `eslint .` does not meet compiled files.
const distExisted = fs.existsSync(DIST);
afterAll(() => {
  fs.rmSync(scratch, { recursive: true, force: true });
  if (!distExisted) fs.rmSync(DIST, { recursive: true, force: true });
});

const run = (command: string, args: string[], cwd: string): string =>
  execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

const APP_JS = `
const { App, Stack } = require('aws-cdk-lib');
const { PhoenixControlPlane } = require('phoenix');
const app = new App({ outdir: 'cdk.out' });
const stack = new Stack(app, 'Consumer');
new PhoenixControlPlane(stack, 'P');
const template = app.synth().getStackByName('Consumer').template;
const functions = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
process.stdout.write(JSON.stringify({ functions: functions.map((f) => f.Properties.Code) }));
`;

const TYPES_TS = `
import { App, Stack } from 'aws-cdk-lib';
import { DrainWorkflow, PhoenixControlPlane, type PhoenixControlPlaneProps, ReplaceCapability } from 'phoenix';
const props: PhoenixControlPlaneProps = { maxConcurrentRollouts: 3 };
const cp = new PhoenixControlPlane(new Stack(new App(), 'S'), 'P', props);
const drain: DrainWorkflow = cp.drainWorkflow;
const replace: ReplaceCapability = cp.replace;
export { drain, replace };
`;

describe('the phoenix package', () => {
  it('installs into a fresh CDK app, where new PhoenixControlPlane(stack, "P") synthesizes and type-checks', () => {
    const tarball = run('npm', ['pack', '--silent', '--pack-destination', scratch], REPO_ROOT).trim();
    const packed = run('tar', ['tzf', path.join(scratch, tarball)], scratch).split('\n');
    expect(packed).toContain('package/dist/lib/index.js');
    expect(packed).toContain('package/dist/lib/index.d.ts');
    expect(packed).toContain('package/lambdas/intake.ts');
    // The operator CLI ships with it (bin/phoenix.js runs the TypeScript through tsx, a dependency).
    expect(packed).toContain('package/bin/phoenix.js');
    expect(packed).toContain('package/local/realism/phoenix_realism.py');
    expect(packed).toContain('package/requirements.txt');

    const app = path.join(scratch, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
    const version = (name: string) =>
      (
        JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'node_modules', name, 'package.json'), 'utf8')) as {
          version: string;
        }
      ).version;
    run(
      'npm',
      [
        'i',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        path.join(scratch, tarball),
        `aws-cdk-lib@${version('aws-cdk-lib')}`,
        `constructs@${version('constructs')}`,
      ],
      app,
    );

    fs.writeFileSync(path.join(app, 'app.js'), APP_JS);
    const synthesized = JSON.parse(run(process.execPath, ['app.js'], app)) as {
      functions: { S3Key?: unknown }[];
    };
    expect(synthesized.functions).toHaveLength(7);
    // Bundled (an asset per function), not a placeholder.
    for (const code of synthesized.functions) expect(String(code.S3Key)).toMatch(/^[0-9a-f]{64}\.zip$/);

    // The installed `phoenix` command runs: its version, and the intake's verdict on a real sample.
    const phoenix = path.join(app, 'node_modules', '.bin', 'phoenix');
    const own = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
      version: string;
    };
    expect(run(phoenix, ['--version'], app).trim()).toBe(own.version);
    const sample = path.join(
      REPO_ROOT,
      'test',
      'fixtures',
      'events',
      'aws.ec2',
      'ami-state-change-available.json',
    );
    expect(JSON.parse(run(phoenix, ['events', 'classify', sample], app).split('\n')[0]!)).toMatchObject({
      intent: 'ignore',
    });

    fs.writeFileSync(path.join(app, 'types.ts'), TYPES_TS);
    const tsc = path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    run(
      process.execPath,
      [
        tsc,
        '--noEmit',
        '--strict',
        '--module',
        'commonjs',
        '--target',
        'ES2022',
        '--skipLibCheck',
        'types.ts',
      ],
      app,
    );
  }, 900_000);
});
