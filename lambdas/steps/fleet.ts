/**
 * The fleet steps of the Rollout workflow (EC2 + Auto Scaling). Each step re-reads the fleet's
 * real state and converges it one step; each is safe to run twice (the workflow retries).
 */
import type { AutoScalingGroup } from '@aws-sdk/client-auto-scaling';
import {
  AlarmBreachedError,
  BatchNotHealthyError,
  ConfigurationError,
  FleetNotFoundError,
  ImageRejectedError,
  RollbackStalledError,
  UnsupportedFleetError,
} from '../domain/errors';
import { minHealthyCount, parseFleetSettings, surgeSize } from '../domain/fleet-settings';
import { isAmiId } from '../domain/ids';
import { launchTemplateViolation } from '../domain/adoption';
import { imageViolation, parseAllowedOwners } from '../domain/image-policy';
import {
  checkDeadline,
  type FleetState,
  instancesToRetire,
  processesToSuspend,
  type Progress,
  type RollbackProgress,
  rollbackVersion,
  splitByImage,
  type WorkflowState,
} from '../domain/rollout';
import { FleetSteps, type FleetStep } from '../domain/steps';
import {
  createLaunchTemplateVersion,
  describeGroup,
  describeImage,
  describeLaunchTemplateVersion,
  fleetInstances,
  groupsOfFleet,
  resumeProcesses,
  retireInstance,
  setDesiredCapacity,
  suspendProcesses,
  updateGroup,
} from '../aws/fleets';
import { alarmStates } from '../aws/alarms';
import { describeLaunchTemplate } from '../aws/launch-templates';
import { healthyInTargetGroups } from '../aws/load-balancing';
import * as blueGreen from './blue-green';
import { Env } from '../domain/contract';
import { requireEnv } from '../aws/errors';

export interface FleetStepRequest {
  readonly step: FleetStep;
  readonly execution: string;
  readonly state: WorkflowState;
  readonly maxChecks?: number;
  /** CheckAlarms: when the check runs (`start` rejects, `batch` and `bake` roll back). */
  readonly phase?: 'start' | 'batch' | 'bake';
  /** ReleaseFleet: false on a failure path (only resume the processes). */
  readonly restoreLimits?: boolean;
}

/** The clock, replaceable in tests (deadlines). */
export const clock = { now: () => new Date() };

function requireFleetState(state: WorkflowState): FleetState {
  if (!state.fleetState)
    throw new ConfigurationError('workflow state has no fleetState: ValidateImage did not run');
  return state.fleetState;
}

async function rereadGroup(fleetState: FleetState): Promise<AutoScalingGroup> {
  const group = await describeGroup(fleetState.groupName);
  if (!group) throw new FleetNotFoundError(`Auto Scaling group ${fleetState.groupName} no longer exists`);
  return group;
}

/** The group's launch template (id and version as configured), or UnsupportedFleetError. */
function launchTemplateOf(group: AutoScalingGroup): { id: string; version: string } {
  const lt = group.LaunchTemplate;
  if (lt?.LaunchTemplateId && lt.Version) return { id: lt.LaunchTemplateId, version: lt.Version };
  if (lt?.LaunchTemplateId) return { id: lt.LaunchTemplateId, version: '$Default' };
  const shape = group.MixedInstancesPolicy
    ? 'a mixed instances policy'
    : group.LaunchConfigurationName
      ? `launch configuration ${group.LaunchConfigurationName}`
      : 'no launch template';
  throw new UnsupportedFleetError(
    `group ${group.AutoScalingGroupName} uses ${shape}; Phoenix rolls groups that launch from a launch template`,
  );
}

/** Re-read the fleet and the image; reject what cannot be rolled out before anything changes. */
export async function validateImage(request: FleetStepRequest): Promise<FleetState> {
  const { fleet, imageId } = request.state;
  const groups = await groupsOfFleet(fleet);
  if (groups.length === 0)
    throw new FleetNotFoundError(`no Auto Scaling group is tagged phoenix:fleet=${fleet}`);
  if (groups.length > 1) {
    throw new UnsupportedFleetError(
      `fleet ${fleet} has ${groups.length} groups (${groups.map((g) => g.group.AutoScalingGroupName).join(', ')}); a fleet is one group`,
    );
  }
  const group = groups[0]!.group;
  const lt = launchTemplateOf(group);
  // Adoption: Phoenix versions only launch templates tagged phoenix:fleet (its IAM says so too).
  const adoption = launchTemplateViolation(await describeLaunchTemplate(lt.id), fleet);
  if (adoption !== undefined) throw new UnsupportedFleetError(adoption);
  // An invalid tag value throws InvalidFleetSettingError (naming tag and value): rejected.
  const tags: Record<string, string> = {};
  for (const t of group.Tags ?? []) if (t.Key !== undefined) tags[t.Key] = t.Value ?? '';
  const settings = parseFleetSettings(tags);

  if (!isAmiId(imageId)) throw new ImageRejectedError(`${JSON.stringify(imageId)} is not a valid AMI id`);
  const image = await describeImage(imageId);
  if (!image)
    throw new ImageRejectedError(`image ${imageId} does not exist (or is not visible to this account)`);

  const current = await describeLaunchTemplateVersion(lt.id, lt.version);
  const currentImage =
    current.imageId !== undefined && current.imageId !== imageId
      ? await describeImage(current.imageId)
      : undefined;
  const violation = imageViolation({
    image,
    ...(currentImage ? { current: currentImage } : {}),
    allowedOwners: parseAllowedOwners(requireEnv(Env.allowedImageOwners)),
    now: new Date(),
    // `phoenix rollback`: onto an older image of the fleet's history; every other rule applies.
    allowOlder: request.state.mode === 'rollback',
  });
  if (violation !== undefined) throw new ImageRejectedError(violation);
  const instances = await fleetInstances(group);
  const { present, onImage } = splitByImage(instances, imageId);
  const desired = group.DesiredCapacity ?? 0;
  const upToDate =
    current.imageId === imageId && onImage.length === present.length && present.length === desired;
  const maxChecks = request.maxChecks ?? 40;
  return {
    groupName: group.AutoScalingGroupName!,
    launchTemplateId: lt.id,
    previousVersion: lt.version,
    previousVersionNumber: current.versionNumber,
    ...(current.imageId !== undefined ? { previousImageId: current.imageId } : {}),
    desiredCapacity: desired,
    minSize: group.MinSize ?? 0,
    maxSize: group.MaxSize ?? desired,
    batchSize: surgeSize(settings.maxSurge, desired),
    minHealthy: minHealthyCount(settings.minHealthyPercent, desired),
    warmupSeconds: settings.warmupSeconds,
    bakeSeconds: settings.bakeSeconds,
    alarms: settings.alarms,
    maxChecks,
    upToDate,
    strategy: settings.strategy,
    canary: settings.canary,
    suspendProcesses: processesToSuspend(
      (group.SuspendedProcesses ?? []).map((p) => p.ProcessName ?? '').filter((p) => p !== ''),
    ),
  };
}

/** The image as EC2 reports it: its CreationDate orders rollouts (supersede, late images). */
export async function readImage(
  request: FleetStepRequest,
): Promise<{ imageId: string; creationDate?: string }> {
  const { imageId } = request.state;
  if (!isAmiId(imageId)) throw new ImageRejectedError(`${JSON.stringify(imageId)} is not a valid AMI id`);
  const image = await describeImage(imageId);
  if (!image)
    throw new ImageRejectedError(`image ${imageId} does not exist (or is not visible to this account)`);
  return { imageId, ...(image.creationDate !== undefined ? { creationDate: image.creationDate } : {}) };
}

/**
 * Before the first change: suspend the scaling processes that would fight the rollout (those
 * ValidateImage found not suspended already). Idempotent.
 */
export async function suspendScalingProcesses(request: FleetStepRequest): Promise<{ suspended: string[] }> {
  const fs = requireFleetState(request.state);
  const processes = [...(fs.suspendProcesses ?? [])];
  await suspendProcesses(fs.groupName, processes);
  return { suspended: processes };
}

/**
 * Give the fleet back: its limits as at the start (desired and max; not with `restoreLimits:
 * false`) and the scaling processes Phoenix suspended resumed. Idempotent.
 */
export async function releaseFleet(
  request: FleetStepRequest,
): Promise<{ resumed: string[]; limitsRestored: boolean }> {
  const fs = request.state.fleetState;
  if (!fs) return { resumed: [], limitsRestored: false };
  let limitsRestored = false;
  if (request.restoreLimits !== false) {
    const group = await rereadGroup(fs);
    if (group.DesiredCapacity !== fs.desiredCapacity || group.MaxSize !== fs.maxSize) {
      await updateGroup({
        groupName: fs.groupName,
        desiredCapacity: fs.desiredCapacity,
        maxSize: fs.maxSize,
      });
    }
    limitsRestored = true;
  }
  const resumed = [...(fs.suspendProcesses ?? [])];
  await resumeProcesses(fs.groupName, resumed);
  return { resumed, limitsRestored };
}

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
  const { onImage, others } = splitByImage(instances, request.state.imageId);
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
  return {
    batch,
    expectedNew: Math.min(fs.desiredCapacity, onImage.length + batch),
    remainingOld: others.length,
    ready: false,
    checks: 0,
    replaced: request.state.progress?.replaced ?? 0,
  };
}

/** Is the batch InService and healthy? After `maxChecks` checks, it has failed. */
export async function checkBatchHealth(request: FleetStepRequest): Promise<Progress> {
  const fs = requireFleetState(request.state);
  const progress = request.state.progress;
  if (!progress) throw new ConfigurationError('workflow state has no progress: LaunchBatch did not run');
  const group = await rereadGroup(fs);
  const split = splitByImage(await fleetInstances(group), request.state.imageId);
  const { servingOthers } = split;
  // The target-group gate: a new instance counts only when it is also healthy in every target group
  // of the group.
  const inTargets = await healthyInTargetGroups(
    group.TargetGroupARNs ?? [],
    split.servingOnImage.map((i) => i.instanceId),
  );
  const servingOnImage = split.servingOnImage.filter((i) => inTargets.has(i.instanceId));
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
  if (!ready && checks >= fs.maxChecks) {
    throw new BatchNotHealthyError(
      `after ${checks} checks, ${servingOnImage.length} of ${progress.expectedNew} instances on ${request.state.imageId} are InService and healthy${(group.TargetGroupARNs ?? []).length > 0 ? ' in every target group' : ''}`,
    );
  }
  return { ...progress, ready, checks };
}

/**
 * Are the fleet's gating alarms OK? Any in ALARM throws AlarmBreachedError naming it: before the
 * start the rollout is rejected, after a batch or the bake it rolls back. An alarm that does not
 * exist counts as in ALARM (a gate that cannot be read does not open).
 */
export async function checkAlarms(request: FleetStepRequest): Promise<{ checked: number }> {
  const fs = requireFleetState(request.state);
  const names = fs.alarms ?? [];
  if (names.length === 0) return { checked: 0 };
  const states = await alarmStates(names);
  const missing = names.filter((n) => !states.has(n));
  const inAlarm = names.filter((n) => states.get(n) === 'ALARM');
  const when =
    request.phase === 'bake'
      ? 'after the bake'
      : request.phase === 'batch'
        ? 'after a batch'
        : 'before the start';
  if (inAlarm.length > 0) {
    throw new AlarmBreachedError(`alarm ${inAlarm.join(', ')} is in ALARM ${when}`);
  }
  if (missing.length > 0) {
    throw new AlarmBreachedError(`alarm ${missing.join(', ')} (tag phoenix:alarms) does not exist`);
  }
  return { checked: names.length };
}

/** Retire the surplus of old instances (oldest first), back to the original capacity. */
export async function retireBatch(request: FleetStepRequest): Promise<Progress> {
  const fs = requireFleetState(request.state);
  const progress = request.state.progress;
  if (!progress) throw new ConfigurationError('workflow state has no progress: LaunchBatch did not run');
  const group = await rereadGroup(fs);
  const instances = await fleetInstances(group);
  const retire = instancesToRetire(instances, request.state.imageId, fs.desiredCapacity);
  for (const instance of retire) await retireInstance(instance.instanceId);
  const remainingOld = splitByImage(instances, request.state.imageId).others.length - retire.length;
  if (remainingOld === 0) {
    // The last batch: give the group back its own limits.
    await updateGroup({ groupName: fs.groupName, desiredCapacity: fs.desiredCapacity, maxSize: fs.maxSize });
  }
  return { ...progress, remainingOld, replaced: progress.replaced + retire.length };
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

/** Rollback, wait: are as many instances of the previous image serving as the fleet had? */
export async function checkRollbackCapacity(request: FleetStepRequest): Promise<RollbackProgress> {
  const fs = request.state.fleetState;
  const rollback = request.state.rollback;
  if (!fs || !rollback || rollback.nothingToUndo) return { ready: true, checks: 0, nothingToUndo: true };
  const group = await rereadGroup(fs);
  const { servingOthers } = splitByImage(await fleetInstances(group), request.state.imageId);
  const ready = servingOthers.length >= fs.desiredCapacity;
  const checks = rollback.checks + 1;
  const maxChecks = request.maxChecks ?? fs.maxChecks;
  if (!ready && checks >= maxChecks) {
    throw new RollbackStalledError(
      `after ${checks} checks, ${servingOthers.length} of ${fs.desiredCapacity} instances of the previous image are serving; the new instances were left in place`,
    );
  }
  return { ...rollback, ready, checks };
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

const steps: Record<FleetStep, (request: FleetStepRequest) => Promise<unknown>> = {
  [FleetSteps.ValidateImage]: validateImage,
  [FleetSteps.ReconcileLaunchTemplate]: reconcileLaunchTemplate,
  [FleetSteps.LaunchBatch]: launchBatch,
  [FleetSteps.CheckBatchHealth]: checkBatchHealth,
  [FleetSteps.RetireBatch]: retireBatch,
  [FleetSteps.CheckAlarms]: checkAlarms,
  [FleetSteps.StartRollback]: startRollback,
  [FleetSteps.CheckRollbackCapacity]: checkRollbackCapacity,
  [FleetSteps.FinishRollback]: finishRollback,
  [FleetSteps.CreateGreenGroup]: blueGreen.createGreenGroup,
  [FleetSteps.CheckGreenHealth]: blueGreen.checkGreenHealth,
  [FleetSteps.AttachGreenTargetGroups]: blueGreen.attachGreenTargetGroups,
  [FleetSteps.ScaleGreenGroup]: blueGreen.scaleGreenGroup,
  [FleetSteps.CutOverToGreen]: blueGreen.cutOverToGreen,
  [FleetSteps.RetireBlue]: blueGreen.retireBlue,
  [FleetSteps.DiscardGreen]: blueGreen.discardGreen,
  [FleetSteps.ReadImage]: readImage,
  [FleetSteps.SuspendScalingProcesses]: suspendScalingProcesses,
  [FleetSteps.ReleaseFleet]: releaseFleet,
};

export async function runFleetStep(request: FleetStepRequest): Promise<unknown> {
  const run = steps[request.step];
  if (!run) throw new ConfigurationError(`unknown fleet step ${JSON.stringify(request.step)}`);
  return run(request);
}
