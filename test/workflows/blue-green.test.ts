/**
 * The blue-green branch of the Rollout state machine as synthesized by the CDK app, executed
 * locally with its Lambda tasks bound to step doubles that keep a small model of the two groups:
 * each test checks the routing (steps, Retry, Catch, outcome) and that the fleet ends as one group
 * on one image at its capacity.
 */
import { describe, expect, it } from 'vitest';
import type { HandledEndOutput } from '../../lib/workflow/state';
import { fail, type Script, type Scripts, useWorkflow } from '../support/workflow-harness';

const OLD = 'ami-00000000000000001';
const NEW = 'ami-00000000000000002';
const CAPACITY = 4;

/** The doubles' model of the fleet: which groups exist, which one is the fleet, their images and sizes. */
interface Model {
  groups: Map<string, { image: string; instances: number; tagged: boolean; attached: boolean }>;
}

let model: Model;

/** The fleet as the doubles leave it: the groups tagged as the fleet. */
function fleetGroups() {
  return [...model.groups.entries()].filter(([, g]) => g.tagged);
}

function expectOneGroup(image: string) {
  expect(fleetGroups()).toHaveLength(1);
  expect(model.groups.size).toBe(1);
  const [, group] = fleetGroups()[0]!;
  expect(group).toMatchObject({ image, instances: CAPACITY, attached: true });
}

function scripts(canary = false): Scripts {
  model = {
    groups: new Map([['web-asg', { image: OLD, instances: CAPACITY, tagged: true, attached: true }]]),
  };
  const base: Scripts = {
    AcquireFleetLock: () => ({ deadline: 4_000_000_000 }),
    ValidateImage: () => ({
      groupName: 'web-asg',
      launchTemplateId: 'lt-0123456789abcdef0',
      previousVersion: '1',
      previousVersionNumber: 1,
      previousImageId: OLD,
      desiredCapacity: CAPACITY,
      minSize: CAPACITY,
      maxSize: CAPACITY,
      batchSize: 1,
      minHealthy: CAPACITY,
      warmupSeconds: 30,
      bakeSeconds: 600,
      alarms: ['web-errors'],
      maxChecks: 5,
      upToDate: false,
      strategy: 'blue-green',
      canary,
    }),
    CheckAlarms: () => ({ checked: 1 }),
    CreateGreenGroup: () => {
      const desired = canary ? 1 : CAPACITY;
      model.groups.set('green', { image: NEW, instances: desired, tagged: false, attached: false });
      return {
        groupName: 'green',
        launchTemplateVersion: '2',
        targetGroupArns: ['arn:tg'],
        desired,
        attached: false,
        identityTags: [{ key: 'phoenix:fleet', value: 'web', propagateAtLaunch: true }],
      };
    },
    CheckGreenHealth: (p) => ({ key: `${p['gate']}:${p['state'].green.desired}`, ready: true, checks: 1 }),
    AttachGreenTargetGroups: (p) => {
      model.groups.get('green')!.attached = true;
      return { ...p['state'].green, attached: true };
    },
    ScaleGreenGroup: (p) => {
      model.groups.get('green')!.instances = CAPACITY;
      return { ...p['state'].green, desired: CAPACITY };
    },
    CutOverToGreen: () => {
      model.groups.get('green')!.tagged = true;
      model.groups.get('web-asg')!.tagged = false;
      return { groupName: 'green' };
    },
    RetireBlue: (p) => {
      model.groups.delete('web-asg');
      return { deleted: true, draining: 0, checks: (p['state'].retire?.checks ?? 0) + 1 };
    },
    DiscardGreen: () => {
      model.groups.delete('green');
      model.groups.get('web-asg')!.tagged = true;
      return { ready: true, checks: 0, nothingToUndo: false, removedNew: CAPACITY };
    },
    CommitRollout: () => ({ outcome: 'RolloutSucceeded' }),
    ReportOutcome: (p) => ({ outcome: p['outcome'] }),
  };
  // Steps of the rolling path (and its shared prologue) that a blue-green rollout may pass: neutral answers.
  return new Proxy(base, {
    get: (target, key: string) => (target as Record<string, Script | undefined>)[key] ?? (() => ({})),
  });
}

const wf = useWorkflow('Rollout', () => scripts());

/** The output of an execution that ended in a handled outcome (`HandledEndOutput`, lib/workflow/state.ts). */
function outputOf(record: { readonly output?: string }): HandledEndOutput {
  expect(record.output).toBeDefined();
  return JSON.parse(record.output!) as HandledEndOutput;
}

const input = { fleet: 'web', imageId: NEW, channel: 'web', cause: 'test', requestId: 'event-1' };
const run = (name: string) => wf.run(name, input);
const fleetSteps = () =>
  wf.calls
    .map((c) => c.step)
    .filter((s) =>
      [
        'CreateGreenGroup',
        'CheckGreenHealth',
        'AttachGreenTargetGroups',
        'ScaleGreenGroup',
        'CheckAlarms',
        'CutOverToGreen',
        'RetireBlue',
        'DiscardGreen',
        'CommitRollout',
        'ReportOutcome',
        'ReconcileLaunchTemplate',
        'LaunchBatch',
        'StartRollback',
      ].includes(s),
    );
const reported = () => wf.calls.filter((c) => c.step === 'ReportOutcome').map((c) => c.payload['outcome']);

describe('Rollout workflow, blue-green branch (synthesized definition)', () => {
  it('creates green, validates it, attaches it, bakes, cuts over, retires blue and commits', async () => {
    const result = await run('bg-happy');
    expect(result.status).toBe('SUCCEEDED');
    expect(fleetSteps()).toEqual([
      'CheckAlarms',
      'CreateGreenGroup',
      'CheckGreenHealth',
      'AttachGreenTargetGroups',
      'CheckGreenHealth',
      'CheckAlarms',
      'CheckAlarms',
      'CutOverToGreen',
      'RetireBlue',
      'CommitRollout',
    ]);
    // The rolling path is never entered.
    expect(wf.steps()).not.toContain('ReconcileLaunchTemplate');
    expect(wf.steps()).not.toContain('LaunchBatch');
    expect(wf.calls.filter((c) => c.step === 'CheckGreenHealth').map((c) => c.payload['gate'])).toEqual([
      'capacity',
      'targets',
    ]);
    expect(wf.calls.filter((c) => c.step === 'CheckAlarms').map((c) => c.payload['phase'])).toEqual([
      'start',
      'batch',
      'bake',
    ]);
    const entered = result.events
      .filter((e) => e.type.endsWith('StateEntered'))
      .map((e) => (e as { stateEnteredEventDetails?: { name?: string } }).stateEnteredEventDetails?.name);
    expect(entered).toContain('WarmUpGreen');
    expect(entered.indexOf('BakeGreen')).toBeLessThan(entered.indexOf('CutOverToGreen'));
    // The commit reports the whole fleet as replaced.
    expect(wf.calls.find((c) => c.step === 'CommitRollout')!.payload['state'].progress).toEqual({
      replaced: CAPACITY,
    });
    expectOneGroup(NEW);
  });

  it('keeps checking green until it is at capacity, then until it is healthy in the target groups', async () => {
    wf.scripts['CheckGreenHealth'] = (p, n) => ({
      key: `${p['gate']}:${p['state'].green.desired}`,
      ready: n === 2 || n >= 4,
      checks: n + 1,
    });
    const result = await run('bg-slow');
    expect(result.status).toBe('SUCCEEDED');
    expect(wf.steps().filter((s) => s === 'CheckGreenHealth')).toHaveLength(5);
    expectOneGroup(NEW);
    // Each gate is checked right away, then after each poll interval.
    const entered = result.events
      .filter((e) => e.type.endsWith('StateEntered'))
      .map((e) => (e as { stateEnteredEventDetails?: { name?: string } }).stateEnteredEventDetails?.name)
      .filter((name) => /^(CreateGreenGroup|AttachGreenTargetGroups|WaitFor|CheckGreen)/.test(name ?? ''));
    expect(entered).toEqual([
      'CreateGreenGroup',
      'CheckGreenCapacity',
      'WaitForGreenCapacity',
      'CheckGreenCapacity',
      'WaitForGreenCapacity',
      'CheckGreenCapacity',
      'AttachGreenTargetGroups',
      'CheckGreenTargets',
      'WaitForGreenTargets',
      'CheckGreenTargets',
    ]);
  });

  it('waits for blue to drain before it is deleted', async () => {
    wf.scripts['RetireBlue'] = (_p, n) => {
      if (n < 2) return { deleted: false, draining: 4, checks: n + 1 };
      model.groups.delete('web-asg');
      return { deleted: true, draining: 0, checks: n + 1 };
    };
    const result = await run('bg-drain');
    expect(result.status).toBe('SUCCEEDED');
    expect(wf.steps().filter((s) => s === 'RetireBlue')).toHaveLength(3);
    expectOneGroup(NEW);
  });

  it('canary: green starts at 1, is validated, then scaled to the fleet and validated again', async () => {
    wf.scripts = scripts(true);
    const result = await run('bg-canary');
    expect(result.status).toBe('SUCCEEDED');
    expect(fleetSteps()).toEqual([
      'CheckAlarms',
      'CreateGreenGroup',
      'CheckGreenHealth',
      'AttachGreenTargetGroups',
      'CheckGreenHealth',
      'CheckAlarms',
      'ScaleGreenGroup',
      'CheckGreenHealth',
      'AttachGreenTargetGroups',
      'CheckGreenHealth',
      'CheckAlarms',
      'CheckAlarms',
      'CutOverToGreen',
      'RetireBlue',
      'CommitRollout',
    ]);
    const checks = wf.calls
      .filter((c) => c.step === 'CheckGreenHealth')
      .map((c) => c.payload['state'].green.desired);
    expect(checks).toEqual([1, 1, CAPACITY, CAPACITY]);
    expectOneGroup(NEW);
  });

  it('green never healthy: green is discarded, blue untouched, rolled back naming the step', async () => {
    wf.scripts['CheckGreenHealth'] = () => {
      throw fail('BatchNotHealthyError', 'after 5 checks, 0 of 4 instances of green group green are healthy');
    };
    const result = await run('bg-unhealthy');
    expect(result.status).toBe('SUCCEEDED');
    expect(outputOf(result)).toEqual({
      outcome: 'RolloutRolledBack',
      reason: expect.stringContaining('0 of 4 instances of green group green are healthy'),
      error: 'BatchNotHealthyError',
      step: 'CheckGreenCapacity',
    });
    expect(fleetSteps().slice(-3)).toEqual(['CheckGreenHealth', 'DiscardGreen', 'ReportOutcome']);
    // The image caused it: QuarantineImage runs between the discard and the report.
    expect(wf.steps().slice(-3)).toEqual(['DiscardGreen', 'QuarantineImage', 'ReportOutcome']);
    expect(reported()).toEqual(['RolloutRolledBack']);
    const state = wf.calls.at(-1)!.payload['state'];
    expect(state.failedStep).toBe('CheckGreenCapacity');
    expect(state.error.Error).toBe('BatchNotHealthyError');
    expect(wf.steps()).not.toContain('CutOverToGreen');
    expectOneGroup(OLD);
  });

  it('an alarm during the bake: green is discarded before the cutover, the fleet stays on blue', async () => {
    wf.scripts['CheckAlarms'] = (p) => {
      if (p['phase'] === 'bake')
        throw fail('AlarmBreachedError', 'alarm web-errors is in ALARM after the bake');
      return { checked: 1 };
    };
    const result = await run('bg-alarm');
    expect(result.status).toBe('SUCCEEDED');
    expect(outputOf(result).outcome).toBe('RolloutRolledBack');
    expect(outputOf(result).reason).toContain('web-errors');
    expect(wf.calls.at(-1)!.payload['state'].failedStep).toBe('CheckAlarmsAfterGreenBake');
    expect(wf.steps()).not.toContain('CutOverToGreen');
    expect(wf.steps()).not.toContain('CommitRollout');
    expectOneGroup(OLD);
  });

  it('a step that keeps failing transiently is retried, then rolls back', async () => {
    wf.scripts['AttachGreenTargetGroups'] = () => {
      throw fail('TransientAwsError', 'AttachLoadBalancerTargetGroups: ServiceUnavailable');
    };
    const result = await run('bg-exhausted');
    expect(result.status).toBe('SUCCEEDED');
    expect(outputOf(result).outcome).toBe('RolloutRolledBack');
    // 1 attempt + 4 retries
    expect(wf.steps().filter((s) => s === 'AttachGreenTargetGroups')).toHaveLength(5);
    expect(wf.calls.at(-1)!.payload['state'].failedStep).toBe('AttachGreenTargetGroups');
    expectOneGroup(OLD);
  });

  it('a cutover that fails is undone: the identity goes back to blue and green is discarded', async () => {
    wf.scripts['CutOverToGreen'] = () => {
      model.groups.get('green')!.tagged = true; // half done: two tagged groups for a moment
      throw fail('AccessDenied', 'not authorized to perform autoscaling:DeleteTags');
    };
    const result = await run('bg-cutover');
    expect(result.status).toBe('SUCCEEDED');
    expect(outputOf(result).outcome).toBe('RolloutRolledBack');
    expect(wf.calls.at(-1)!.payload['state'].failedStep).toBe('CutOverToGreen');
    expect(wf.steps()).not.toContain('RetireBlue');
    expectOneGroup(OLD);
  });

  it('after the cutover it only goes forward: blue not deleted → committed on green, then RolloutFailed', async () => {
    wf.scripts['RetireBlue'] = () => {
      throw fail('ValidationError', 'cannot delete group web-asg');
    };
    const result = await run('bg-retire');
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('RolloutFailed');
    expect(wf.steps()).not.toContain('DiscardGreen');
    expect(wf.steps().slice(-2)).toEqual(['CommitRollout', 'ReportOutcome']);
    expect(reported()).toEqual(['RolloutFailed']);
    expect(wf.calls.at(-1)!.payload['state'].failedStep).toBe('RetireBlue');
    // The fleet is green (one tagged group, on the new image); the old group is no fleet any more.
    expect(fleetGroups().map(([name]) => name)).toEqual(['green']);
  });

  it('a rollback that fails ends RolloutFailed', async () => {
    wf.scripts['CheckGreenHealth'] = () => {
      throw fail('BatchNotHealthyError', 'unhealthy');
    };
    wf.scripts['DiscardGreen'] = () => {
      throw fail('ValidationError', 'cannot delete green');
    };
    const result = await run('bg-discard-failed');
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('RolloutFailed');
    expect(reported()).toEqual(['RolloutFailed']);
  });
});
