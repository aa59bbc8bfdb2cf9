/**
 * Regressions found by fault injection (test/e2e/faults.test.ts): a step that Step Functions
 * retries after its side effect took effect (the runtime died before answering: `Runtime.ExitError`,
 * or timed out: `Sandbox.Timedout`) gets the same input again and must come to the same result.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { FleetState, Progress, WorkflowState } from '../../lambdas/domain/rollout';
import { FleetSteps } from '../../lambdas/domain/steps';
import { runFleetStep } from '../../lambdas/rollout-fleet';
import type { World } from '../../local/world';
import { freshWorld } from '../support/control-plane';

let world: World;

beforeAll(async () => {
  const fx = await freshWorld({ outcomes: false });
  world = fx.world;
  return fx.stop;
});

const fleetStep = async <T>(step: string, state: WorkflowState, execution: string) =>
  (await runFleetStep({ step: step as never, execution, state })) as T;

describe('a rolling batch retried after its effect', () => {
  it('LaunchBatch, retried with the same input after the surge, expects the same new instances (seed 7331)', async () => {
    // Found with seed 7331 of test/e2e/faults.test.ts: LaunchBatch surged, its runtime died before
    // answering, and the retry counted the batch's own new instance among those already on the
    // image: it expected 2 new instances of a batch of 1, and the rollout rolled back after 40 checks.
    const fleet = 'retried-batch';
    const imageA = await world.registerImage(`${fleet}-a`, fleet);
    const imageB = await world.registerImage(`${fleet}-b`, fleet);
    const groupName = await world.createFleet({ fleet, imageId: imageA, size: 3 });
    const execution = `exec-${fleet}`;
    let state: WorkflowState = {
      fleet,
      imageId: imageB,
      channel: fleet,
      cause: 'test',
      requestId: `req-${fleet}`,
    };
    state = { ...state, fleetState: await fleetStep<FleetState>(FleetSteps.ValidateImage, state, execution) };
    state = {
      ...state,
      launchTemplate: await fleetStep(FleetSteps.ReconcileLaunchTemplate, state, execution),
    };

    const first = await fleetStep<Progress>(FleetSteps.LaunchBatch, state, execution);
    const view = await world.viewFleet(groupName);
    expect(view.instances.filter((i) => i.imageId === imageB)).toHaveLength(1); // the surge took effect
    const retried = await fleetStep<Progress>(FleetSteps.LaunchBatch, state, execution); // same input
    expect(retried).toEqual(first);
    expect(first).toMatchObject({ batch: 1, expectedNew: 1, remainingOld: 3 });
    expect((await world.viewFleet(groupName)).desiredCapacity).toBe(4);

    // The batch is healthy with its one new instance.
    const checked = await fleetStep<Progress>(
      FleetSteps.CheckBatchHealth,
      { ...state, progress: retried },
      execution,
    );
    expect(checked.ready).toBe(true);

    // RetireBatch retried after its retirement took effect counts the batch once.
    const afterCheck = { ...state, progress: checked };
    const retired = await fleetStep<Progress>(FleetSteps.RetireBatch, afterCheck, execution);
    const retiredAgain = await fleetStep<Progress>(FleetSteps.RetireBatch, afterCheck, execution);
    expect(retired).toMatchObject({ remainingOld: 2, replaced: 1 });
    expect(retiredAgain).toEqual(retired);
  });
});
