/**
 * `phoenix describe <execution>` on real executions: rollouts run by the local runtime (emulator +
 * local Step Functions), then the command reads DescribeExecution and GetExecutionHistory back, in
 * process (cli/describe.ts) and as the real CLI process.
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { describeExecution, renderDescribe, type ExecutionReport } from '../../cli/describe';
import { FleetSteps, RecordSteps } from '../../lambdas/domain/steps';
import type { ExecutionRecord } from '../../local/stepfunctions';
import { REGION, useLocalRuntime } from '../support/local-runtime';

const ROOT = path.resolve(__dirname, '../..');
const local = useLocalRuntime({ outcomes: false });

async function rollOut(fleet: string, imageId: string): Promise<ExecutionRecord> {
  const ended = local.executionEnd(fleet);
  await local.world.publishImage(local.busName, imageId, fleet);
  return ended;
}

const options = () => ({ stateMachineArn: local.runtime.resources.stateMachineArn! });
const STEP_NAMES: readonly string[] = [...Object.values(FleetSteps), ...Object.values(RecordSteps)];
/** A Task state is named after its step (a step used twice has a suffix). */
const isStepName = (name: string) => STEP_NAMES.some((step) => name.startsWith(step));

describe('phoenix describe', () => {
  let succeeded: ExecutionRecord;

  it('a succeeded rollout: every step entered and exited, in order, with times; the outcome', async () => {
    const imageA = await local.world.registerImage('desc-a', 'desc');
    await local.world.createFleet({ fleet: 'desc', imageId: imageA, size: 2 });
    const imageB = await local.world.registerImage('desc-b', 'desc');
    succeeded = await rollOut('desc', imageB);
    expect(succeeded.status).toBe('SUCCEEDED');

    const report = await describeExecution(succeeded.name, options());
    expect(report).toMatchObject({
      executionArn: succeeded.executionArn,
      name: succeeded.name,
      status: 'SUCCEEDED',
      failedStep: null,
      error: null,
    });
    expect(report.outcome).not.toBeNull();
    const tasks = report.steps.filter((s) => s.type === 'Task');
    expect(tasks.length).toBeGreaterThan(3);
    // Task states are Phoenix's named steps; they all ended well.
    expect(tasks.filter((s) => !isStepName(s.name))).toEqual([]);
    expect(report.steps.map((s) => s.name)).toContain(RecordSteps.CommitRollout);
    expect(report.steps.some((s) => s.type === 'Choice')).toBe(true);
    // The types are the definition's: warm-up and bake are Wait states.
    expect(report.steps.filter((s) => s.name === 'WarmUpBatch').map((s) => s.type)).toEqual(['Wait', 'Wait']);
    expect(report.steps.find((s) => s.name === 'Bake')?.type).toBe('Wait');
    for (const step of report.steps) {
      expect(step.status).toBe('succeeded');
      expect(step.durationMs).toBeGreaterThanOrEqual(0);
      expect(Date.parse(step.exitedAt!)).toBeGreaterThanOrEqual(Date.parse(step.enteredAt));
    }
    const entered = report.steps.map((s) => Date.parse(s.enteredAt));
    expect(entered).toEqual([...entered].sort((a, b) => a - b));
    expect(Date.parse(report.steps[0]!.enteredAt)).toBeGreaterThanOrEqual(Date.parse(report.startedAt!));
    const text = renderDescribe(report);
    expect(text).toContain(`Execution ${succeeded.name}: SUCCEEDED`);
    expect(text).toMatch(new RegExp(`Task\\s+${RecordSteps.CommitRollout}\\s+succeeded`));
    expect(text).not.toContain('Failing step');
  });

  it('a rejected rollout: the failing step with its error and cause, the final status and outcome', async () => {
    const rejected = await rollOut('desc', 'ami-0000000000000dead');
    // A handled outcome ends the execution SUCCEEDED, with the outcome in its output (docs/rollouts.md).
    expect(rejected.status).toBe('SUCCEEDED');
    const report = await describeExecution(rejected.executionArn);
    expect(report.status).toBe('SUCCEEDED');
    expect(report.error).toBeNull();
    expect(report.outcome).toMatchObject({ outcome: 'RolloutRejected' });
    expect(JSON.stringify(report.outcome)).toContain('ami-0000000000000dead');
    expect(report.failedStep).not.toBeNull();
    expect(isStepName(report.failedStep!.name)).toBe(true);
    expect(report.failedStep!.error).toMatch(/Error$/);
    const failing = report.steps.find((s) => s.name === report.failedStep!.name && s.status === 'failed');
    expect(failing?.durationMs).toBeGreaterThanOrEqual(0);
    // The path after the catch is in the history too: the outcome reported, then the Succeed state.
    expect(report.steps.map((s) => s.name)).toContain('ReportRejected');
    expect(report.steps[report.steps.length - 1]).toMatchObject({ type: 'Succeed', name: 'RolloutRejected' });
    expect(renderDescribe(report)).toContain(
      `Failing step: ${report.failedStep!.name}: ${report.failedStep!.error}`,
    );
  });

  it('rejects a name it cannot find, and a name without any state machine to look in', async () => {
    await expect(describeExecution('no-such-execution', options())).rejects.toThrow(
      /no execution no-such-execution in arn:/,
    );
    await expect(describeExecution('x', {}, {})).rejects.toThrow(/--state-machine-arn/);
    await expect(describeExecution('arn:aws:states:us-east-1:1:nope', options())).rejects.toThrow(
      /not an execution ARN/,
    );
  });

  it('the CLI process: describe <name> --json with the state machine from the environment', async () => {
    const { stdout } = await promisify(execFile)(
      'node',
      ['bin/phoenix.js', 'describe', succeeded.name, '--json'],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          AWS_ACCESS_KEY_ID: 'test',
          AWS_SECRET_ACCESS_KEY: 'test',
          AWS_REGION: REGION,
          AWS_ENDPOINT_URL: local.runtime.endpoint,
          AWS_ENDPOINT_URL_SFN: local.runtime.stepFunctionsEndpoint,
          PHOENIX_TABLE_NAME: local.runtime.resources.tableName!,
          PHOENIX_ROLLOUT_STATE_MACHINE_ARN: local.runtime.resources.stateMachineArn!,
        },
        timeout: 60_000,
      },
    );
    const report = JSON.parse(stdout) as ExecutionReport;
    expect(report).toMatchObject({ name: succeeded.name, status: 'SUCCEEDED' });
    expect(report.steps.length).toBeGreaterThan(3);
  });
});
