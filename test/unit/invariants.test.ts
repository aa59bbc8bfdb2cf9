/**
 * The invariant checks (local/invariants/checks.ts) on hand-made snapshots: each holds on a
 * healthy state and fails on the state it exists to catch.
 */
import { describe, expect, it } from 'vitest';
import {
  accountEvents,
  checkAtRest,
  checkBrokenImages,
  checkDisruptionBudget,
  checkFloor,
  checkOneRollout,
  checkOrphans,
  type FleetExpectation,
  type FleetSnap,
  type GroupSnap,
  type InstanceSnap,
  lockHeldFrom,
  type PutRecord,
  type Snapshot,
} from '../../local/invariants/checks';

const AT = 1_000_000;
const serving = (id: string, imageId = 'ami-a'): InstanceSnap => ({
  id,
  imageId,
  lifecycle: 'InService',
  health: 'Healthy',
  serving: true,
});
const group = (instances: InstanceSnap[], extra: Partial<GroupSnap> = {}): GroupSnap => ({
  name: 'f-asg',
  role: 'fleet',
  desired: 3,
  min: 3,
  max: 3,
  suspended: [],
  instances,
  tags: {},
  ...extra,
});
const fleet = (groups: GroupSnap[], extra: Partial<FleetSnap> = {}): FleetSnap => ({
  fleet: 'f',
  groups,
  record: { desiredImage: 'ami-a', replacementSlots: 0, paused: false },
  launchTemplateLatest: 2,
  ...extra,
});
const expectation: FleetExpectation = {
  fleet: 'f',
  capacity: 3,
  minHealthyPercent: 100,
  initialImage: 'ami-a',
  initialLaunchTemplateVersion: 1,
};
const noKills = { killed: new Set<string>() };

describe('checkFloor', () => {
  const before = fleet([group([serving('i-1'), serving('i-2'), serving('i-3')])]);

  it('holds when Phoenix surges first: a new instance served before the old one went', () => {
    const after = fleet([group([serving('i-2'), serving('i-3'), serving('i-4')])]);
    expect(checkFloor(before, after, expectation, noKills, AT)).toEqual([]);
  });

  it('fails when Phoenix takes a serving instance out of a fleet at its floor', () => {
    const after = fleet([
      group([
        { ...serving('i-1'), lifecycle: 'Terminating', serving: false },
        serving('i-2'),
        serving('i-3'),
      ]),
    ]);
    const found = checkFloor(before, after, expectation, noKills, AT);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({
      invariant: 'floor',
      fleet: 'f',
      evidence: { removed: ['i-1'], floor: 3 },
    });
  });

  it("does not blame Phoenix for the world's kill, nor an instance that only stopped serving", () => {
    const killed = fleet([group([serving('i-2'), serving('i-3')])]);
    expect(checkFloor(before, killed, expectation, { killed: new Set(['i-1']) }, AT)).toEqual([]);
    const unhealthy = fleet([
      group([{ ...serving('i-1'), health: 'Unhealthy', serving: false }, serving('i-2'), serving('i-3')]),
    ]);
    expect(checkFloor(before, unhealthy, expectation, noKills, AT)).toEqual([]);
  });

  // A batch's new instance (i-4) served between two polls, Phoenix retired i-1 counting it, and then
  // the world degraded i-4 before the next poll: the polls never saw i-4 serve (seed 13, tf2).
  const retiredWithNewOne = fleet([
    group([
      serving('i-2'),
      serving('i-3'),
      { ...serving('i-4', 'ami-b'), zone: 'us-east-1b', health: 'Unhealthy', serving: false },
    ]),
  ]);
  const window = { from: AT - 2_000, to: AT + 1_000 };

  it('does not blame Phoenix for an instance the world degraded between the polls (a zone it failed, a kill it did)', () => {
    const zoneFailed = {
      killed: new Set<string>(),
      zoneFailures: [{ zone: 'us-east-1b', from: AT - 500, to: AT }],
    };
    expect(checkFloor(before, retiredWithNewOne, expectation, zoneFailed, AT, window)).toEqual([]);
    // Killed between the polls and never seen: the driver says whose it was.
    const gone = fleet([group([serving('i-2'), serving('i-3')])]);
    const killedUnseen = {
      killed: new Set(['i-4']),
      killedAt: new Map([['i-4', { at: AT - 100, fleet: 'f' }]]),
    };
    expect(checkFloor(before, gone, expectation, killedUnseen, AT, window)).toHaveLength(0);
  });

  it('still blames Phoenix when the world did nothing to the fleet between the polls', () => {
    // The zone failed before the window, the kill was another fleet's.
    const earlier = {
      killed: new Set<string>(),
      zoneFailures: [{ zone: 'us-east-1b', from: AT - 9_000, to: AT - 5_000 }],
    };
    expect(checkFloor(before, retiredWithNewOne, expectation, earlier, AT, window)).toHaveLength(1);
    const gone = fleet([group([serving('i-2'), serving('i-3')])]);
    const otherFleet = {
      killed: new Set(['i-9']),
      killedAt: new Map([['i-9', { at: AT - 100, fleet: 'g' }]]),
    };
    expect(checkFloor(before, gone, expectation, otherFleet, AT, window)).toMatchObject([
      { invariant: 'floor', evidence: { removed: ['i-1'], floor: 3 } },
    ]);
  });

  it('allows a removal down to a floor below capacity (min-healthy 50 %)', () => {
    const after = fleet([group([serving('i-2'), serving('i-3')])]);
    expect(checkFloor(before, after, { ...expectation, minHealthyPercent: 50 }, noKills, AT)).toEqual([]);
  });
});

describe('checkOneRollout', () => {
  const snap = (at: number, running: Snapshot['running']): Snapshot => ({
    at,
    fleets: [],
    running,
    strays: [],
  });
  const two = [
    { machine: 'rollout' as const, name: 'a', fleet: 'f', lockTaken: true },
    { machine: 'rollout' as const, name: 'b', fleet: 'f', lockTaken: true },
  ];

  it('fails when two executions hold one fleet in two polls', () => {
    expect(checkOneRollout(snap(AT, two), snap(AT + 1000, two))).toMatchObject([
      { invariant: 'one-rollout', fleet: 'f', evidence: { executions: ['a', 'b'] } },
    ]);
  });

  it('holds for a waiting rollout and for a continuation seen once', () => {
    const waiting = [two[0]!, { ...two[1]!, lockTaken: false }];
    expect(checkOneRollout(snap(AT, waiting), snap(AT + 1000, waiting))).toEqual([]);
    expect(checkOneRollout(snap(AT, [two[0]!]), snap(AT + 1000, two))).toEqual([]);
  });
});

describe('lockHeldFrom', () => {
  it('reads the lock from the history: taken at ValidateImage or TakeOverFleetLock, let go at a release', () => {
    expect(lockHeldFrom([{ type: 'TaskStateEntered', entered: 'AcquireFleetLock' }])).toBe(false);
    expect(
      lockHeldFrom([
        { type: 'x', entered: 'AcquireFleetLock' },
        { type: 'x', entered: 'ValidateImage' },
      ]),
    ).toBe(true);
    expect(
      lockHeldFrom([
        { type: 'x', entered: 'ValidateImage' },
        { type: 'x', entered: 'ReleaseFleetAtSafePoint' },
      ]),
    ).toBe(false);
    expect(lockHeldFrom([{ type: 'x', exited: 'TakeOverFleetLock' }])).toBe(true);
  });
});

describe('checkDisruptionBudget', () => {
  it('fails when more slots are held than the budget allows', () => {
    const over = fleet([], { record: { replacementSlots: 2, paused: false } });
    expect(checkDisruptionBudget(over, { ...expectation, budgetTag: '1' }, AT)).toMatchObject([
      { invariant: 'disruption-budget', evidence: { slots: 2, budget: 1 } },
    ]);
    expect(checkDisruptionBudget(over, { ...expectation, budgetTag: '2' }, AT)).toEqual([]);
  });
});

describe('checkAtRest', () => {
  const rest = fleet([group([serving('i-1'), serving('i-2'), serving('i-3')])]);

  it('holds for one group at capacity on the desired image', () => {
    expect(checkAtRest(rest, expectation, 1, AT)).toEqual([]);
  });

  it('fails on each leftover of a rollout', () => {
    const cases: [string, FleetSnap][] = [
      ['green', fleet([...rest.groups, group([], { name: 'g', role: 'green' })])],
      ['desired 4', fleet([group(rest.groups[0]!.instances as InstanceSnap[], { desired: 4, max: 4 })])],
      [
        'suspended',
        fleet([group(rest.groups[0]!.instances as InstanceSnap[], { suspended: ['AZRebalance'] })]),
      ],
      ['image', fleet([group([serving('i-1'), serving('i-2'), serving('i-3', 'ami-b')])])],
      [
        'lock',
        {
          ...rest,
          record: {
            desiredImage: 'ami-a',
            replacementSlots: 0,
            paused: false,
            activeRollout: { execution: 'x', imageId: 'ami-b' },
          },
        },
      ],
      ['slots', { ...rest, record: { desiredImage: 'ami-a', replacementSlots: 1, paused: false } }],
    ];
    for (const [what, snap] of cases)
      expect(checkAtRest(snap, expectation, 1, AT).length, what).toBeGreaterThan(0);
    // Launch template versions: 1 → 2 in no rollout is one too many.
    expect(checkAtRest(rest, expectation, 0, AT)).toMatchObject([{ invariant: 'at-rest' }]);
  });
});

describe('checkOrphans', () => {
  it('reports every instance outside the groups', () => {
    expect(checkOrphans({ at: AT, fleets: [], running: [], strays: [] })).toEqual([]);
    expect(
      checkOrphans({ at: AT, fleets: [], running: [], strays: [{ id: 'i-9', fleet: 'f' }] }),
    ).toMatchObject([{ invariant: 'orphan', fleet: 'f' }]);
  });
});

describe('accountEvents', () => {
  const base = {
    rollouts: [],
    deadLetters: [],
    lost: new Set<string>(),
    converged: () => true,
    sweepsAfter: () => 1,
    maxSweeps: 3,
    at: AT,
  };
  const publication: PutRecord = {
    eventId: 'e1',
    kind: 'publication',
    at: AT,
    imageId: 'ami-b',
    fleets: ['f'],
  };
  const replacement: PutRecord = {
    eventId: 'e2',
    kind: 'replacement',
    at: AT,
    instanceId: 'i-1',
    fleets: ['f'],
  };

  it('accounts for an ignore, a rollout that ended, a replacement outcome and a dead letter', () => {
    const result = accountEvents({
      ...base,
      puts: [publication, replacement, { ...replacement, eventId: 'e3', instanceId: 'i-3' }],
      outcomes: [
        { detailType: 'RolloutSucceeded', detail: { execution: 'r1', fleet: 'f', imageId: 'ami-b' } },
        { detailType: 'InstanceReplaced', detail: { eventId: 'e2', instanceId: 'i-1' } },
      ],
      rollouts: [{ name: 'r1', fleet: 'f', imageId: 'ami-b', requestId: 'e1', status: 'SUCCEEDED' }],
      deadLetters: ['{"id":"e3"}'],
    });
    expect(result.violations).toEqual([]);
    expect([...result.accounted.keys()]).toEqual(['e1', 'e2', 'e3']);
  });

  it('fails for a publication nobody answered, a rollout without an outcome and a silent replacement', () => {
    const result = accountEvents({
      ...base,
      puts: [publication, { ...publication, eventId: 'e4' }, replacement],
      outcomes: [],
      rollouts: [{ name: 'r4', fleet: 'f', imageId: 'ami-b', requestId: 'e4', status: 'FAILED' }],
    });
    expect(result.violations.map((v) => v.invariant)).toEqual([
      'event-unaccounted',
      'event-unaccounted',
      'event-unaccounted',
    ]);
  });

  it('accounts for a lost event only when its fleet converged within the sweeps allowed', () => {
    const lost = new Set(['e2']);
    expect(accountEvents({ ...base, puts: [replacement], outcomes: [], lost }).violations).toEqual([]);
    expect(
      accountEvents({ ...base, puts: [replacement], outcomes: [], lost, converged: () => false }).violations,
    ).toMatchObject([{ invariant: 'lost-event-not-healed' }]);
    expect(
      accountEvents({ ...base, puts: [replacement], outcomes: [], lost, sweepsAfter: () => 4 }).violations,
    ).toMatchObject([{ invariant: 'lost-event-not-healed' }]);
    // A lost publication whose fleets never rolled its image (nor a later one): named as such.
    const lostPublication = new Set([publication.eventId]);
    expect(
      accountEvents({
        ...base,
        puts: [publication],
        outcomes: [],
        lost: lostPublication,
        sweepsAfter: () => Number.POSITIVE_INFINITY,
      }).violations,
    ).toMatchObject([
      { invariant: 'lost-event-not-healed', message: expect.stringContaining('never rolled its image') },
    ]);
  });
});

describe('accountEvents: a publication through the channel parameter (byImage)', () => {
  const base = {
    deadLetters: [],
    lost: new Set<string>(),
    converged: () => true,
    sweepsAfter: () => 1,
    maxSweeps: 3,
    at: AT,
  };
  const ssm: PutRecord = {
    eventId: 'ssm:c:v2',
    kind: 'publication',
    at: AT,
    imageId: 'ami-b',
    fleets: ['f'],
    byImage: true,
  };
  it('is accounted for by the rollouts of its image on its fleets, or an ignore of its image', () => {
    const rolled = accountEvents({
      ...base,
      puts: [ssm],
      outcomes: [
        { detailType: 'RolloutRolledBack', detail: { execution: 'r1', fleet: 'f', imageId: 'ami-b' } },
      ],
      rollouts: [{ name: 'r1', fleet: 'f', imageId: 'ami-b', requestId: 'real-id', status: 'SUCCEEDED' }],
    });
    expect(rolled.violations).toEqual([]);
    const ignored = accountEvents({
      ...base,
      puts: [ssm],
      outcomes: [{ detailType: 'PublicationIgnored', detail: { eventId: 'real-id', imageId: 'ami-b' } }],
      rollouts: [],
    });
    expect(ignored.violations).toEqual([]);
    // A rollout of its image on another fleet does not count.
    const other = accountEvents({
      ...base,
      puts: [ssm],
      outcomes: [
        { detailType: 'RolloutSucceeded', detail: { execution: 'r2', fleet: 'g', imageId: 'ami-b' } },
      ],
      rollouts: [{ name: 'r2', fleet: 'g', imageId: 'ami-b', requestId: 'x', status: 'SUCCEEDED' }],
    });
    expect(other.violations).toMatchObject([{ invariant: 'event-unaccounted' }]);
    // Its change possibly lost: accounted only if its fleets converged within the bound.
    const lost = { ...base, puts: [ssm], outcomes: [], rollouts: [], lostParameterChanges: 1 };
    expect(accountEvents(lost).violations).toEqual([]);
    expect(accountEvents({ ...lost, sweepsAfter: () => 4 }).violations).toMatchObject([
      { invariant: 'event-unaccounted' },
    ]);
  });
});

describe('accountEvents: a channel parameter overwritten before its event was handled', () => {
  it('is accounted for by a later put of the same parameter, not of another one', () => {
    const put = (eventId: string, at: number, imageId: string, parameter: string): PutRecord => ({
      eventId,
      kind: 'publication',
      at,
      imageId,
      fleets: ['f'],
      byImage: true,
      parameter,
    });
    const base = {
      deadLetters: [],
      lost: new Set<string>(),
      converged: () => true,
      sweepsAfter: () => 1,
      maxSweeps: 3,
      at: AT,
      // Both events read v3's value: only v3's image rolled.
      outcomes: [
        { detailType: 'RolloutSucceeded', detail: { execution: 'r3', fleet: 'f', imageId: 'ami-3' } },
      ],
      rollouts: [{ name: 'r3', fleet: 'f', imageId: 'ami-3', requestId: 'id', status: 'SUCCEEDED' }],
    };
    const v2 = put('ssm:c:v2', AT - 400, 'ami-2', '/phoenix/channels/c');
    const v3 = put('ssm:c:v3', AT, 'ami-3', '/phoenix/channels/c');
    const result = accountEvents({ ...base, puts: [v2, v3] });
    expect(result.violations).toEqual([]);
    expect(result.accounted.get('ssm:c:v2')).toContain('overwritten by ssm:c:v3');
    // A later put of another channel's parameter does not stand for it.
    const elsewhere = put('ssm:d:v1', AT, 'ami-3', '/phoenix/channels/d');
    expect(accountEvents({ ...base, puts: [v2, elsewhere] }).violations).toMatchObject([
      { invariant: 'event-unaccounted', message: expect.stringContaining('ssm:c:v2') },
    ]);
  });
});

describe('checkBrokenImages', () => {
  it('fails when a broken image rolled out successfully', () => {
    const outcomes = [
      { detailType: 'RolloutRolledBack', detail: { fleet: 'f', imageId: 'ami-x' } },
      { detailType: 'RolloutSucceeded', detail: { fleet: 'g', imageId: 'ami-x' } },
      { detailType: 'RolloutSucceeded', detail: { fleet: 'f', imageId: 'ami-ok' } },
    ];
    expect(checkBrokenImages(outcomes, new Set(['ami-x']), AT)).toMatchObject([
      { invariant: 'broken-image-succeeded', fleet: 'g' },
    ]);
  });
});
