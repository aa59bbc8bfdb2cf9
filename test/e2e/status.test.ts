/**
 * `phoenix status` and `phoenix history` against the real state: rollouts run in the local runtime
 * (emulator + local Step Functions), then the commands read the fleet records, the groups, the
 * instances and the executions back, in-process (cli/status.ts) and as the real CLI process.
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { fleetHistory, fleetStatus, renderHistory, renderStatus, type StatusReport } from '../../cli/status';
import { resolveTarget } from '../../cli/target';
import { acquireLock } from '../../lambdas/aws/store/fleet-records';
import type { ExecutionRecord } from '../../local/stepfunctions';
import { REGION, useLocalRuntime } from '../support/local-runtime';

const ROOT = path.resolve(__dirname, '../..');
const local = useLocalRuntime({ outcomes: false });

/** The next execution for `fleet` to end. */
async function rollOut(fleet: string, imageId: string): Promise<ExecutionRecord> {
  const ended = local.executionEnd(fleet);
  await local.world.publishImage(local.busName, imageId, fleet);
  return ended;
}

/**
 * The real CLI (`node bin/phoenix.js`), asynchronously: the local Step Functions service answers
 * from this process's event loop. Its environment names the emulator only through `env`.
 */
async function phoenix(args: string[], env: Record<string, string>) {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) => !/^(AWS_ENDPOINT_URL|AWS_REGION|AWS_DEFAULT_REGION|PHOENIX_(TABLE|ROLLOUT|EVENT))/.test(key),
    ),
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

const fleetIn = (report: StatusReport, fleet: string) => report.fleets.find((f) => f.fleet === fleet);

let webExecution: string;
let imageB: string;

describe('after a rollout', () => {
  it('status: the desired image, every instance on it, no active rollout', async () => {
    const imageA = await local.world.registerImage('web-a', 'web');
    const groupName = await local.world.createFleet({ fleet: 'web', imageId: imageA, size: 4 });
    imageB = await local.world.registerImage('web-b', 'web');
    const execution = await rollOut('web', imageB);
    expect(execution.status).toBe('SUCCEEDED');
    webExecution = execution.name;

    const report = await fleetStatus({ fleet: 'web' });
    expect(report.fleets).toHaveLength(1);
    expect(report.fleets[0]).toMatchObject({
      fleet: 'web',
      channel: 'web',
      desiredImage: imageB,
      previousImage: imageA,
      activeRollout: null,
      lastOutcome: { outcome: 'succeeded', imageId: imageB, execution: webExecution },
      groups: [
        {
          name: groupName,
          channel: 'web',
          desiredCapacity: 4,
          minSize: 4,
          maxSize: 4,
          instances: {
            total: 4,
            onDesiredImage: 4,
            onOtherImages: 0,
            byImage: [{ imageId: imageB, count: 4, inService: 4, desired: true }],
          },
        },
      ],
    });
    const table = renderStatus(report);
    expect(table).toContain(`web    ${groupName}  web      ${imageB}`);
    expect(table).toContain('4 on desired');
    expect(table).toContain('4/4/4');
  });

  it('history: the succeeded entry first', async () => {
    const report = await fleetHistory('web');
    expect(report).toMatchObject({ fleet: 'web', recorded: true, desiredImage: imageB });
    expect(report.history[0]).toMatchObject({
      imageId: imageB,
      outcome: 'succeeded',
      execution: webExecution,
      reason: null,
      step: null,
    });
    expect(renderHistory(report)).toMatch(new RegExp(`succeeded\\s+${webExecution}`));
  });

  it('the CLI process: status --json from the environment phoenix local prints, history --json from flags', async () => {
    const status = await phoenix(['status', '--json'], {
      AWS_ENDPOINT_URL: local.runtime.endpoint,
      AWS_ENDPOINT_URL_SFN: local.runtime.stepFunctionsEndpoint,
      AWS_DEFAULT_REGION: REGION,
      PHOENIX_TABLE_NAME: local.runtime.resources.tableName!,
      PHOENIX_ROLLOUT_STATE_MACHINE_ARN: local.runtime.resources.stateMachineArn!,
    });
    expect(status.stderr).toBe('');
    expect(status.code).toBe(0);
    const web = fleetIn(JSON.parse(status.stdout) as StatusReport, 'web');
    expect(web).toMatchObject({ desiredImage: imageB, activeRollout: null });
    expect(web?.groups[0]?.instances).toMatchObject({ total: 4, onDesiredImage: 4, onOtherImages: 0 });

    const history = await phoenix(
      [
        'history',
        'web',
        '--json',
        '--endpoint-url',
        local.runtime.endpoint,
        '--region',
        REGION,
        '--table',
        local.runtime.resources.tableName!,
      ],
      {},
    );
    expect(history.code).toBe(0);
    const parsed = JSON.parse(history.stdout) as { history: { outcome: string; imageId: string }[] };
    expect(parsed.history[0]).toMatchObject({ outcome: 'succeeded', imageId: imageB });
  });
});

describe('fleets Phoenix has not rolled out', () => {
  it('a fleet with no record yet: desired image unknown, instances counted by image', async () => {
    const imageA = await local.world.registerImage('fresh-a', 'fresh');
    await local.world.createFleet({ fleet: 'fresh', imageId: imageA, size: 2 });

    const report = await fleetStatus();
    expect(report.fleets.map((f) => f.fleet)).toEqual(['fresh', 'web']);
    expect(fleetIn(report, 'fresh')).toMatchObject({
      desiredImage: null,
      activeRollout: null,
      lastOutcome: null,
      groups: [
        {
          instances: {
            total: 2,
            onDesiredImage: null,
            byImage: [{ imageId: imageA, count: 2, desired: false }],
          },
        },
      ],
    });
    expect(renderStatus(report)).toMatch(/fresh\s+fresh-asg\s+fresh\s+unknown\s/);
    expect(await fleetHistory('fresh')).toEqual({
      fleet: 'fresh',
      recorded: false,
      desiredImage: null,
      previousImage: null,
      history: [],
    });
  });

  it('a fleet that is neither a group nor a record is an error', async () => {
    await expect(fleetStatus({ fleet: 'nowhere' })).rejects.toThrow(/no fleet nowhere/);
  });
});

describe('a rejected rollout', () => {
  it('is in the history with its reason, behind the newer succeeded one', async () => {
    const imageA = await local.world.registerImage('safe-a', 'safe');
    await local.world.createFleet({ fleet: 'safe', imageId: imageA, size: 2 });
    const rejected = await rollOut('safe', 'ami-0000000000000dead');
    expect(rejected.status).toBe('SUCCEEDED');
    expect(JSON.parse(rejected.output!)).toMatchObject({ outcome: 'RolloutRejected' });

    const afterRejection = await fleetStatus({ fleet: 'safe' });
    expect(afterRejection.fleets[0]).toMatchObject({
      desiredImage: null,
      activeRollout: null,
      lastOutcome: { outcome: 'rejected', imageId: 'ami-0000000000000dead' },
    });

    const imageB2 = await local.world.registerImage('safe-b', 'safe');
    expect((await rollOut('safe', imageB2)).status).toBe('SUCCEEDED');

    const report = await fleetHistory('safe');
    expect(report.history.map((h) => [h.outcome, h.imageId])).toEqual([
      ['succeeded', imageB2],
      ['rejected', 'ami-0000000000000dead'],
    ]);
    expect(report.history[1]?.reason).toContain('ami-0000000000000dead does not exist');
    expect(report.history[1]?.execution).toBe(rejected.name);
    expect(renderHistory(report)).toContain('ami-0000000000000dead does not exist');
  });
});

describe('an active rollout', () => {
  it("shows the lock and its execution's status and last step, or why they cannot be read", async () => {
    const imageA = await local.world.registerImage('held-a', 'held');
    await local.world.createFleet({ fleet: 'held', imageId: imageA, size: 1 });
    await local.world.createFleet({ fleet: 'lost', imageId: imageA, size: 1 });
    const now = new Date();
    const epoch = Math.floor(now.getTime() / 1000);
    // A lock that was never released, held by an execution that has ended, and one whose
    // execution Step Functions does not know (and whose lock has expired).
    await acquireLock({
      fleet: 'held',
      channel: 'held',
      now,
      lock: {
        execution: webExecution,
        imageId: imageB,
        startedAt: now.toISOString(),
        expiresAt: epoch + 3600,
      },
    });
    await acquireLock({
      fleet: 'lost',
      channel: 'lost',
      now,
      lock: {
        execution: 'no-such-execution',
        imageId: imageB,
        startedAt: now.toISOString(),
        expiresAt: epoch - 1,
      },
    });

    const report = await fleetStatus();
    expect(fleetIn(report, 'held')?.activeRollout).toEqual({
      execution: webExecution,
      imageId: imageB,
      startedAt: now.toISOString(),
      expiresAt: new Date((epoch + 3600) * 1000).toISOString(),
      expired: false,
      workflow: { status: 'SUCCEEDED', step: 'RolloutSucceeded' },
    });
    const lost = fleetIn(report, 'lost')?.activeRollout;
    expect(lost).toMatchObject({
      execution: 'no-such-execution',
      expired: true,
      workflow: { status: null, step: null },
    });
    expect(lost?.workflow.note).toContain('ExecutionDoesNotExist');

    const table = renderStatus(report);
    expect(table).toContain('Active rollouts:');
    expect(table).toContain(`held: ${imageB}, execution ${webExecution}`);
    expect(table).toContain('SUCCEEDED, step RolloutSucceeded');
    expect(table).toMatch(/lost: .*lock EXPIRED .*status unknown, step unknown \(cannot read the execution/);
  });
});

describe('where the commands look', () => {
  it('the table comes from --table or PHOENIX_TABLE_NAME, and its absence says what to pass', async () => {
    expect(resolveTarget({ table: 't', region: 'eu-west-1' }, {})).toEqual({
      region: 'eu-west-1',
      tableName: 't',
    });
    expect(
      resolveTarget(
        {},
        { AWS_DEFAULT_REGION: 'eu-west-1', PHOENIX_TABLE_NAME: 't', AWS_ENDPOINT_URL: 'http://x' },
      ),
    ).toEqual({ region: 'eu-west-1', tableName: 't', endpointUrl: 'http://x' });
    expect(() => resolveTarget({}, { AWS_REGION: 'us-east-1' })).toThrow(/--table.*TableName/s);
    expect(() => resolveTarget({ table: 't' }, {})).toThrow(/--region/);

    const cli = await phoenix(['status', '--json'], {
      AWS_REGION: REGION,
      AWS_ENDPOINT_URL: local.runtime.endpoint,
    });
    expect(cli.code).toBe(1);
    expect(cli.stdout).toBe('');
    expect(cli.stderr).toMatch(
      /^phoenix: ConfigurationError: no fleet table: pass --table <name> or set PHOENIX_TABLE_NAME/,
    );
  });
});
