/**
 * The CLI's habits (docs/cli.md): `--version`, exit codes, a refused connection said plainly, and
 * `phoenix chaos` asking before it terminates anything. The CLI runs as the real process
 * (`node bin/phoenix.js`); the refused connection is a real one, to a loopback port nobody listens on.
 */
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ChaosNotConfirmedError, confirmChaos } from '../../cli/chaos';
import { ExitCodes } from '../../cli/exit-codes';
import { unreachableMessage } from '../../cli/target';
import pkg from '../../package.json';

const ROOT = path.resolve(__dirname, '../..');

async function phoenix(args: string[], env: Record<string, string> = {}) {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^(AWS_|PHOENIX_)/.test(key)),
  );
  try {
    const { stdout, stderr } = await promisify(execFile)('node', ['bin/phoenix.js', ...args], {
      cwd: ROOT,
      env: { ...base, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', ...env },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** A loopback port that was free a moment ago and that nobody listens on now. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('phoenix --version', () => {
  it("prints package.json's version and exits 0", async () => {
    const run = await phoenix(['--version']);
    expect(run).toMatchObject({ code: ExitCodes.ok, stdout: `${pkg.version}\n` });
  });

  it('fails with the usage exit code on an unknown option', async () => {
    const run = await phoenix(['status', '--no-such-option']);
    expect(run.code).toBe(ExitCodes.usage);
    expect(run.stderr).toContain("unknown option '--no-such-option'");
  });
});

describe('a refused connection', () => {
  it('says "is `phoenix local` running?" with the endpoint, not TransientAwsError … ECONNREFUSED', async () => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    const run = await phoenix(['history', 'web'], {
      AWS_ENDPOINT_URL: endpoint,
      AWS_REGION: 'us-east-1',
      PHOENIX_TABLE_NAME: 'phoenix',
    });
    expect(run.code).toBe(ExitCodes.failure);
    expect(run.stderr).toContain('is `phoenix local` running?');
    expect(run.stderr).toContain(`endpoint ${endpoint}`);
    expect(run.stderr).not.toContain('TransientAwsError');
  });

  it('finds the network error inside causes and AggregateErrors; other errors are not rewritten', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4566'), {
      code: 'ECONNREFUSED',
      address: '127.0.0.1',
      port: 4566,
    });
    const wrapped = new Error('GetItem: AggregateError', { cause: new AggregateError([refused]) });
    expect(unreachableMessage(wrapped, { AWS_ENDPOINT_URL: 'http://127.0.0.1:4566' })).toBe(
      'is `phoenix local` running? (endpoint http://127.0.0.1:4566 refused the connection: ECONNREFUSED; phoenix local prints the export line to use)',
    );
    expect(unreachableMessage(wrapped, {})).toMatch(
      /^cannot reach AWS \(ECONNREFUSED at 127\.0\.0\.1:4566\)/,
    );
    expect(unreachableMessage(new Error('AccessDenied'), {})).toBeUndefined();
  });
});

describe('phoenix chaos confirmation', () => {
  const terminal = (answer: string) => {
    const input = Object.assign(new PassThrough(), { isTTY: true });
    input.end(answer);
    return { input, output: new PassThrough() };
  };

  it('goes ahead on y, or with --yes or --dry-run without asking', async () => {
    await expect(confirmChaos(terminal('y\n'))).resolves.toBeUndefined();
    await expect(confirmChaos({ ...terminal('yes\n') })).resolves.toBeUndefined();
    const noTerminal = { input: new PassThrough() };
    await expect(confirmChaos({ ...noTerminal, yes: true })).resolves.toBeUndefined();
    await expect(confirmChaos({ ...noTerminal, dryRun: true })).resolves.toBeUndefined();
  });

  it('rejects anything but yes at the prompt, and refuses without a terminal', async () => {
    const asked = terminal('n\n');
    let question = '';
    asked.output.on('data', (chunk: Buffer) => (question += chunk.toString()));
    await expect(confirmChaos({ ...asked, target: 'http://127.0.0.1:1' })).rejects.toThrow(
      ChaosNotConfirmedError,
    );
    expect(question).toContain('Go ahead? [y/N]');
    expect(question).toContain('http://127.0.0.1:1');
    await expect(confirmChaos(terminal('\n'))).rejects.toThrow(/not confirmed/);
    await expect(confirmChaos({ input: new PassThrough() })).rejects.toThrow(/pass --yes/);
  });

  it('the CLI without a terminal and without --yes: refuses with the usage exit code, touches nothing', async () => {
    // The endpoint is closed: had chaos run, the run would fail with the connection message.
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    const run = await phoenix(['chaos'], {
      AWS_ENDPOINT_URL: endpoint,
      AWS_REGION: 'us-east-1',
      PHOENIX_TABLE_NAME: 'phoenix',
    });
    expect(run.code).toBe(ExitCodes.usage);
    expect(run.stderr).toContain('pass --yes');
    expect(run.stderr).not.toContain('phoenix local');
  });
});

describe('the exit-code table', () => {
  it('docs/cli.md lists every code of cli/exit-codes.ts with its name, and no other', async () => {
    const { readFileSync } = await import('node:fs');
    const doc = readFileSync(path.join(ROOT, 'docs/cli.md'), 'utf8');
    const rows = [...doc.matchAll(/^\| (\d+) +\| `(\w+)` +\|/gm)].map((m) => [m[2], Number(m[1])]);
    expect(Object.fromEntries(rows)).toEqual(ExitCodes);
  });
});
