/**
 * The replacement history: the Replace workflow's last step (ReleaseReplacementSlot, the real
 * handler's domain function) records how each replacement ended on the fleet record, in the same
 * conditional update that gives its slot back, and `phoenix history` shows it beside the rollouts.
 */
import { AutoScalingClient, SetInstanceHealthCommand } from '@aws-sdk/client-auto-scaling';
import { beforeAll, describe, expect, it } from 'vitest';
import { DetailTypes } from '../../lambdas/domain/contract';
import { REPLACEMENT_HISTORY_LIMIT } from '../../lambdas/domain/fleet-record';
import type {
  ReplacementHealth,
  ReplacementProgress,
  ReplaceState,
  ResolvedInstance,
  SlotState,
} from '../../lambdas/domain/replace';
import type { DrainState } from '../../lambdas/domain/drain';
import { DrainSteps, ReplaceSteps, RetireInstanceStep } from '../../lambdas/domain/steps';
import { runDrainStep } from '../../lambdas/steps/drain';
import { runReplaceStep } from '../../lambdas/steps/replace';
import { readFleetRecord } from '../../lambdas/aws/store/fleet-records';
import { recordOutcome } from '../../lambdas/aws/store/history';
import { fleetHistory, renderHistory, type ReplacementItem } from '../../cli/history';
import { World } from '../../local/world';
import { freshWorld } from '../support/control-plane';

let world: World;
let counter = 0;

beforeAll(async () => {
  const fx = await freshWorld();
  ({ world } = fx);
  return fx.stop;
});

async function fleetOf(size: number) {
  const fleet = `hist${++counter}`;
  const imageId = await world.registerImage(`${fleet}-a`, fleet);
  const groupName = await world.createFleet({ fleet, imageId, size });
  const instances = (await world.viewFleet(groupName)).instances.map((i) => i.instanceId);
  return { fleet, imageId, groupName, instances };
}

const run = <T>(step: string, execution: string, state: ReplaceState, extra: Record<string, unknown> = {}) =>
  runReplaceStep({ step: step as never, execution, state, ...extra }) as Promise<T>;

const input = (fleet: string, instanceId: string, cause: ReplaceState['cause'] = 'health'): ReplaceState => ({
  fleet,
  instanceId,
  cause,
  reason: `test replacement of ${instanceId}`,
  requestId: `req-${fleet}-${instanceId}`,
});

/**
 * The workflow's path to a replaced instance (no surge room and the instance no longer serves:
 * terminate, the group refills; a serving one would be surged, test/integration/replace-steps.test.ts).
 */
async function replace(state: ReplaceState, execution: string): Promise<ReplaceState> {
  await new AutoScalingClient({ region: process.env.AWS_REGION ?? 'us-east-1' }).send(
    new SetInstanceHealthCommand({
      InstanceId: state.instanceId,
      HealthStatus: 'Unhealthy',
      ShouldRespectGracePeriod: false,
    }),
  );
  let s: ReplaceState = { ...state };
  s = { ...s, instance: await run<ResolvedInstance>(ReplaceSteps.ResolveInstance, execution, s) };
  s = { ...s, slot: await run<SlotState>(ReplaceSteps.AcquireReplacementSlot, execution, s) };
  expect(s.slot?.acquired).toBe(true);
  s = { ...s, replacement: await run<ReplacementProgress>(ReplaceSteps.ReplaceInstance, execution, s) };
  expect(s.replacement?.retire).toBe(true);
  s = {
    ...s,
    drain: (await runDrainStep({ step: DrainSteps.DeregisterInstance, execution, state: s })) as DrainState,
  };
  s = { ...s, replacement: await run<ReplacementProgress>(RetireInstanceStep, execution, s) };
  for (let i = 0; i < 20 && !s.health?.ready; i++) {
    s = { ...s, health: await run<ReplacementHealth>(ReplaceSteps.WaitForReplacement, execution, s) };
  }
  expect(s.health?.ready).toBe(true);
  return s;
}

describe('the replacement history', () => {
  it('records a replaced instance once (a retried release adds nothing) and history shows it', async () => {
    const { fleet, imageId, instances } = await fleetOf(2);
    const old = instances[0]!;
    const execution = `${fleet}--${old}`;
    const s = await replace(input(fleet, old, 'drift'), execution);
    const release = () =>
      run<{ released: boolean }>(ReplaceSteps.ReleaseReplacementSlot, execution, s, {
        outcome: DetailTypes.InstanceReplaced,
      });
    expect(await release()).toMatchObject({ released: true });
    expect(await release()).toMatchObject({ released: false });

    const record = await readFleetRecord(fleet);
    expect(record?.replacementsInFlight).toBe(0);
    const replacement = s.health?.replacementInstanceId;
    expect(replacement).toBeDefined();
    expect(record?.replacementHistory).toEqual([
      {
        instanceId: old,
        cause: 'drift',
        outcome: 'replaced',
        at: expect.any(String) as string,
        execution,
        imageId,
        replacementInstanceId: replacement,
        reason: `test replacement of ${old}`,
      },
    ]);

    const report = await fleetHistory(fleet);
    expect(report.recorded).toBe(true);
    expect(report.history).toEqual([
      expect.objectContaining({
        kind: 'replacement',
        instanceId: old,
        cause: 'drift',
        outcome: 'replaced',
        replacementInstanceId: replacement,
      }),
    ]);
    expect(renderHistory(report)).toMatch(
      new RegExp(`replacement\\s+${old} \\(drift\\) → ${replacement!}\\s+replaced\\s+${execution}`),
    );
  });

  it('records a failed replacement with its failed step and error cause, and gives the slot back', async () => {
    const { fleet, instances } = await fleetOf(2);
    const old = instances[1]!;
    const execution = `${fleet}--${old}`;
    let s: ReplaceState = input(fleet, old, 'status-check' as ReplaceState['cause']);
    s = { ...s, instance: await run<ResolvedInstance>(ReplaceSteps.ResolveInstance, execution, s) };
    s = { ...s, slot: await run<SlotState>(ReplaceSteps.AcquireReplacementSlot, execution, s) };
    expect((await readFleetRecord(fleet))?.replacementsInFlight).toBe(1);
    s = {
      ...s,
      failedStep: ReplaceSteps.WaitForReplacement,
      error: {
        Error: 'ReplacementNotHealthyError',
        Cause: JSON.stringify({ errorMessage: 'after 40 checks, 1 of 2 instances are InService' }),
      },
    };
    await run(ReplaceSteps.ReleaseReplacementSlot, execution, s, { outcome: DetailTypes.ReplacementFailed });
    const record = await readFleetRecord(fleet);
    expect(record?.replacementsInFlight).toBe(0);
    const [entry] = (await fleetHistory(fleet)).history as ReplacementItem[];
    expect(entry).toMatchObject({
      kind: 'replacement',
      outcome: 'failed',
      instanceId: old,
      step: ReplaceSteps.WaitForReplacement,
      replacementInstanceId: null,
    });
    expect(entry?.reason).toContain('after 40 checks');
  });

  it('records a skip on a known fleet, but creates no record for a fleet Phoenix does not know', async () => {
    const { fleet, instances } = await fleetOf(1);
    // A fleet Phoenix knows: it has a record once a replacement asked for a slot.
    const resolved = await run<ResolvedInstance>(
      ReplaceSteps.ResolveInstance,
      'warm',
      input(fleet, instances[0]!),
    );
    await run(ReplaceSteps.AcquireReplacementSlot, 'warm', {
      ...input(fleet, instances[0]!),
      instance: resolved,
    });
    const skipped: ReplaceState = {
      ...input(fleet, 'i-0123456789abcdef0'),
      instance: { skip: 'gone already' },
    };
    await run(ReplaceSteps.ReleaseReplacementSlot, 'skip-1', skipped, {
      outcome: DetailTypes.ReplacementSkipped,
    });
    expect((await fleetHistory(fleet)).history[0]).toMatchObject({
      kind: 'replacement',
      outcome: 'skipped',
      reason: 'gone already',
    });

    const unknown: ReplaceState = {
      ...input('nosuchfleet', 'i-0123456789abcdef1'),
      instance: { skip: 'no fleet' },
    };
    await run(ReplaceSteps.ReleaseReplacementSlot, 'skip-2', unknown, {
      outcome: DetailTypes.ReplacementSkipped,
    });
    expect(await readFleetRecord('nosuchfleet')).toBeUndefined();
  });

  it(`keeps the newest ${REPLACEMENT_HISTORY_LIMIT} entries`, async () => {
    const { fleet, instances } = await fleetOf(1);
    const resolved = await run<ResolvedInstance>(
      ReplaceSteps.ResolveInstance,
      'seed',
      input(fleet, instances[0]!),
    );
    await run(ReplaceSteps.AcquireReplacementSlot, 'seed', {
      ...input(fleet, instances[0]!),
      instance: resolved,
    });
    const total = REPLACEMENT_HISTORY_LIMIT + 2;
    for (let n = 0; n < total; n++) {
      const state: ReplaceState = {
        ...input(fleet, `i-${String(n).padStart(17, '0')}`),
        instance: { skip: `#${n}` },
      };
      await run(ReplaceSteps.ReleaseReplacementSlot, `skip-${n}`, state, {
        outcome: DetailTypes.ReplacementSkipped,
      });
    }
    const kept = (await readFleetRecord(fleet))?.replacementHistory ?? [];
    expect(kept).toHaveLength(REPLACEMENT_HISTORY_LIMIT);
    expect(kept[0]?.reason).toBe('#2');
    expect(kept[kept.length - 1]?.reason).toBe(`#${total - 1}`);
  });

  it('marks a committed rollback as a rollback, beside the rollout it undid', async () => {
    const { fleet, imageId } = await fleetOf(1);
    const at = (s: number) => new Date(Date.UTC(2026, 11, 1, 12, 0, s));
    await recordOutcome({
      fleet,
      execution: 'rollout-1',
      entry: {
        imageId: 'ami-0123456789abcdef0',
        outcome: 'succeeded',
        at: at(1).toISOString(),
        execution: 'rollout-1',
      },
      desiredImage: 'ami-0123456789abcdef0',
      previousImage: imageId,
      now: at(1),
    });
    await recordOutcome({
      fleet,
      execution: 'rollback-1',
      entry: { imageId, outcome: 'succeeded', at: at(2).toISOString(), execution: 'rollback-1' },
      desiredImage: imageId,
      pin: { imageId, at: at(2).toISOString(), execution: 'rollback-1' },
      now: at(2),
    });
    const report = await fleetHistory(fleet);
    expect(report.history.map((h) => [h.kind, h.execution])).toEqual([
      ['rollback', 'rollback-1'],
      ['rollout', 'rollout-1'],
    ]);
    expect(renderHistory(report)).toMatch(new RegExp(`rollback\\s+${imageId}\\s+succeeded\\s+rollback-1`));
  });
});
