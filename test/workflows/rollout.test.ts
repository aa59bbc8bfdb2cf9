/**
 * The Rollout state machine as synthesized by the CDK app, executed locally
 * (aws-local-stepfunctions through the local Step Functions service). The Lambda tasks are bound
 * to scripted step doubles: these tests check the definition's routing (order of steps, Retry,
 * Catch, outcome path), not the steps themselves (see test/integration for those).
 */
import { describe, expect, it } from 'vitest';
import type { HandledEndOutput } from '../../lib/workflow/state';
import { Handlers } from '../../lambdas/domain/contract';
import {
  checkDeadline,
  continuationName,
  isNewerImage,
  rolloutDeadline,
  segmentHistory,
} from '../../lambdas/domain/rollout';
import { fail, type Scripts, useWorkflow } from '../support/workflow-harness';

/** What CheckSafePoint names as the continuation of `execution` (the real naming rule). */
function nextSegment(execution: string) {
  const current = Number(/-c(\d+)$/.exec(execution)?.[1] ?? '1');
  return { name: continuationName(execution, current + 1), from: execution, number: current + 1 };
}

/** What CheckSafePoint answers when there is nothing to stop for (the real budget rule). */
const safePoint = (p: Record<string, any>) => ({
  continuation: nextSegment(p['execution']),
  ...segmentHistory(p['historyBudget'], p['execution'], p['state'].safePoint, p['state'].progress.checks),
});

/** Default behaviour of every step: a fleet of 4 on the old image, batches of 1, healthy at once. */
function happyScripts(): Scripts {
  let remainingOld = 4;
  return {
    ReadImage: (p) => ({ imageId: p['state'].imageId, creationDate: '2026-11-20T10:00:00.000Z' }),
    AcquireFleetLock: () => ({ deadline: 4_000_000_000 }),
    TakeOverFleetLock: (p) => ({ ...p['state'].lock }),
    SuspendScalingProcesses: () => ({ suspended: ['AZRebalance'] }),
    ReleaseFleet: () => ({ resumed: ['AZRebalance'], limitsRestored: true }),
    CheckSafePoint: safePoint,
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
    QuarantineImage: () => ({ tagged: false }),
  };
}

const wf = useWorkflow('Rollout', happyScripts);

/** The output of an execution that ended in a handled outcome (`HandledEndOutput`, lib/workflow/state.ts). */
function outputOf(record: { readonly output?: string }): HandledEndOutput {
  expect(record.output).toBeDefined();
  return JSON.parse(record.output!) as HandledEndOutput;
}

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
    const batch = ['LaunchBatch', 'CheckBatchHealth', 'CheckAlarms', 'RetireBatch', 'CheckSafePoint'];
    expect(steps()).toEqual([
      'ReadImage',
      'AcquireFleetLock',
      'ValidateImage',
      'CheckAlarms',
      'SuspendScalingProcesses',
      'ReconcileLaunchTemplate',
      ...batch,
      ...batch,
      ...batch,
      ...batch,
      'CheckAlarms',
      'ReleaseFleet',
      'CommitRollout',
    ]);
    // 4 batches fit one execution's history budget: no continuation.
    expect(wf.executions.map((e) => [e.name, e.status])).toEqual([['happy', 'SUCCEEDED']]);
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

  it('continues as a new execution where CheckSafePoint says so: the continuation takes the lock and goes on; only it commits', async () => {
    wf.scripts['CheckSafePoint'] = (p) => ({
      ...safePoint(p),
      continueNow: p['execution'] === 'segmented' && p['state'].progress.remainingOld === 2,
    });
    const result = await run('segmented');
    expect(result.status).toBe('SUCCEEDED');
    const batch = ['LaunchBatch', 'CheckBatchHealth', 'CheckAlarms', 'RetireBatch', 'CheckSafePoint'];
    expect(steps().slice(6)).toEqual([
      ...batch,
      ...batch,
      'TakeOverFleetLock',
      ...batch,
      ...batch,
      'CheckAlarms',
      'ReleaseFleet',
      'CommitRollout',
    ]);
    expect(wf.executions.map((e) => [e.name, e.status])).toEqual([
      ['segmented', 'SUCCEEDED'],
      ['segmented-c2', 'SUCCEEDED'],
    ]);
    expect(JSON.parse(wf.executions[0]!.output!)).toEqual({ continued: 'segmented-c2' });
    const takeOver = wf.calls.find((c) => c.step === 'TakeOverFleetLock')!;
    expect(takeOver.payload['execution']).toBe('segmented-c2');
    expect(takeOver.payload['state'].safePoint.continuation).toEqual({
      name: 'segmented-c2',
      from: 'segmented',
      number: 2,
    });
    // The continuation carries the state: the deadline, the fleet's original shape, the progress.
    expect(takeOver.payload['state'].lock.deadline).toBe(4_000_000_000);
    expect(takeOver.payload['state'].fleetState.desiredCapacity).toBe(4);
    expect(takeOver.payload['state'].progress.replaced).toBe(2);
    expect(wf.calls.at(-1)!.payload['state'].progress.replaced).toBe(4);
    expect(wf.calls.at(-1)!.payload['execution']).toBe('segmented-c2');
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

  it('checks a batch right after its launch, then after each poll: a batch ready at once waits no poll', async () => {
    // The 2nd check (the 2nd batch's first) finds it not ready; every other check finds it ready.
    wf.scripts['CheckBatchHealth'] = (p, n) => ({
      ...p['state'].progress,
      ready: n !== 1,
      checks: p['state'].progress.checks + 1,
      nextCheckSeconds: 15,
      fastChecks: 0,
    });
    const result = await run('ready-at-once');
    expect(result.status).toBe('SUCCEEDED');
    const entered = result.events
      .filter((e) => e.type.endsWith('StateEntered'))
      .map((e) => (e['stateEnteredEventDetails'] as { name?: string }).name)
      .filter((name) => ['LaunchBatch', 'WaitForHealthyBatch', 'CheckBatchHealth'].includes(name ?? ''));
    const atOnce = ['LaunchBatch', 'CheckBatchHealth'];
    expect(entered).toEqual([
      ...atOnce,
      ...atOnce,
      'WaitForHealthyBatch',
      'CheckBatchHealth',
      ...atOnce,
      ...atOnce,
    ]);
  });

  it('paces a batch: WaitForHealthyBatch waits what CheckBatchHealth asked for; a result without a pace waits one poll interval', async () => {
    // The first batch: not ready twice, the first time with its pace, the second without.
    wf.scripts['CheckBatchHealth'] = (p, n) => {
      const { nextCheckSeconds: _previous, ...progress } = p['state'].progress;
      return {
        ...progress,
        ready: n >= 2,
        checks: progress.checks + 1,
        ...(n === 0 ? { nextCheckSeconds: 5, fastChecks: 1 } : {}),
      };
    };
    const result = await run('paced');
    expect(result.status).toBe('SUCCEEDED');
    const entered = result.events
      .filter((e) => e.type.endsWith('StateEntered'))
      .map((e) => (e['stateEnteredEventDetails'] as { name?: string }).name ?? '')
      .filter((name) => name.startsWith('WaitForHealthyBatch'));
    expect(entered).toEqual(['WaitForHealthyBatch', 'WaitForHealthyBatchInterval']);
    const checks = wf.calls.filter((c) => c.payload['step'] === 'CheckBatchHealth');
    expect(checks[0]!.payload['pacing']).toStrictEqual({ pollSeconds: 15, fastChecks: 10 });
  });

  it('commits at once when the fleet already runs the image', async () => {
    const validate = wf.scripts['ValidateImage']!;
    wf.scripts['ValidateImage'] = (p, n) => ({ ...validate(p, n), upToDate: true });
    const result = await run('up-to-date');
    expect(result.status).toBe('SUCCEEDED');
    expect(steps()).toEqual(['ReadImage', 'AcquireFleetLock', 'ValidateImage', 'CommitRollout']);
  });

  it('retries a transient error and goes on', async () => {
    const launch = wf.scripts['LaunchBatch']!;
    wf.scripts['LaunchBatch'] = (p, n) => {
      if (n === 0) throw fail('TransientAwsError', 'SetDesiredCapacity: Throttling: Rate exceeded');
      return launch(p, n);
    };
    const result = await run('transient');
    expect(result.status).toBe('SUCCEEDED');
    expect(steps().slice(5, 8)).toEqual(['ReconcileLaunchTemplate', 'LaunchBatch', 'LaunchBatch']);
    expect(reportedOutcomes()).toEqual([]);
  });

  it('rejects an image that fails validation, before anything changes', async () => {
    wf.scripts['ValidateImage'] = () => {
      throw fail('ImageRejectedError', 'image ami-00000000000000002 is pending, not available');
    };
    const result = await run('rejected');
    expect(result.status).toBe('SUCCEEDED');
    expect(outputOf(result).outcome).toBe('RolloutRejected');
    expect(outputOf(result)).toEqual({
      outcome: 'RolloutRejected',
      reason: expect.stringContaining('is pending, not available'),
      error: 'ImageRejectedError',
    });
    expect(steps()).toEqual(['ReadImage', 'AcquireFleetLock', 'ValidateImage', 'ReportOutcome']);
    expect(reportedOutcomes()).toEqual(['RolloutRejected']);
    const report = wf.calls.at(-1)!.payload['state'];
    expect(report.error.Error).toBe('ImageRejectedError');
  });

  it('rejects a rollout when another one holds the fleet', async () => {
    wf.scripts['AcquireFleetLock'] = () => {
      throw fail('FleetBusyError', 'fleet web is already rolling out ami-00000000000000003');
    };
    const result = await run('busy');
    expect(result.status).toBe('SUCCEEDED');
    expect(outputOf(result).outcome).toBe('RolloutRejected');
    expect(steps()).toEqual(['ReadImage', 'AcquireFleetLock', 'ReportOutcome']);
  });

  it('rolls back when a batch never becomes healthy, naming the step', async () => {
    wf.scripts['CheckBatchHealth'] = () => {
      throw fail('BatchNotHealthyError', 'after 5 checks, 0 of 1 instances are InService and healthy');
    };
    const result = await run('unhealthy');
    expect(result.status).toBe('SUCCEEDED');
    expect(outputOf(result)).toEqual({
      outcome: 'RolloutRolledBack',
      reason: expect.stringContaining('0 of 1 instances are InService and healthy'),
      error: 'BatchNotHealthyError',
      step: 'CheckBatchHealth',
    });
    expect(result.events.at(-2)).toMatchObject({
      type: 'SucceedStateExited',
      stateExitedEventDetails: { name: 'RolloutRolledBack' },
    });
    expect(steps()).toEqual([
      'ReadImage',
      'AcquireFleetLock',
      'ValidateImage',
      'CheckAlarms',
      'SuspendScalingProcesses',
      'ReconcileLaunchTemplate',
      'LaunchBatch',
      'CheckBatchHealth',
      'StartRollback',
      'CheckRollbackCapacity',
      'FinishRollback',
      'QuarantineImage',
      'ReportOutcome',
    ]);
    expect(reportedOutcomes()).toEqual(['RolloutRolledBack']);
    const state = wf.calls.at(-1)!.payload['state'];
    expect(state.failedStep).toBe('CheckBatchHealth');
    expect(state.error.Error).toBe('BatchNotHealthyError');
  });

  it('quarantines before the report of a rollback, and a quarantine that fails still ends RolloutRolledBack', async () => {
    wf.scripts['CheckBatchHealth'] = () => {
      throw fail('BatchNotHealthyError', 'after 40 checks, 0 of 1 instances are InService and healthy');
    };
    wf.scripts['QuarantineImage'] = () => {
      throw fail('UnauthorizedOperation', 'not authorized to perform ec2:CreateTags');
    };
    const result = await run('quarantine-failed');
    expect(result.status).toBe('SUCCEEDED');
    expect(outputOf(result).outcome).toBe('RolloutRolledBack');
    expect(steps().slice(-3)).toEqual(['FinishRollback', 'QuarantineImage', 'ReportOutcome']);
    expect(reportedOutcomes()).toEqual(['RolloutRolledBack']);
    const state = wf.calls.at(-1)!.payload['state'];
    expect(state.quarantineError.Error).toBe('UnauthorizedOperation');
    expect(state.error.Error).toBe('BatchNotHealthyError');
  });

  it('passes the tag result to the report (QuarantineImage at $.quarantine)', async () => {
    wf.scripts['CheckBatchHealth'] = () => {
      throw fail('BatchNotHealthyError', 'unhealthy');
    };
    wf.scripts['QuarantineImage'] = () => ({ reason: 'health', tagged: true });
    const result = await run('quarantined');
    expect(outputOf(result).outcome).toBe('RolloutRolledBack');
    const state = wf.calls.at(-1)!.payload['state'];
    expect(state.quarantine).toEqual({ reason: 'health', tagged: true });
    expect(state.quarantineError).toBeUndefined();
  });

  it('does not retry a terminal error: one attempt, then rollback', async () => {
    wf.scripts['ReconcileLaunchTemplate'] = () => {
      throw fail('ValidationError', 'launch template lt-0123456789abcdef0 does not exist');
    };
    const result = await run('terminal');
    expect(result.status).toBe('SUCCEEDED');
    expect(outputOf(result).outcome).toBe('RolloutRolledBack');
    expect(steps().filter((s) => s === 'ReconcileLaunchTemplate')).toHaveLength(1);
    expect(wf.calls.at(-1)!.payload['state'].failedStep).toBe('ReconcileLaunchTemplate');
    // Rolled back: the processes Phoenix suspended are resumed by FinishRollback (not a second step).
    expect(steps()).not.toContain('ReleaseFleet');
  });

  it('gives up on a transient error after its retries, and rolls back', async () => {
    wf.scripts['RetireBatch'] = () => {
      throw fail('TransientAwsError', 'TerminateInstanceInAutoScalingGroup: ServiceUnavailable');
    };
    const result = await run('exhausted');
    expect(result.status).toBe('SUCCEEDED');
    expect(outputOf(result).outcome).toBe('RolloutRolledBack');
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
    expect(result.status).toBe('SUCCEEDED');
    expect(outputOf(result).outcome).toBe('RolloutRolledBack');
    expect(steps().slice(-6)).toEqual([
      'CheckRollbackCapacity',
      'CheckRollbackCapacity',
      'CheckRollbackCapacity',
      'FinishRollback',
      'QuarantineImage',
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

  it('ends FAILED (RolloutFailed) when the report of a handled outcome fails: nobody was told, it needs a human', async () => {
    wf.scripts['ValidateImage'] = () => {
      throw fail('ImageRejectedError', 'image ami-00000000000000002 is pending, not available');
    };
    wf.scripts['ReportOutcome'] = () => {
      throw fail('ConfigurationError', 'PHOENIX_TABLE_NAME is not set');
    };
    const result = await run('report-failed');
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('RolloutFailed');
    expect(result.cause).toContain('is pending, not available');
    expect(steps()).toEqual(['ReadImage', 'AcquireFleetLock', 'ValidateImage', 'ReportOutcome']);
  });

  it('bakes after the last batch (a Wait of bake seconds), checks the alarms, then commits', async () => {
    const result = await run('bake');
    expect(result.status).toBe('SUCCEEDED');
    expect(result.status).toBe('SUCCEEDED');
    const entered = wf.executions
      .flatMap((e) => e.events)
      .filter((e) => e.type.endsWith('StateEntered'))
      .map((e) => (e as { stateEnteredEventDetails?: { name?: string } }).stateEnteredEventDetails?.name);
    // Each batch warms up (a Wait) before its alarm check; the last one is followed by the bake.
    expect(entered.filter((n) => n === 'WarmUpBatch')).toHaveLength(4);
    expect(entered.slice(entered.lastIndexOf('RetireBatch'))).toEqual([
      'RetireBatch',
      'CheckSafePoint',
      'StopAtSafePoint?',
      'OldInstancesLeft?',
      'Bake',
      'CheckAlarmsAfterBake',
      'ReleaseFleetBeforeCommit',
      'CommitRollout',
      'RolloutSucceeded',
    ]);
    expect(steps().slice(-5)).toEqual([
      'RetireBatch',
      'CheckSafePoint',
      'CheckAlarms',
      'ReleaseFleet',
      'CommitRollout',
    ]);
    expect(wf.calls.at(-3)!.payload['phase']).toBe('bake');
  });

  it('rejects the rollout when a gating alarm is in ALARM before the start, before anything changes', async () => {
    wf.scripts['CheckAlarms'] = () => {
      throw fail('AlarmBreachedError', 'alarm web-errors is in ALARM before the start');
    };
    const result = await run('alarm-before-start');
    expect(result.status).toBe('SUCCEEDED');
    expect(outputOf(result).outcome).toBe('RolloutRejected');
    expect(outputOf(result).reason).toContain('web-errors');
    expect(steps()).toEqual([
      'ReadImage',
      'AcquireFleetLock',
      'ValidateImage',
      'CheckAlarms',
      'ReportOutcome',
    ]);
    expect(reportedOutcomes()).toEqual(['RolloutRejected']);
  });

  it('rolls back when a gating alarm is in ALARM at a batch check, naming the alarm', async () => {
    wf.scripts['CheckAlarms'] = (p) => {
      if (p['phase'] === 'batch' && p['state'].progress.remainingOld === 3)
        throw fail('AlarmBreachedError', 'alarm web-errors is in ALARM after a batch');
      return { checked: 1 };
    };
    const result = await run('alarm-at-batch');
    expect(result.status).toBe('SUCCEEDED');
    expect(outputOf(result).outcome).toBe('RolloutRolledBack');
    expect(outputOf(result).reason).toContain('web-errors');
    // The second batch never retired anything: the alarm came first.
    expect(steps().filter((s) => s === 'RetireBatch')).toHaveLength(1);
    expect(steps().slice(-5)).toEqual([
      'StartRollback',
      'CheckRollbackCapacity',
      'FinishRollback',
      'QuarantineImage',
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
    expect(result.status).toBe('SUCCEEDED');
    expect(outputOf(result).outcome).toBe('RolloutRolledBack');
    expect(steps()).not.toContain('CommitRollout');
    expect(wf.calls.at(-1)!.payload['state'].failedStep).toBe('CheckAlarmsAfterBake');
  });

  it('rejects a fleet whose settings tag is invalid', async () => {
    wf.scripts['ValidateImage'] = () => {
      throw fail('InvalidFleetSettingError', 'tag phoenix:max-surge="lots" is invalid: expected …');
    };
    const result = await run('bad-setting');
    expect(result.status).toBe('SUCCEEDED');
    expect(outputOf(result).outcome).toBe('RolloutRejected');
    expect(steps()).toEqual(['ReadImage', 'AcquireFleetLock', 'ValidateImage', 'ReportOutcome']);
  });

  it('passes the lock duration (the whole execution: timeout + rollback allowance) and the rollout timeout to the lock step', async () => {
    await run('lock-seconds');
    const lock = wf.calls.find((c) => c.step === 'AcquireFleetLock')!.payload;
    // 2 h + batchHealthTimeout 10 min + pollInterval 15 s + 10 min for the rollback's steps.
    expect(lock['lockSeconds']).toBe(7200 + 600 + 15 + 600);
    expect(lock['timeoutSeconds']).toBe(7200);
    expect(typeof lock['startedAt']).toBe('string');
  });

  it('rolls back a rollout that passes its deadline while a batch is not healthy (simulated time), naming the step', async () => {
    // Simulated time: the execution starts at T; each health check happens 20 minutes later.
    const T = Date.parse('2026-11-27T00:00:00Z');
    let now = T;
    wf.scripts['AcquireFleetLock'] = (p) => ({
      deadline: rolloutDeadline(new Date(T), p['timeoutSeconds']),
    });
    wf.scripts['ValidateImage'] = (p, n) => ({
      ...happyScripts()['ValidateImage']!(p, n),
      maxChecks: 1000,
    });
    wf.scripts['CheckBatchHealth'] = (p) => {
      now += 20 * 60 * 1000;
      try {
        checkDeadline(p['state'].lock.deadline, new Date(now), 'CheckBatchHealth');
      } catch (error) {
        throw fail((error as Error).name, (error as Error).message);
      }
      return { ...p['state'].progress, ready: false, checks: p['state'].progress.checks + 1 };
    };
    const result = await run('deadline');
    expect(result.status).toBe('SUCCEEDED');
    expect(outputOf(result).outcome).toBe('RolloutRolledBack');
    expect(outputOf(result).reason).toContain('the rollout timed out in CheckBatchHealth');
    // 2 h / 20 min: the seventh check is past the deadline.
    expect(steps().filter((s) => s === 'CheckBatchHealth')).toHaveLength(7);
    expect(steps().slice(-5)).toEqual([
      'StartRollback',
      'CheckRollbackCapacity',
      'FinishRollback',
      'QuarantineImage',
      'ReportOutcome',
    ]);
    expect(reportedOutcomes()).toEqual(['RolloutRolledBack']);
    const state = wf.calls.at(-1)!.payload['state'];
    expect(state.failedStep).toBe('CheckBatchHealth');
    expect(state.error.Error).toBe('RolloutTimedOutError');
  });

  it('rolls back a rollout whose deadline passes at a safe point (before the next batch)', async () => {
    wf.scripts['CheckSafePoint'] = (p) => {
      if (p['state'].progress.remainingOld === 2)
        throw fail(
          'RolloutTimedOutError',
          'the rollout timed out in CheckSafePoint: its deadline … has passed',
        );
      return safePoint(p);
    };
    const result = await run('deadline-safe-point');
    expect(result.status).toBe('SUCCEEDED');
    expect(outputOf(result).outcome).toBe('RolloutRolledBack');
    expect(wf.calls.at(-1)!.payload['state'].failedStep).toBe('CheckSafePoint');
  });

  it('waits in line while the lock step says RolloutQueuedError, and is rejected when its deadline passes while waiting', async () => {
    wf.scripts['AcquireFleetLock'] = (_p, n) => {
      if (n < 2) throw fail('RolloutQueuedError', 'fleet web is rolling out the older image …; ami-…2 waits');
      throw fail(
        'RolloutTimedOutError',
        'the rollout timed out in AcquireFleetLock: its deadline … has passed',
      );
    };
    const result = await run('queued-timeout');
    expect(result.status).toBe('SUCCEEDED');
    expect(outputOf(result).outcome).toBe('RolloutRejected');
    expect(outputOf(result).reason).toContain('timed out in AcquireFleetLock');
    expect(steps()).toEqual([
      'ReadImage',
      'AcquireFleetLock',
      'AcquireFleetLock',
      'AcquireFleetLock',
      'ReportOutcome',
    ]);
    const entered = result.events
      .filter((e) => e.type.endsWith('StateEntered'))
      .map((e) => (e as { stateEnteredEventDetails?: { name?: string } }).stateEnteredEventDetails?.name);
    expect(entered.filter((n) => n === 'WaitForFleetLock')).toHaveLength(2);
  });

  it('waits for a global slot with the callback pattern: woken at once by SendTaskSuccess, after its TimeoutSeconds otherwise, the plain wait if it cannot register', async () => {
    wf.scripts['AcquireFleetLock'] = (_p, n) => {
      if (n < 3) throw fail('RolloutSlotQueuedError', 'fleet web: all 1 rollout slots are in use');
      return { deadline: 4_000_000_000 };
    };
    // 1st wait: woken by a release (here at once); 2nd: no wake-up, it times out (120 s scaled);
    // 3rd: the registration fails (not transient), the plain wait takes over.
    wf.scripts['WaitForRolloutSlot'] = (p, n) => {
      expect(p['token']).toEqual(expect.any(String));
      expect(p['state'].fleet).toBe('web');
      if (n === 0) wf.service.sendTaskSuccess(p['token'], JSON.stringify({ granted: true, at: 'now' }));
      if (n === 2) throw fail('ConfigurationError', 'no table');
      return { registered: true, acquired: false };
    };
    const result = await run('slot-wait');
    expect(result.status).toBe('SUCCEEDED');
    expect(steps().slice(0, 8)).toEqual([
      'ReadImage',
      'AcquireFleetLock',
      'WaitForRolloutSlot',
      'AcquireFleetLock',
      'WaitForRolloutSlot',
      'AcquireFleetLock',
      'WaitForRolloutSlot',
      'AcquireFleetLock',
    ]);
    const entered = result.events
      .filter((e) => e.type.endsWith('StateEntered'))
      .map((e) => (e as { stateEnteredEventDetails?: { name?: string } }).stateEnteredEventDetails?.name);
    expect(entered.filter((n) => n === 'WaitForFleetLock')).toHaveLength(1);
    expect(result.events.filter((e) => e.type === 'TaskSubmitted')).toHaveLength(2);
    expect(result.events.filter((e) => e.type === 'TaskTimedOut')).toHaveLength(1);
  });

  it('rejects a late (older) image at once, without waiting: nothing changes', async () => {
    wf.scripts['AcquireFleetLock'] = () => {
      throw fail(
        'OlderImageError',
        'image ami-…2 (created …) is not newer than ami-…3, which execution x is rolling out',
      );
    };
    const result = await run('late-image');
    expect(result.status).toBe('SUCCEEDED');
    expect(outputOf(result).outcome).toBe('RolloutRejected');
    expect(outputOf(result).reason).toContain('is not newer than');
    expect(steps()).toEqual(['ReadImage', 'AcquireFleetLock', 'ReportOutcome']);
  });

  it('stops cleanly at a safe point when its fleet is paused: limits restored, processes resumed, RolloutPaused, no rollback', async () => {
    wf.scripts['CheckSafePoint'] = (p) => ({
      ...safePoint(p),
      ...(p['state'].progress.remainingOld === 3
        ? { outcome: 'RolloutPaused', reason: 'fleet web was paused at … (maintenance)' }
        : {}),
    });
    const result = await run('paused');
    expect(result.status).toBe('SUCCEEDED');
    expect(outputOf(result)).toEqual({
      outcome: 'RolloutPaused',
      reason: 'fleet web was paused at … (maintenance)',
    });
    expect(steps().slice(-4)).toEqual(['RetireBatch', 'CheckSafePoint', 'ReleaseFleet', 'ReportOutcome']);
    expect(steps()).not.toContain('StartRollback');
    expect(steps()).not.toContain('CommitRollout');
    const report = wf.calls.at(-1)!.payload;
    expect(report['outcome']).toBe('RolloutPaused');
    expect(report['reason']).toContain('paused');
  });
});

/**
 * Two rollouts of one fleet, each a real execution of the synthesized definition, over one
 * simulated fleet (instances by image, desired and max capacity, the fleet record's lock and
 * supersede request). The doubles follow the record steps' rules (lib: lambdas/steps/record.ts),
 * ordered by the images' CreationDate.
 */
describe('Rollout workflow: supersede and late images (two executions, one simulated fleet)', () => {
  const created: Record<string, string> = {
    'ami-00000000000000001': '2026-11-01T00:00:00.000Z',
    'ami-00000000000000002': '2026-11-10T00:00:00.000Z',
    'ami-00000000000000003': '2026-11-20T00:00:00.000Z',
  };

  function simulatedFleet(onImageRetired?: (retired: number) => void) {
    const fleet = {
      instances: Array.from({ length: 4 }, () => 'ami-00000000000000001'),
      desired: 4,
      max: 4,
      lock: undefined as { execution: string; imageId: string } | undefined,
      supersede: undefined as { execution: string; imageId: string } | undefined,
      desiredImage: 'ami-00000000000000001',
      history: [] as [string, string][],
    };
    const imageOf = (p: Record<string, any>) => p['state'].imageId as string;
    const release = (p: Record<string, any>, outcome: string) => {
      if (fleet.lock?.execution === p['execution']) fleet.lock = undefined;
      fleet.history.push([imageOf(p), outcome]);
    };
    const scripts: Scripts = {
      ...happyScripts(),
      ReadImage: (p) => ({ imageId: imageOf(p), creationDate: created[imageOf(p)] }),
      AcquireFleetLock: (p) => {
        const mine = imageOf(p);
        const holder = fleet.lock;
        if (holder !== undefined && holder.execution !== p['execution']) {
          if (!isNewerImage(created[mine], created[holder.imageId]))
            throw fail('OlderImageError', `image ${mine} is not newer than ${holder.imageId}: a late event`);
          fleet.supersede = { execution: p['execution'], imageId: mine };
          throw fail('RolloutQueuedError', `fleet web is rolling out the older image ${holder.imageId}`);
        }
        if (!isNewerImage(created[mine], created[fleet.desiredImage]))
          throw fail('OlderImageError', `image ${mine} is not newer than the desired image`);
        fleet.lock = { execution: p['execution'], imageId: mine };
        if (fleet.supersede?.execution === p['execution']) fleet.supersede = undefined;
        return { deadline: 4_000_000_000 };
      },
      ValidateImage: (p) => ({
        ...happyScripts()['ValidateImage']!(p, 0),
        desiredCapacity: fleet.desired,
        maxSize: fleet.max,
        warmupSeconds: 0,
        bakeSeconds: 0,
      }),
      LaunchBatch: (p) => {
        const others = fleet.instances.filter((i) => i !== imageOf(p)).length;
        const batch = Math.min(1, others);
        fleet.desired = 4 + batch;
        fleet.max = Math.max(fleet.max, fleet.desired);
        while (fleet.instances.length < fleet.desired) fleet.instances.push(imageOf(p));
        return {
          batch,
          expectedNew: fleet.instances.filter((i) => i === imageOf(p)).length,
          remainingOld: others,
          ready: false,
          checks: 0,
          replaced: p['state'].progress?.replaced ?? 0,
        };
      },
      RetireBatch: (p) => {
        const index = fleet.instances.findIndex((i) => i !== imageOf(p));
        if (fleet.instances.length > 4 && index >= 0) fleet.instances.splice(index, 1);
        fleet.desired = fleet.instances.length;
        const remainingOld = fleet.instances.filter((i) => i !== imageOf(p)).length;
        if (remainingOld === 0) fleet.max = 4;
        onImageRetired?.(p['state'].progress.replaced + 1);
        return { ...p['state'].progress, remainingOld, replaced: p['state'].progress.replaced + 1 };
      },
      CheckSafePoint: (p) => {
        const waiting = fleet.supersede;
        return {
          ...safePoint(p),
          ...(waiting !== undefined && waiting.execution !== p['execution']
            ? {
                outcome: 'RolloutSuperseded',
                reason: `superseded by the newer image ${waiting.imageId}`,
                supersededBy: waiting.imageId,
              }
            : {}),
        };
      },
      ReleaseFleet: () => {
        fleet.max = 4;
        return { resumed: ['AZRebalance'], limitsRestored: true };
      },
      TakeOverFleetLock: (p) => {
        fleet.lock = { execution: p['execution'], imageId: imageOf(p) };
        return { ...p['state'].lock };
      },
      CommitRollout: (p) => {
        fleet.desiredImage = imageOf(p);
        release(p, 'succeeded');
        return { outcome: 'RolloutSucceeded' };
      },
      ReportOutcome: (p) => {
        release(p, String(p['outcome']));
        return { outcome: p['outcome'] };
      },
    };
    return { fleet, scripts };
  }

  const newer = { ...input, imageId: 'ami-00000000000000003', requestId: 'event-3' };
  const older = { ...input, imageId: 'ami-00000000000000002', requestId: 'event-2' };

  it('a newer image supersedes the running rollout at its next safe point; the fleet ends on the newest image at capacity', async () => {
    let newerArn: string | undefined;
    const { fleet, scripts } = simulatedFleet((retired) => {
      // The newer image is published while the older one's first batch is retired.
      if (retired === 1 && newerArn === undefined) {
        newerArn = wf.service.startExecution({
          stateMachineArn: wf.stateMachineArn,
          name: 'newer',
          input: JSON.stringify(newer),
        }).executionArn;
      }
    });
    wf.scripts = scripts;
    const first = await wf.run('older-running', older);
    expect(first.status).toBe('SUCCEEDED');
    expect(outputOf(first)).toEqual({ outcome: 'RolloutSuperseded', reason: expect.any(String) });
    const second = await wf.service.waitForExecution(newerArn!, { timeoutMs: 30_000 });
    let last = second;
    while (last.output !== undefined && JSON.parse(last.output).continued) {
      last = await wf.service.waitForExecution(
        last.executionArn.replace(/:[^:]+$/, `:${JSON.parse(last.output).continued}`),
        { timeoutMs: 30_000 },
      );
    }
    expect(last.status).toBe('SUCCEEDED');
    // The older rollout stopped cleanly (no rollback), reporting the newer image.
    const stopped = wf.calls.find(
      (c) => c.step === 'ReportOutcome' && c.payload['outcome'] === 'RolloutSuperseded',
    );
    expect(stopped?.payload['state'].safePoint.supersededBy).toBe('ami-00000000000000003');
    expect(wf.steps()).not.toContain('StartRollback');
    // The newer one waited for the lock, then rolled from the fleet's actual state.
    expect(
      wf.calls.filter((c) => c.step === 'AcquireFleetLock' && c.payload['execution'] === 'newer').length,
    ).toBeGreaterThan(1);
    expect(fleet.instances).toEqual(Array(4).fill('ami-00000000000000003'));
    expect([fleet.desired, fleet.max]).toEqual([4, 4]);
    expect(fleet.history).toEqual([
      ['ami-00000000000000002', 'RolloutSuperseded'],
      ['ami-00000000000000003', 'succeeded'],
    ]);
    expect(fleet.lock).toBeUndefined();
  });

  it('a late older image is rejected at once while a newer one rolls: nothing changes', async () => {
    let olderArn: string | undefined;
    const { fleet, scripts } = simulatedFleet((retired) => {
      if (retired === 1 && olderArn === undefined) {
        olderArn = wf.service.startExecution({
          stateMachineArn: wf.stateMachineArn,
          name: 'late-older',
          input: JSON.stringify(older),
        }).executionArn;
      }
    });
    wf.scripts = scripts;
    const result = await wf.run('newer-running', newer);
    expect(result.status).toBe('SUCCEEDED');
    const late = await wf.service.waitForExecution(olderArn!, { timeoutMs: 30_000 });
    expect(late.status).toBe('SUCCEEDED');
    expect(outputOf(late).outcome).toBe('RolloutRejected');
    expect(outputOf(late).reason).toContain('is not newer than ami-00000000000000003');
    expect(wf.calls.filter((c) => c.payload['execution'] === 'late-older').map((c) => c.step)).toEqual([
      'ReadImage',
      'AcquireFleetLock',
      'ReportOutcome',
    ]);
    expect(fleet.instances).toEqual(Array(4).fill('ami-00000000000000003'));
    expect(fleet.history).toContainEqual(['ami-00000000000000002', 'RolloutRejected']);
  });
});
