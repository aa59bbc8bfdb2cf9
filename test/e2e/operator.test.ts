/**
 * End to end in the local runtime: a rolling rollout watched while it rolls, an image of the wrong
 * architecture rejected before anything is launched, and the operator commands (cli/pause.ts,
 * cli/resume.ts, cli/rollback.ts) driving a fleet: pause → a publication is not rolled → resume →
 * rollback onto the first image, pinned → a publication is ignored → unpin → rolled again.
 */
import { describe, expect, it } from 'vitest';
import { pauseFleetCommand, renderPause, renderUnpin, unpinFleetCommand } from '../../cli/pause';
import { reconcileNow } from '../../cli/reconcile';
import { renderResume, resumeFleet } from '../../cli/resume';
import { inChain, renderRollback, rollbackFleet } from '../../cli/rollback';
import { fleetStatus, renderStatus } from '../../cli/status';
import { applyTarget } from '../../cli/target';
import { readFleetRecord } from '../../lambdas/aws/store/fleet-records';
import { DetailTypes } from '../../lambdas/domain/contract';
import { REGION, useLocalRuntime } from '../support/local-runtime';

const local = useLocalRuntime();

const phoenix = (args: string[]) => local.phoenix(args);

const TERMINAL: readonly string[] = [
  DetailTypes.RolloutSucceeded,
  DetailTypes.RolloutRejected,
  DetailTypes.RolloutRolledBack,
  DetailTypes.RolloutFailed,
];

/**
 * How the next rollout of `fleet` ends: its outcome event (a rollout may continue as a new
 * execution, so the end of an execution is not the end of the rollout).
 */
const rolloutEnd = (fleet: string, imageId: string, timeoutMs = 60_000) =>
  local.outcomes.waitFor(
    (e) => e.detail['fleet'] === fleet && e.detail['imageId'] === imageId && TERMINAL.includes(e.detailType),
    timeoutMs,
  );

const executionsOf = (fleet: string) =>
  local.runtime.stepFunctions
    .listExecutions()
    .filter((e) => (JSON.parse(e.input) as { fleet?: string }).fleet === fleet);

const serving = (view: Awaited<ReturnType<typeof local.world.viewFleet>>) =>
  view.instances.filter((i) => i.lifecycleState === 'InService' && i.healthStatus !== 'Unhealthy');

/** Point the CLI commands (in-process) at the local runtime, as `phoenix local`'s export line does. */
function target() {
  applyTarget({
    region: REGION,
    endpointUrl: local.runtime.endpoint,
    sfnEndpointUrl: local.runtime.stepFunctionsEndpoint,
    table: local.runtime.resources.tableName!,
    stateMachineArn: local.runtime.resources.stateMachineArn!,
  });
}

const replaceStateMachineArn = () =>
  Object.entries(local.runtime.resources.stateMachines).find(([logicalId]) => /Replace/.test(logicalId))![1]
    .arn;

describe('a rolling rollout', () => {
  it('a fleet of 6: every instance ends on the new image, and it never serves fewer than 6 while it rolls', async () => {
    const fleet = 'six';
    const imageA = await local.world.registerImage('six-a', fleet);
    const groupName = await local.world.createFleet({ fleet, imageId: imageA, size: 6 });
    const imageB = await local.world.registerImage('six-b', fleet);
    // The rollout's end is its outcome (a long rollout may continue as a new execution).
    let done = false;
    const outcome = rolloutEnd(fleet, imageB).finally(() => {
      done = true;
    });
    await local.world.publishImage(local.busName, imageB);

    const samples: { serving: number; onNew: number; total: number }[] = [];
    while (!done) {
      const view = await local.world.viewFleet(groupName);
      const up = serving(view);
      samples.push({
        serving: up.length,
        onNew: up.filter((i) => i.imageId === imageB).length,
        total: view.instances.length,
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const succeeded = await outcome;
    expect(succeeded.detailType).toBe(DetailTypes.RolloutSucceeded);
    expect(succeeded.detail).toMatchObject({
      imageId: imageB,
      previousImageId: imageA,
      instancesReplaced: 6,
    });

    // Sampled while it rolled: never below the desired capacity; the fleet was seen mid-way.
    expect(samples.length).toBeGreaterThan(0);
    expect(Math.min(...samples.map((s) => s.serving))).toBeGreaterThanOrEqual(6);
    expect(samples.some((s) => s.onNew > 0 && s.onNew < 6)).toBe(true);

    const view = await local.world.viewFleet(groupName);
    expect(view.desiredCapacity).toBe(6);
    expect(serving(view).map((i) => i.imageId)).toEqual(Array(6).fill(imageB));
  });
});

describe('the image policy', () => {
  it('an arm64 image published to an x86_64 fleet is rejected with the architecture reason; nothing is launched', async () => {
    const fleet = 'x86';
    const imageA = await local.world.registerImage('x86-a', fleet, { architecture: 'x86_64' });
    const groupName = await local.world.createFleet({ fleet, imageId: imageA, size: 2 });
    const arm = await local.world.registerImage('x86-arm', fleet, { architecture: 'arm64' });
    const before = await local.world.viewFleet(groupName);
    const ended = rolloutEnd(fleet, arm);
    await local.world.publishImage(local.busName, arm);
    const rejected = await ended;
    expect(rejected.detailType).toBe(DetailTypes.RolloutRejected);
    expect(rejected.detail['reason']).toContain(`image ${arm} is arm64 but the fleet runs x86_64`);
    const after = await local.world.viewFleet(groupName);
    expect(after).toEqual(before);
    expect(after.instances.map((i) => i.imageId)).toEqual([imageA, imageA]);
    expect((await readFleetRecord(fleet))?.activeRollout).toBeUndefined();
  });
});

describe('operator commands: pause, resume, rollback, unpin', () => {
  const fleet = 'ops';
  let groupName: string;
  let imageA: string;
  let imageB: string;

  const ignored = (imageId: string) =>
    local.outcomes.waitFor(
      (e) =>
        e.detailType === DetailTypes.PublicationIgnored &&
        e.detail['fleet'] === fleet &&
        e.detail['imageId'] === imageId,
    );
  const imagesOf = async () => serving(await local.world.viewFleet(groupName)).map((i) => i.imageId);

  it('setup: the fleet is rolled from A onto B', async () => {
    target();
    imageA = await local.world.registerImage('ops-a', fleet);
    groupName = await local.world.createFleet({ fleet, imageId: imageA, size: 2 });
    imageB = await local.world.registerImage('ops-b', fleet);
    const ended = rolloutEnd(fleet, imageB);
    await local.world.announceImage(imageB);
    expect((await ended).detailType).toBe(DetailTypes.RolloutSucceeded);
    expect(await imagesOf()).toEqual([imageB, imageB]);
  });

  it('pause: FleetPaused; a publication is not rolled (PublicationIgnored naming the pause); status shows it', async () => {
    const report = await pauseFleetCommand(fleet, { reason: 'incident 7' });
    expect(report).toMatchObject({ fleet, alreadyPaused: false, paused: { reason: 'incident 7' } });
    expect(renderPause(report)).toContain('paused (incident 7)');
    const paused = await local.outcomes.waitFor(
      (e) => e.detailType === DetailTypes.FleetPaused && e.detail['fleet'] === fleet,
    );
    expect(paused.detail).toMatchObject({ reason: 'incident 7' });
    expect((await pauseFleetCommand(fleet, { reason: 'again' })).alreadyPaused).toBe(true);

    const executionsBefore = executionsOf(fleet).length;
    const imageC = await local.world.registerImage('ops-c', fleet);
    await local.world.announceImage(imageC);
    const event = await ignored(imageC);
    expect(event.detail['reason']).toMatch(/fleet ops is paused since .* \(incident 7\)/);
    expect(executionsOf(fleet)).toHaveLength(executionsBefore);
    expect(await imagesOf()).toEqual([imageB, imageB]);

    const status = await fleetStatus({ fleet });
    expect(status.fleets[0]).toMatchObject({ paused: { reason: 'incident 7' }, activeRollout: null });
    expect(renderStatus(status)).toContain('PAUSED since');

    // The reconcile sweep passes the paused fleet by, and says so.
    const sweep = await reconcileNow({ fleet, dryRun: true });
    expect(sweep.pausedFleets).toEqual([{ fleet, since: report.paused.at, reason: 'incident 7' }]);
    expect(sweep.differences).toBe(0);
  });

  it('a rollback is refused while the fleet is paused', async () => {
    await expect(rollbackFleet(fleet)).rejects.toThrow(/fleet ops is paused .*phoenix resume ops first/);
  });

  it('resume: FleetResumed, and the reconcile sweep of the fleet runs', async () => {
    const report = await resumeFleet(fleet, { replaceStateMachineArn: replaceStateMachineArn() });
    expect(report.pauseCleared).toMatchObject({ reason: 'incident 7' });
    expect(report.reconcile).toMatchObject({ fleets: 1, instances: 2, differences: 0, pausedFleets: [] });
    expect(renderResume(report)).toContain('pause cleared');
    await local.outcomes.waitFor(
      (e) => e.detailType === DetailTypes.FleetResumed && e.detail['fleet'] === fleet,
    );
    expect((await readFleetRecord(fleet))?.paused).toBeUndefined();
  });

  it('rollback --to an image the fleet never ran is an error that lists the candidates', async () => {
    await expect(rollbackFleet(fleet, { to: 'ami-0123456789abcdef0' })).rejects.toThrow(
      `fleet ops has not run ami-0123456789abcdef0 before (it is not in its history of succeeded rollouts); images it can be rolled back to: ${imageA}`,
    );
    await expect(rollbackFleet(fleet, { to: imageB })).rejects.toThrow(/already the desired image/);
  });

  it('rollback: through the Rollout workflow back onto A (older), and the fleet is pinned', async () => {
    const report = await rollbackFleet(fleet, { wait: true, pollMs: 50, requestId: 'req-1' });
    expect(report).toMatchObject({
      fleet,
      fromImage: imageB,
      imageId: imageA,
      candidates: [imageA],
      duplicate: false,
      result: { status: 'SUCCEEDED', outcome: 'succeeded' },
    });
    expect(renderRollback(report)).toContain('pinned');
    const execution = executionsOf(fleet).find((e) => e.name === report.execution)!;
    expect(JSON.parse(execution.input)).toEqual({
      fleet,
      imageId: imageA,
      channel: fleet,
      cause: 'phoenix rollback',
      requestId: 'req-1',
      mode: 'rollback',
    });
    expect(await imagesOf()).toEqual([imageA, imageA]);
    const record = await readFleetRecord(fleet);
    expect(inChain(record!.pinnedImage!.execution, report.execution)).toBe(true);
    expect(record).toMatchObject({
      desiredImage: imageA,
      pinnedImage: { imageId: imageA },
    });
    const succeeded = await local.outcomes.waitFor(
      (e) =>
        e.detailType === DetailTypes.RolloutSucceeded &&
        e.detail['fleet'] === fleet &&
        inChain(String(e.detail['execution']), report.execution),
    );
    expect(succeeded.detail).toMatchObject({ imageId: imageA, mode: 'rollback' });
  });

  it('pinned: a publication on its channel is ignored, naming the pin and how to release it', async () => {
    const imageD = await local.world.registerImage('ops-d', fleet);
    const executionsBefore = executionsOf(fleet).length;
    await local.world.announceImage(imageD);
    const event = await ignored(imageD);
    expect(event.detail['reason']).toContain(`fleet ops is pinned to ${imageA} by a rollback`);
    expect(event.detail['reason']).toContain('phoenix unpin ops');
    expect(executionsOf(fleet)).toHaveLength(executionsBefore);
    expect(renderStatus(await fleetStatus({ fleet }))).toContain(`PINNED to ${imageA}`);
  });

  it('unpin: FleetUnpinned, and the next publication rolls the fleet again', async () => {
    const report = await unpinFleetCommand(fleet);
    expect(report).toMatchObject({ fleet, wasPinned: true, pinnedImage: { imageId: imageA } });
    expect(renderUnpin(report)).toContain('released');
    await local.outcomes.waitFor(
      (e) => e.detailType === DetailTypes.FleetUnpinned && e.detail['fleet'] === fleet,
    );
    expect((await unpinFleetCommand(fleet)).wasPinned).toBe(false);

    const imageE = await local.world.registerImage('ops-e', fleet);
    const ended = rolloutEnd(fleet, imageE);
    await local.world.announceImage(imageE);
    expect((await ended).detailType).toBe(DetailTypes.RolloutSucceeded);
    expect(await imagesOf()).toEqual([imageE, imageE]);
    expect((await readFleetRecord(fleet))?.pinnedImage).toBeUndefined();
  });

  it('an explicit PublishImage releases the pin of a pinned fleet and rolls it', async () => {
    const rollback = await rollbackFleet(fleet, { wait: true, pollMs: 50 });
    expect(rollback.result).toMatchObject({ outcome: 'succeeded' });
    expect((await readFleetRecord(fleet))?.pinnedImage?.imageId).toBe(rollback.imageId);

    const imageF = await local.world.registerImage('ops-f', fleet);
    const ended = rolloutEnd(fleet, imageF);
    await local.world.publishImage(local.busName, imageF);
    const unpinned = await local.outcomes.waitFor(
      (e) =>
        e.detailType === DetailTypes.FleetUnpinned &&
        e.detail['fleet'] === fleet &&
        String(e.detail['reason']).includes(imageF),
    );
    expect(unpinned.detail).toMatchObject({ imageId: rollback.imageId });
    expect(unpinned.detail['reason']).toContain('explicit PublishImage');
    expect((await ended).detailType).toBe(DetailTypes.RolloutSucceeded);
    expect(await imagesOf()).toEqual([imageF, imageF]);
    expect((await readFleetRecord(fleet))?.pinnedImage).toBeUndefined();
  });
});

describe('the CLI process', () => {
  it('phoenix pause --reason, phoenix resume --no-reconcile, phoenix rollback --to <not a candidate>', async () => {
    const fleet = 'cli';
    const imageA = await local.world.registerImage('cli-a', fleet);
    await local.world.createFleet({ fleet, imageId: imageA, size: 1 });
    const imageB = await local.world.registerImage('cli-b', fleet);
    const ended = rolloutEnd(fleet, imageB);
    await local.world.publishImage(local.busName, imageB);
    expect((await ended).detailType).toBe(DetailTypes.RolloutSucceeded);

    const paused = await phoenix(['pause', fleet, '--reason', 'change freeze', '--json']);
    expect(paused.code).toBe(0);
    expect(JSON.parse(paused.stdout)).toMatchObject({
      fleet,
      alreadyPaused: false,
      paused: { reason: 'change freeze' },
    });
    expect((await readFleetRecord(fleet))?.paused?.reason).toBe('change freeze');

    const resumed = await phoenix(['resume', fleet, '--no-reconcile']);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain('pause cleared');
    expect(resumed.stdout).toContain('reconcile sweep skipped: not asked for');
    expect((await readFleetRecord(fleet))?.paused).toBeUndefined();

    const refused = await phoenix(['rollback', fleet, '--to', 'ami-0123456789abcdef0']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(`images it can be rolled back to: ${imageA}`);
  });
});
