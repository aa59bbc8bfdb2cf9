/**
 * The Rollout state machine as synthesized by the CDK app, executed locally
 * (aws-local-stepfunctions through the local Step Functions service). The Lambda tasks are bound
 * to scripted step doubles: these tests check the definition's routing (order of steps, Retry,
 * Catch, outcome path), not the steps themselves (see test/integration for those).
 */
import { describe, expect, it } from 'vitest';
import { Handlers } from '../../lambdas/domain/contract';
import { fail, type Script, useWorkflow } from '../support/workflow-harness';

/** Default behaviour of every step: a fleet of 4 on the old image, batches of 1, healthy at once. */
function happyScripts(): Record<string, Script> {
  let remainingOld = 4;
  return {
    AcquireFleetLock: () => ({}),
    ValidateImage: () => ({
      groupName: 'web-asg',
      launchTemplateId: 'lt-0123456789abcdef0',
      previousVersion: '1',
      previousVersionNumber: 1,
      previousImageId: 'ami-00000000000000001',
      desiredCapacity: 4,
      minSize: 4,
      maxSize: 4,
      batchSize: 1,
      minHealthy: 4,
      warmupSeconds: 30,
      bakeSeconds: 600,
      alarms: ['web-errors'],
      maxChecks: 5,
      upToDate: false,
    }),
    CheckAlarms: () => ({ checked: 1 }),
    ReconcileLaunchTemplate: () => ({ version: '2' }),
    LaunchBatch: (p) => ({
      batch: 1,
      expectedNew: 5 - remainingOld,
      remainingOld,
      ready: false,
      checks: 0,
      replaced: p['state'].progress?.replaced ?? 0,
    }),
    CheckBatchHealth: (p) => ({
      ...p['state'].progress,
      ready: true,
      checks: p['state'].progress.checks + 1,
    }),
    RetireBatch: (p) => {
      remainingOld -= 1;
      return { ...p['state'].progress, remainingOld, replaced: p['state'].progress.replaced + 1 };
    },
    CommitRollout: () => ({ outcome: 'RolloutSucceeded' }),
    ReportOutcome: (p) => ({ outcome: p['outcome'] }),
    StartRollback: () => ({ ready: false, checks: 0, nothingToUndo: false }),
    CheckRollbackCapacity: (p) => ({ ...p['state'].rollback, ready: true, checks: 1 }),
    FinishRollback: (p) => ({ ...p['state'].rollback, removedNew: 1 }),
  };
}

const wf = useWorkflow('Rollout', happyScripts);

const input = {
  fleet: 'web',
  imageId: 'ami-00000000000000002',
  channel: 'web',
  cause: 'aws.ec2/EC2 AMI State Change',
  requestId: 'event-1',
};

const run = (name: string) => wf.run(name, input);

const steps = () => wf.calls.map((c) => c.step);
const reportedOutcomes = () =>
  wf.calls.filter((c) => c.step === 'ReportOutcome').map((c) => c.payload['outcome']);

describe('Rollout workflow (synthesized definition)', () => {
  it('rolls batch by batch, surge first, and commits', async () => {
    const result = await run('happy');
    expect(result.status).toBe('SUCCEEDED');
    expect(steps()).toEqual([
      'AcquireFleetLock',
      'ValidateImage',
      'CheckAlarms',
      'ReconcileLaunchTemplate',
      ...Array.from({ length: 4 }, () => [
        'LaunchBatch',
        'CheckBatchHealth',
        'CheckAlarms',
        'RetireBatch',
      ]).flat(),
      'CheckAlarms',
      'CommitRollout',
    ]);
    // The alarm checks say when they run: before the start, after each batch, after the bake.
    expect(wf.calls.filter((c) => c.step === 'CheckAlarms').map((c) => c.payload['phase'])).toEqual([
      'start',
      'batch',
      'batch',
      'batch',
      'batch',
      'bake',
    ]);
    // Each step is served by the function that owns its clients.
    expect(new Set(wf.calls.filter((c) => c.step === 'LaunchBatch').map((c) => c.handler))).toEqual(
      new Set([Handlers.rolloutFleet]),
    );
    expect(wf.calls.find((c) => c.step === 'CommitRollout')?.handler).toBe(Handlers.rolloutRecord);
    // The execution name reaches the steps (it is the lock owner and the history key).
    expect(wf.calls.every((c) => c.payload['execution'] === 'happy')).toBe(true);
    expect(wf.calls.at(-1)?.payload['state'].progress.replaced).toBe(4);
  });

  it('keeps checking a batch until it is healthy', async () => {
    wf.scripts['CheckBatchHealth'] = (p, n) => ({
      ...p['state'].progress,
      ready: n % 3 === 2,
      checks: n + 1,
    });
    const result = await run('slow-batches');
    expect(result.status).toBe('SUCCEEDED');
    expect(steps().filter((s) => s === 'CheckBatchHealth')).toHaveLength(12);
  });

  it('commits at once when the fleet already runs the image', async () => {
    const validate = wf.scripts['ValidateImage']!;
    wf.scripts['ValidateImage'] = (p, n) => ({ ...(validate(p, n) as object), upToDate: true });
    const result = await run('up-to-date');
    expect(result.status).toBe('SUCCEEDED');
    expect(steps()).toEqual(['AcquireFleetLock', 'ValidateImage', 'CommitRollout']);
  });

  it('retries a transient error and goes on', async () => {
    const launch = wf.scripts['LaunchBatch']!;
    wf.scripts['LaunchBatch'] = (p, n) => {
      if (n === 0) throw fail('TransientAwsError', 'SetDesiredCapacity: Throttling: Rate exceeded');
      return launch(p, n);
    };
    const result = await run('transient');
    expect(result.status).toBe('SUCCEEDED');
    expect(steps().slice(3, 6)).toEqual(['ReconcileLaunchTemplate', 'LaunchBatch', 'LaunchBatch']);
    expect(reportedOutcomes()).toEqual([]);
  });

  it('rejects an image that fails validation, before anything changes', async () => {
    wf.scripts['ValidateImage'] = () => {
      throw fail('ImageRejectedError', 'image ami-00000000000000002 is pending, not available');
    };
    const result = await run('rejected');
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('RolloutRejected');
    expect(result.cause).toContain('is pending, not available');
    expect(steps()).toEqual(['AcquireFleetLock', 'ValidateImage', 'ReportOutcome']);
    expect(reportedOutcomes()).toEqual(['RolloutRejected']);
    const report = wf.calls.at(-1)!.payload['state'];
    expect(report.error.Error).toBe('ImageRejectedError');
  });

  it('rejects a rollout when another one holds the fleet', async () => {
    wf.scripts['AcquireFleetLock'] = () => {
      throw fail('FleetBusyError', 'fleet web is already rolling out ami-00000000000000003');
    };
    const result = await run('busy');
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('RolloutRejected');
    expect(steps()).toEqual(['AcquireFleetLock', 'ReportOutcome']);
  });

  it('rolls back when a batch never becomes healthy, naming the step', async () => {
    wf.scripts['CheckBatchHealth'] = () => {
      throw fail('BatchNotHealthyError', 'after 5 checks, 0 of 1 instances are InService and healthy');
    };
    const result = await run('unhealthy');
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('RolloutRolledBack');
    expect(steps()).toEqual([
      'AcquireFleetLock',
      'ValidateImage',
      'CheckAlarms',
      'ReconcileLaunchTemplate',
      'LaunchBatch',
      'CheckBatchHealth',
      'StartRollback',
      'CheckRollbackCapacity',
      'FinishRollback',
      'ReportOutcome',
    ]);
    expect(reportedOutcomes()).toEqual(['RolloutRolledBack']);
    const state = wf.calls.at(-1)!.payload['state'];
    expect(state.failedStep).toBe('CheckBatchHealth');
    expect(state.error.Error).toBe('BatchNotHealthyError');
  });

  it('does not retry a terminal error: one attempt, then rollback', async () => {
    wf.scripts['ReconcileLaunchTemplate'] = () => {
      throw fail('ValidationError', 'launch template lt-0123456789abcdef0 does not exist');
    };
    const result = await run('terminal');
    expect(result.error).toBe('RolloutRolledBack');
    expect(steps().filter((s) => s === 'ReconcileLaunchTemplate')).toHaveLength(1);
    expect(wf.calls.at(-1)!.payload['state'].failedStep).toBe('ReconcileLaunchTemplate');
  });

  it('gives up on a transient error after its retries, and rolls back', async () => {
    wf.scripts['RetireBatch'] = () => {
      throw fail('TransientAwsError', 'TerminateInstanceInAutoScalingGroup: ServiceUnavailable');
    };
    const result = await run('exhausted');
    expect(result.error).toBe('RolloutRolledBack');
    // 1 attempt + 4 retries
    expect(steps().filter((s) => s === 'RetireBatch')).toHaveLength(5);
  });

  it('waits for the old capacity to be back before removing new instances', async () => {
    wf.scripts['LaunchBatch'] = () => {
      throw fail('UnsupportedFleetError', 'group changed shape');
    };
    wf.scripts['CheckRollbackCapacity'] = (p, n) => ({
      ...p['state'].rollback,
      ready: n === 2,
      checks: n + 1,
    });
    const result = await run('slow-rollback');
    expect(result.error).toBe('RolloutRolledBack');
    expect(steps().slice(-5)).toEqual([
      'CheckRollbackCapacity',
      'CheckRollbackCapacity',
      'CheckRollbackCapacity',
      'FinishRollback',
      'ReportOutcome',
    ]);
  });

  it('reports RolloutFailed when the rollback itself fails', async () => {
    wf.scripts['CheckBatchHealth'] = () => {
      throw fail('BatchNotHealthyError', 'unhealthy');
    };
    wf.scripts['FinishRollback'] = () => {
      throw fail('ValidationError', 'cannot terminate');
    };
    const result = await run('rollback-failed');
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('RolloutFailed');
    expect(reportedOutcomes()).toEqual(['RolloutFailed']);
    const state = wf.calls.at(-1)!.payload['state'];
    expect(state.rollbackError.Error).toBe('ValidationError');
    expect(state.error.Error).toBe('BatchNotHealthyError');
  });

  it('bakes after the last batch (a Wait of bake seconds), checks the alarms, then commits', async () => {
    const result = await run('bake');
    expect(result.status).toBe('SUCCEEDED');
    const entered = result.events
      .filter((e) => e.type.endsWith('StateEntered'))
      .map((e) => (e as { stateEnteredEventDetails?: { name?: string } }).stateEnteredEventDetails?.name);
    // Each batch warms up (a Wait) before its alarm check; the last one is followed by the bake.
    expect(entered.filter((n) => n === 'WarmUpBatch')).toHaveLength(4);
    expect(entered.slice(entered.lastIndexOf('RetireBatch'))).toEqual([
      'RetireBatch',
      'OldInstancesLeft?',
      'Bake',
      'CheckAlarmsAfterBake',
      'CommitRollout',
      'RolloutSucceeded',
    ]);
    expect(steps().slice(-3)).toEqual(['RetireBatch', 'CheckAlarms', 'CommitRollout']);
    expect(wf.calls.at(-2)!.payload['phase']).toBe('bake');
  });

  it('rejects the rollout when a gating alarm is in ALARM before the start, before anything changes', async () => {
    wf.scripts['CheckAlarms'] = () => {
      throw fail('AlarmBreachedError', 'alarm web-errors is in ALARM before the start');
    };
    const result = await run('alarm-before-start');
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('RolloutRejected');
    expect(result.cause).toContain('web-errors');
    expect(steps()).toEqual(['AcquireFleetLock', 'ValidateImage', 'CheckAlarms', 'ReportOutcome']);
    expect(reportedOutcomes()).toEqual(['RolloutRejected']);
  });

  it('rolls back when a gating alarm is in ALARM at a batch check, naming the alarm', async () => {
    wf.scripts['CheckAlarms'] = (p) => {
      if (p['phase'] === 'batch' && p['state'].progress.remainingOld === 3)
        throw fail('AlarmBreachedError', 'alarm web-errors is in ALARM after a batch');
      return { checked: 1 };
    };
    const result = await run('alarm-at-batch');
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('RolloutRolledBack');
    expect(result.cause).toContain('web-errors');
    // The second batch never retired anything: the alarm came first.
    expect(steps().filter((s) => s === 'RetireBatch')).toHaveLength(1);
    expect(steps().slice(-4)).toEqual([
      'StartRollback',
      'CheckRollbackCapacity',
      'FinishRollback',
      'ReportOutcome',
    ]);
    const state = wf.calls.at(-1)!.payload['state'];
    expect(state.failedStep).toBe('CheckAlarmsAfterBatch');
    expect(state.error.Error).toBe('AlarmBreachedError');
  });

  it('rolls back when a gating alarm is in ALARM after the bake: nothing is committed', async () => {
    wf.scripts['CheckAlarms'] = (p) => {
      if (p['phase'] === 'bake')
        throw fail('AlarmBreachedError', 'alarm web-errors is in ALARM after the bake');
      return { checked: 1 };
    };
    const result = await run('alarm-after-bake');
    expect(result.error).toBe('RolloutRolledBack');
    expect(steps()).not.toContain('CommitRollout');
    expect(wf.calls.at(-1)!.payload['state'].failedStep).toBe('CheckAlarmsAfterBake');
  });

  it('rejects a fleet whose settings tag is invalid', async () => {
    wf.scripts['ValidateImage'] = () => {
      throw fail('InvalidFleetSettingError', 'tag phoenix:max-surge="lots" is invalid: expected …');
    };
    const result = await run('bad-setting');
    expect(result.error).toBe('RolloutRejected');
    expect(steps()).toEqual(['AcquireFleetLock', 'ValidateImage', 'ReportOutcome']);
  });

  it('passes the lock duration (the workflow timeout) to the lock step', async () => {
    await run('lock-seconds');
    expect(wf.calls[0]!.payload['lockSeconds']).toBe(7200);
  });
});
