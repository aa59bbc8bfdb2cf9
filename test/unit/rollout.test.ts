import { describe, expect, it } from 'vitest';
import { causeMessage } from '../../lambdas/domain/errors';
import { historyOverflow } from '../../lambdas/domain/fleet-record';
import {
  batchSize,
  executionName,
  type FleetInstance,
  instancesToRetire,
  rollbackVersion,
  splitByImage,
  stalledRollbackSurplus,
} from '../../lambdas/domain/rollout';

const OLD = 'ami-00000000000000001';
const NEW = 'ami-00000000000000002';
const inst = (id: string, imageId: string, extra: Partial<FleetInstance> = {}): FleetInstance => ({
  instanceId: id,
  imageId,
  lifecycleState: 'InService',
  healthStatus: 'Healthy',
  ...extra,
});

describe('batchSize', () => {
  it('surges a quarter of the fleet, rounded up, at least one', () => {
    expect(batchSize(4)).toBe(1);
    expect(batchSize(10)).toBe(3);
    expect(batchSize(1)).toBe(1);
    expect(batchSize(0)).toBe(1);
    expect(batchSize(10, 100)).toBe(10);
  });

  it('rejects impossible inputs', () => {
    expect(() => batchSize(-1)).toThrow(/got -1/);
    expect(() => batchSize(4, 0)).toThrow(/got 0/);
  });
});

describe('splitByImage', () => {
  it('counts only present instances, and only InService+Healthy ones as serving', () => {
    const split = splitByImage(
      [
        inst('i-1', OLD),
        inst('i-2', NEW),
        inst('i-3', NEW, { lifecycleState: 'Pending' }),
        inst('i-4', OLD, { lifecycleState: 'Terminating' }),
        inst('i-5', NEW, { healthStatus: 'Unhealthy' }),
      ],
      NEW,
    );
    expect(split.present.map((i) => i.instanceId)).toEqual(['i-1', 'i-2', 'i-3', 'i-5']);
    expect(split.servingOnImage.map((i) => i.instanceId)).toEqual(['i-2']);
    expect(split.others.map((i) => i.instanceId)).toEqual(['i-1']);
  });
});

describe('instancesToRetire', () => {
  const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));

  it('retires only the surplus over desired capacity, oldest first', () => {
    const fleet = [
      inst('i-b', OLD, { launchTime: t(2) }),
      inst('i-a', OLD, { launchTime: t(1) }),
      inst('i-c', OLD, { launchTime: t(3) }),
      inst('i-n', NEW, { launchTime: t(9) }),
    ];
    expect(instancesToRetire(fleet, NEW, 3).map((i) => i.instanceId)).toEqual(['i-a']);
  });

  it('retires old instances that are out of service before healthy ones', () => {
    const fleet = [
      inst('i-a', OLD, { launchTime: t(1) }),
      inst('i-b', OLD, { launchTime: t(2), healthStatus: 'Unhealthy' }),
      inst('i-n', NEW, { launchTime: t(9) }),
    ];
    expect(instancesToRetire(fleet, NEW, 2).map((i) => i.instanceId)).toEqual(['i-b']);
  });

  it('retires nothing when there is no surplus (a retried step)', () => {
    expect(instancesToRetire([inst('i-a', OLD), inst('i-n', NEW)], NEW, 2)).toEqual([]);
  });

  it('counts an instance not healthy in its target groups as not serving: it goes first, and no serving one goes below the floor', () => {
    const fleet = [
      inst('i-a', OLD, { launchTime: t(1) }),
      inst('i-b', OLD, { launchTime: t(2), inTargetGroups: false }),
      inst('i-c', OLD, { launchTime: t(3) }),
      inst('i-n', NEW, { launchTime: t(9), inTargetGroups: true }),
    ];
    expect(instancesToRetire(fleet, NEW, 3, 3).map((i) => i.instanceId)).toEqual(['i-b']);
    // A refill still `initial` in the target group is no spare: floor 3, 3 serve, nothing goes.
    const refill = [
      ...fleet.filter((i) => i.instanceId !== 'i-b'),
      inst('i-r', NEW, { launchTime: t(10), inTargetGroups: false }),
    ];
    expect(instancesToRetire(refill, NEW, 3, 3)).toEqual([]);
  });

  it('never retires instances of the new image', () => {
    expect(instancesToRetire([inst('i-n1', NEW), inst('i-n2', NEW)], NEW, 1)).toEqual([]);
  });
});

describe('stalledRollbackSurplus', () => {
  const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));

  it('takes the not-serving new instances first, then not-serving old ones, newest first, only the surplus', () => {
    const fleet = [
      inst('i-a', OLD, { launchTime: t(1) }),
      inst('i-b', OLD, { launchTime: t(2), inTargetGroups: false }),
      inst('i-r', OLD, { launchTime: t(8), healthStatus: 'Unhealthy' }),
      inst('i-n1', NEW, { launchTime: t(5), healthStatus: 'Unhealthy' }),
      inst('i-n2', NEW, { launchTime: t(6), lifecycleState: 'Pending' }),
    ];
    expect(stalledRollbackSurplus(fleet, NEW, 3).map((i) => i.instanceId)).toEqual(['i-n2', 'i-n1']);
    expect(stalledRollbackSurplus(fleet, NEW, 1).map((i) => i.instanceId)).toEqual([
      'i-n2',
      'i-n1',
      'i-r',
      'i-b',
    ]);
  });

  it('takes a serving new instance only while the floor holds, and never a serving old one', () => {
    const fleet = [inst('i-a', OLD), inst('i-b', OLD), inst('i-n1', NEW), inst('i-n2', NEW)];
    expect(stalledRollbackSurplus(fleet, NEW, 2, 3).map((i) => i.instanceId)).toEqual(['i-n1']);
    expect(stalledRollbackSurplus(fleet, NEW, 2, 4)).toEqual([]);
    expect(stalledRollbackSurplus(fleet, NEW, 0).map((i) => i.instanceId)).toEqual(['i-n1', 'i-n2']);
  });
});

describe('executionName', () => {
  it('is deterministic in fleet, image and event', () => {
    expect(executionName('web', NEW, 'e1')).toBe(executionName('web', NEW, 'e1'));
    expect(executionName('web', NEW, 'e1')).not.toBe(executionName('web', NEW, 'e2'));
    expect(executionName('web', NEW, 'e1')).not.toBe(executionName('api', NEW, 'e1'));
  });

  it('fits Step Functions names whatever the input', () => {
    const name = executionName('x'.repeat(63), 'ami-nothex!/with spaces', 'e'.repeat(200));
    expect(name.length).toBeLessThanOrEqual(80);
    expect(name).toMatch(/^[A-Za-z0-9_-]+$/);
  });
});

describe('causeMessage', () => {
  it('extracts the message of a Lambda error cause and passes plain causes through', () => {
    expect(
      causeMessage(JSON.stringify({ errorType: 'ImageRejectedError', errorMessage: 'image x is pending' })),
    ).toBe('image x is pending');
    expect(causeMessage('States.Timeout')).toBe('States.Timeout');
    expect(causeMessage(undefined)).toBe('unknown cause');
  });
});

describe('historyOverflow', () => {
  it('drops the oldest entries past the limit', () => {
    expect(historyOverflow(50)).toBe(0);
    expect(historyOverflow(53)).toBe(3);
  });
});

describe('rollbackVersion', () => {
  it('restores the configured version, except $Latest, which now names the rollout version', () => {
    expect(rollbackVersion({ previousVersion: '$Latest', previousVersionNumber: 3 })).toBe('3');
    expect(rollbackVersion({ previousVersion: '$Default', previousVersionNumber: 2 })).toBe('$Default');
    expect(rollbackVersion({ previousVersion: '7', previousVersionNumber: 7 })).toBe('7');
  });
});
