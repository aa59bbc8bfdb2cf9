/**
 * The rolling steps of the Rollout workflow (the default strategy): a new launch template version,
 * then batches that surge, wait until healthy and retire old instances; on a failure, the rollback
 * restores the previous version's capacity before removing the new instances. Each step re-reads
 * the fleet's real state; each is safe to run twice (the workflow retries).
 */
import type { AutoScalingGroup } from '@aws-sdk/client-auto-scaling';
import * as clock from '../domain/clock';
import { BatchNotHealthyError, ConfigurationError, RollbackStalledError } from '../domain/errors';
import {
  checkDeadline,
  instancesToRetire,
  type Progress,
  type RollbackProgress,
  type FleetInstance,
  type FleetState,
  isPresent,
  isServing,
  rollbackVersion,
  splitByImage,
  stalledRollbackSurplus,
} from '../domain/rollout';
import { countedChecks, nextPace } from '../domain/pacing';
import { FleetSteps } from '../domain/steps';
import {
  createLaunchTemplateVersion,
  fleetInstances,
  servingInstances,
  resumeProcesses,
  retireInstance,
  setDesiredCapacity,
  updateGroup,
} from '../aws/fleets';
import { healthCheckIntervalSeconds } from '../aws/load-balancing';
import { launchTemplateOf, rereadGroup } from './fleet';
import { logger } from '../powertools';
import { type FleetStepRequest, requireFleetState } from './fleet-request';

/** A launch template version with the new image, and the group pointed at it. */
export async function reconcileLaunchTemplate(request: FleetStepRequest): Promise<{ version: string }> {
  const fs = requireFleetState(request.state);
  const version = await createLaunchTemplateVersion({
    launchTemplateId: fs.launchTemplateId,
    sourceVersion: fs.previousVersion,
    imageId: request.state.imageId,
    description: `phoenix rollout ${request.execution} of ${request.state.imageId}`,
    clientToken: request.execution,
  });
  await updateGroup({
    groupName: fs.groupName,
    launchTemplate: { id: fs.launchTemplateId, version: String(version) },
  });
  return { version: String(version) };
}

/** Surge: raise desired capacity by one batch above the fleet's original capacity. */
export async function launchBatch(request: FleetStepRequest): Promise<Progress> {
  const fs = requireFleetState(request.state);
  const group = await rereadGroup(fs);
  const instances = await fleetInstances(group);
  const { others } = splitByImage(instances, request.state.imageId);
  // Canary (`phoenix:canary=true`): the first batch is exactly one instance, validated (healthy, in
  // the target groups, warm-up, alarms) before any old instance goes; the normal batches follow.
  const canaryBatch = fs.canary === true && request.state.progress === undefined;
  const batch = Math.min(canaryBatch ? 1 : fs.batchSize, others.length);
  // Absolute, not relative to the current value: a retried step surges once.
  const target = fs.desiredCapacity + batch;
  if (target > (group.MaxSize ?? 0)) {
    await updateGroup({ groupName: fs.groupName, maxSize: target, desiredCapacity: target });
  } else if (target !== group.DesiredCapacity) {
    await setDesiredCapacity(fs.groupName, target);
  }
  // The new instances the batch ends with, from the old ones (which the surge leaves in place):
  // the same on a retry after the surge took effect (the runtime died before answering), when the
  // batch's own instance already counts among those on the image.
  const expectedNew = Math.min(fs.desiredCapacity, Math.max(0, target - others.length));
  return {
    batch,
    expectedNew,
    remainingOld: others.length,
    ready: false,
    checks: 0,
    replaced: request.state.progress?.replaced ?? 0,
  };
}

/**
 * Is the batch InService and healthy? After `maxChecks` checks (fast ones not counted), it has
 * failed. Not yet: the pace of the next check (domain/pacing.ts), when the workflow passes `pacing`.
 */
export async function checkBatchHealth(request: FleetStepRequest): Promise<Progress> {
  const fs = requireFleetState(request.state);
  const progress = request.state.progress;
  if (!progress) throw new ConfigurationError('workflow state has no progress: LaunchBatch did not run');
  const group = await rereadGroup(fs);
  // The target-group gate: an instance (new or old) counts only when it is also healthy in every
  // target group of the group.
  const instances = await servingInstances(group);
  const { servingOnImage, servingOthers } = splitByImage(instances, request.state.imageId);
  const ready =
    servingOnImage.length >= progress.expectedNew &&
    servingOnImage.length + servingOthers.length >= (fs.minHealthy ?? 0);
  const checks = progress.checks + 1;
  // Past the deadline, or a warm-up that would end after it: time out (the rollout rolls back).
  checkDeadline(
    request.state.lock?.deadline,
    clock.now(),
    FleetSteps.CheckBatchHealth,
    ready ? { seconds: fs.warmupSeconds, what: 'warm-up' } : undefined,
  );
  if (!ready && countedChecks(checks, progress) >= fs.maxChecks) {
    throw new BatchNotHealthyError(
      `after ${checks} checks, ${servingOnImage.length} of ${progress.expectedNew} instances on ${request.state.imageId} are InService and healthy${(group.TargetGroupARNs ?? []).length > 0 ? ' in every target group' : ''}`,
    );
  }
  if (ready || request.pacing === undefined) return { ...progress, ready, checks };
  // The batch has booted and waits for its target groups' initial health checks alone: check
  // again within half a health-check interval (domain/pacing.ts).
  const initial = instances.filter((i) => i.imageId === request.state.imageId && i.targetsInitial === true);
  const warming = initial.length > 0 && servingOnImage.length + initial.length >= progress.expectedNew;
  const interval = warming
    ? (progress.healthCheckIntervalSeconds ?? (await healthCheckIntervalSeconds(group.TargetGroupARNs ?? [])))
    : undefined;
  return { ...progress, ready, checks, ...nextPace(request.pacing, progress, interval) };
}

/** Retire the surplus of old instances (oldest first), back to the original capacity. */
export async function retireBatch(request: FleetStepRequest): Promise<Progress> {
  const fs = requireFleetState(request.state);
  const progress = request.state.progress;
  if (!progress) throw new ConfigurationError('workflow state has no progress: LaunchBatch did not run');
  const group = await rereadGroup(fs);
  // Serving as the load balancer sees it: an instance the group launched meanwhile (a refill of one
  // the world killed) that is InService but still `initial` in a target group is no spare.
  const instances = await servingInstances(group);
  const retire = instancesToRetire(instances, request.state.imageId, fs.desiredCapacity, fs.minHealthy);
  for (const instance of retire) await retireInstance(instance.instanceId);
  const remainingOld = splitByImage(instances, request.state.imageId).others.length - retire.length;
  if (remainingOld === 0) {
    // The last batch: give the group back its own limits.
    await updateGroup({ groupName: fs.groupName, desiredCapacity: fs.desiredCapacity, maxSize: fs.maxSize });
  }
  // Counted from the old instances left (not from this call's retirements): a retry after the
  // retirement took effect retires nothing more, and counts the batch once.
  const replaced = progress.replaced + Math.max(retire.length, progress.remainingOld - remainingOld);
  return { ...progress, remainingOld, replaced };
}

/**
 * Rollback, first half: the group launches the previous version again, and enough instances of
 * it are launched to restore the original capacity before any new instance is removed.
 */
export async function startRollback(request: FleetStepRequest): Promise<RollbackProgress> {
  const fs = request.state.fleetState;
  // No fleetState: the failure came before anything was changed.
  if (!fs) return { ready: true, checks: 0, nothingToUndo: true };
  const group = await rereadGroup(fs);
  const current = launchTemplateOf(group);
  const version = rollbackVersion(fs);
  if (current.version !== version) {
    await updateGroup({ groupName: fs.groupName, launchTemplate: { id: fs.launchTemplateId, version } });
  }
  const { present, others } = splitByImage(await fleetInstances(group), request.state.imageId);
  const missingOld = Math.max(0, fs.desiredCapacity - others.length);
  const target = Math.max(group.DesiredCapacity ?? 0, present.length + missingOld);
  if (target > (group.MaxSize ?? 0)) {
    await updateGroup({ groupName: fs.groupName, maxSize: target, desiredCapacity: target });
  } else if (target !== group.DesiredCapacity) {
    await setDesiredCapacity(fs.groupName, target);
  }
  return { ready: false, checks: 0, nothingToUndo: false };
}

/**
 * Rollback, wait: are as many instances of the previous image serving as the fleet had? When the
 * checks run out, the surge is taken back first (`takeStalledSurgeBack`): with no instance of the
 * new image left, nothing of the rollout remains and the rollback finishes; with some still serving
 * (kept for the floor), RollbackStalledError, the group at the fleet's capacity.
 */
export async function checkRollbackCapacity(request: FleetStepRequest): Promise<RollbackProgress> {
  const fs = request.state.fleetState;
  const rollback = request.state.rollback;
  if (!fs || !rollback || rollback.nothingToUndo) return { ready: true, checks: 0, nothingToUndo: true };
  const group = await rereadGroup(fs);
  const instances = await servingInstances(group);
  const { servingOthers } = splitByImage(instances, request.state.imageId);
  const ready = servingOthers.length >= fs.desiredCapacity;
  const checks = rollback.checks + 1;
  const maxChecks = request.maxChecks ?? fs.maxChecks;
  if (!ready && checks >= maxChecks) {
    const stalled = `after ${checks} checks, ${servingOthers.length} of ${fs.desiredCapacity} instances of the previous image are serving`;
    const { terminated, newLeft, desired } = await takeStalledSurgeBack(
      fs,
      group,
      instances,
      request.state.imageId,
    );
    const undone = `${terminated.length > 0 ? `; terminated ${terminated.join(', ')}` : ''}; the group is at desired ${desired}`;
    if (newLeft.length === 0) {
      logger.warn('rollback stalled: the surge was taken back, no instance of the new image is left', {
        fleet: request.state.fleet,
        groupName: fs.groupName,
        checks,
        servingPrevious: servingOthers.length,
        terminated,
      });
      return { ...rollback, ready: true, checks, stalled: `${stalled}${undone}` };
    }
    throw new RollbackStalledError(
      `${stalled}; ${newLeft.length} instance(s) of the new image were left in place (${newLeft.filter(isServing).length} serving)${undone}`,
    );
  }
  return { ...rollback, ready, checks };
}

/**
 * A stalled rollback takes its surge back (domain/rollout.ts `stalledRollbackSurplus`): the surplus
 * above the fleet's capacity goes with a decrement, those not serving first; a desired capacity
 * above the instances present (a launch that never came) comes down to them; then the maximum, if
 * the desired capacity fits under it again. Idempotent: a retried step finds the group back.
 */
async function takeStalledSurgeBack(
  fs: FleetState,
  group: AutoScalingGroup,
  instances: readonly FleetInstance[],
  newImageId: string,
): Promise<{ terminated: string[]; newLeft: FleetInstance[]; desired: number }> {
  const take = stalledRollbackSurplus(instances, newImageId, fs.desiredCapacity, fs.minHealthy);
  for (const instance of take) await retireInstance(instance.instanceId);
  const taken = new Set(take.map((i) => i.instanceId));
  const left = instances.filter(isPresent).filter((i) => !taken.has(i.instanceId));
  let desired = (group.DesiredCapacity ?? 0) - take.length;
  const floor = Math.max(fs.desiredCapacity, left.length);
  if (desired > floor) {
    await setDesiredCapacity(fs.groupName, floor);
    desired = floor;
  }
  if ((group.MaxSize ?? 0) > fs.maxSize && desired <= fs.maxSize) {
    await updateGroup({ groupName: fs.groupName, maxSize: fs.maxSize });
  }
  const newLeft = left.filter((i) => i.imageId === newImageId);
  return { terminated: take.map((i) => i.instanceId), newLeft, desired };
}

/** Rollback, second half: remove every instance of the new image and restore the group's limits. */
export async function finishRollback(request: FleetStepRequest): Promise<RollbackProgress> {
  const fs = request.state.fleetState;
  const rollback = request.state.rollback;
  if (!fs || !rollback || rollback.nothingToUndo) return { ready: true, checks: 0, nothingToUndo: true };
  const group = await rereadGroup(fs);
  const { onImage } = splitByImage(await fleetInstances(group), request.state.imageId);
  for (const instance of onImage) await retireInstance(instance.instanceId);
  await updateGroup({ groupName: fs.groupName, desiredCapacity: fs.desiredCapacity, maxSize: fs.maxSize });
  await resumeProcesses(fs.groupName, [...(fs.suspendProcesses ?? [])]);
  return { ...rollback, removedNew: onImage.length };
}
