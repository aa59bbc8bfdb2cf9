import { describe, expect, it } from 'vitest';
import type { FleetRecord } from '../../lambdas/domain/fleet-record';
import {
  chunks,
  fleetDifferences,
  launchedBefore,
  rolloutActive,
  staleSlots,
  strayInstances,
} from '../../lambdas/domain/reconcile';

const now = new Date('2026-01-01T01:00:00Z');
const inst = (id: string, imageId: string, extra: Record<string, string> = {}) => ({
  instanceId: id,
  groupName: 'g',
  lifecycleState: 'InService',
  imageId,
  ...extra,
});

describe('fleetDifferences', () => {
  const record: FleetRecord = { fleet: 'web', desiredImage: 'ami-new' };
  it('wrong image and tainted InService instances, one difference each', () => {
    const d = fleetDifferences(
      {
        fleet: 'web',
        record,
        desiredImageExists: true,
        instances: [
          inst('i-1', 'ami-new'),
          inst('i-2', 'ami-old'),
          inst('i-3', 'ami-old', { tainted: 'health' }),
          inst('i-4', 'ami-new', { tainted: 'weird' }),
          inst('i-5', 'ami-old', { lifecycleState: 'Terminating' }),
        ],
      },
      now,
    );
    expect(
      d.map((x) => [x.kind, 'instanceId' in x ? x.instanceId : '', 'cause' in x ? x.cause : '']),
    ).toEqual([
      ['wrong-image', 'i-2', 'drift'],
      ['tainted', 'i-3', 'health'],
      ['tainted', 'i-4', 'drift'],
    ]);
  });
  it('no desired image yet (no rollout committed): the image the group launches is the desired one', () => {
    // Regression (torture run, seed 20261202): a rollout stopped at a safe point before any commit
    // left rolled instances on an uncommitted image; the group launches the original one again.
    const noCommit: FleetRecord = { fleet: 'web' };
    const d = fleetDifferences(
      {
        fleet: 'web',
        record: noCommit,
        launchTemplateImage: 'ami-orig',
        instances: [inst('i-1', 'ami-orig'), inst('i-2', 'ami-rolled')],
      },
      now,
    );
    expect(d).toMatchObject([{ kind: 'wrong-image', instanceId: 'i-2', desiredImage: 'ami-orig' }]);
    // The record's desired image wins over the launch template's; never desired-image-missing for it.
    expect(
      fleetDifferences(
        {
          fleet: 'web',
          record,
          desiredImageExists: true,
          launchTemplateImage: 'ami-orig',
          instances: [inst('i-1', 'ami-new')],
        },
        now,
      ),
    ).toEqual([]);
  });
  it('no desired image: only taints; an active rollout: no wrong-image', () => {
    expect(fleetDifferences({ fleet: 'web', instances: [inst('i-1', 'ami-x')] }, now)).toEqual([]);
    const rolling: FleetRecord = {
      ...record,
      activeRollout: {
        execution: 'e',
        imageId: 'ami-new',
        startedAt: '',
        expiresAt: now.getTime() / 1000 + 60,
      },
    };
    expect(rolloutActive(rolling, now)).toBe(true);
    expect(
      fleetDifferences({ fleet: 'web', record: rolling, instances: [inst('i-1', 'ami-old')] }, now),
    ).toEqual([]);
    const expired = { ...rolling, activeRollout: { ...rolling.activeRollout!, expiresAt: 1 } };
    expect(rolloutActive(expired, now)).toBe(false);
    expect(
      fleetDifferences({ fleet: 'web', record: expired, instances: [inst('i-1', 'ami-old')] }, now),
    ).toHaveLength(1);
  });
  it('a desired image that no longer exists', () => {
    const d = fleetDifferences({ fleet: 'web', record, desiredImageExists: false, instances: [] }, now);
    expect(d).toEqual([expect.objectContaining({ kind: 'desired-image-missing', desiredImage: 'ami-new' })]);
  });
});

describe('launch template versions', () => {
  const record: FleetRecord = { fleet: 'web', desiredImage: 'ami-new' };
  const lt = { id: 'lt-1', version: '3', createdAt: '2026-01-01T00:30:00.000Z' };
  const launched = (id: string, at: string) => ({
    ...inst(id, 'ami-new', { launchTime: at }),
    groupLaunchTemplate: lt,
  });
  it('an instance launched before the version its group launches was created is a drift (beyond 5 s of clock tolerance)', () => {
    const d = fleetDifferences(
      {
        fleet: 'web',
        record,
        desiredImageExists: true,
        instances: [
          launched('i-old', '2026-01-01T00:10:00.000Z'),
          launched('i-edge', '2026-01-01T00:29:57.000Z'),
          launched('i-new', '2026-01-01T00:31:00.000Z'),
          inst('i-unknown', 'ami-new', { launchTime: '2026-01-01T00:10:00.000Z' }),
        ],
      },
      now,
    );
    expect(d.map((x) => [x.kind, 'instanceId' in x ? x.instanceId : ''])).toEqual([
      ['stale-launch-template', 'i-old'],
    ]);
    expect(d[0]).toMatchObject({ cause: 'drift', groupLaunchTemplate: lt });
  });
  it('not while a rollout holds the fleet', () => {
    const rolling: FleetRecord = {
      ...record,
      activeRollout: {
        execution: 'x',
        imageId: 'ami-new',
        startedAt: now.toISOString(),
        expiresAt: now.getTime() / 1000 + 60,
      },
    };
    expect(
      fleetDifferences(
        {
          fleet: 'web',
          record: rolling,
          desiredImageExists: true,
          instances: [launched('i-old', '2026-01-01T00:10:00.000Z')],
        },
        now,
      ),
    ).toEqual([]);
  });
  it('launchedBefore: tolerance and unparsable times', () => {
    expect(launchedBefore('2026-01-01T00:00:00Z', '2026-01-01T00:00:06Z')).toBe(true);
    expect(launchedBefore('2026-01-01T00:00:00Z', '2026-01-01T00:00:05Z')).toBe(false);
    expect(launchedBefore('not a time', '2026-01-01T00:00:06Z')).toBe(false);
  });
});

describe('strayInstances', () => {
  it('an instance with a managed fleet tag, not launched by Auto Scaling and not a member, is a stray', () => {
    const strays = strayInstances(
      [
        { instanceId: 'i-member', fleet: 'web' },
        { instanceId: 'i-stray', fleet: 'web' },
        { instanceId: 'i-asg', fleet: 'web', autoScalingGroup: 'web-asg' },
        { instanceId: 'i-other', fleet: 'unmanaged' },
      ],
      new Set(['i-member']),
      new Set(['web']),
    );
    expect(strays.map((s) => [s.kind, s.instanceId, s.fleet])).toEqual([
      ['stray-instance', 'i-stray', 'web'],
    ]);
    expect(strays[0]!.reason).toContain('no Auto Scaling group launched it');
  });
});

describe('staleSlots', () => {
  it('slots held longer than the Replace timeout', () => {
    const record: FleetRecord = {
      fleet: 'web',
      replacements: {
        'i-old': { execution: 'dead', since: '2026-01-01T00:00:00Z' },
        'i-new': { execution: 'live', since: '2026-01-01T00:30:00Z' },
      },
    };
    expect(staleSlots(record, now, 3000)).toEqual([
      { instanceId: 'i-old', execution: 'dead', since: '2026-01-01T00:00:00Z' },
    ]);
    expect(staleSlots(undefined, now, 3000)).toEqual([]);
  });
});

describe('chunks', () => {
  it('splits into batches of the API limit', () => {
    expect(chunks([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(
      chunks(
        Array.from({ length: 2500 }, (_, i) => i),
        1000,
      ).map((c) => c.length),
    ).toEqual([1000, 1000, 500]);
  });
});
