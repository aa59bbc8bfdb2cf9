/**
 * The fleet steps of the Rollout workflow that both strategies run (EC2 + Auto Scaling): validate
 * the image and the fleet, read the image, suspend and resume the scaling processes, check the
 * gating alarms. Each step re-reads the fleet's real state; each is safe to run twice (the
 * workflow retries). The rolling steps are in rolling.ts, the blue-green ones in blue-green.ts.
 */
import type { AutoScalingGroup } from '@aws-sdk/client-auto-scaling';
import * as clock from '../domain/clock';
import { Env } from '../domain/contract';
import {
  AlarmBreachedError,
  FleetNotFoundError,
  ImageRejectedError,
  UnsupportedFleetError,
} from '../domain/errors';
import { minHealthyCount, parseFleetSettings, surgeSize } from '../domain/fleet-settings';
import { isAmiId } from '../domain/ids';
import { launchTemplateViolation } from '../domain/adoption';
import { imageViolation, parseAllowedOwners } from '../domain/image-policy';
import { quarantinedMessage, quarantineOf, quarantineReason } from '../domain/quarantine';
import { type FleetState, processesToSuspend, rollbackVersion, splitByImage } from '../domain/rollout';
import { alarmStates } from '../aws/alarms';
import { requireEnv } from '../aws/errors';
import {
  describeGroup,
  describeImage,
  describeLaunchTemplateVersion,
  fleetInstances,
  groupsOfFleet,
  resumeProcesses,
  suspendProcesses,
  updateGroup,
} from '../aws/fleets';
import { tagImageQuarantined } from '../aws/images';
import { type FleetStepRequest, requireFleetState } from './fleet-request';
import { describeLaunchTemplate } from '../aws/launch-templates';

/** The fleet's group as it is now, or FleetNotFoundError. */
export async function rereadGroup(fleetState: FleetState): Promise<AutoScalingGroup> {
  const group = await describeGroup(fleetState.groupName);
  if (!group) throw new FleetNotFoundError(`Auto Scaling group ${fleetState.groupName} no longer exists`);
  return group;
}

/** The group's launch template (id and version as configured), or UnsupportedFleetError. */
export function launchTemplateOf(group: AutoScalingGroup): { id: string; version: string } {
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
  // Quarantine (issue 13 §3): every channel refuses an image rolled back because of itself, until
  // an operator releases it (phoenix release). Also for `phoenix rollback` onto it.
  const quarantined = quarantineOf(image.tags);
  if (quarantined !== undefined) throw new ImageRejectedError(quarantinedMessage(imageId, quarantined));

  const current = await describeLaunchTemplateVersion(lt.id, lt.version);
  const currentImage =
    current.imageId !== undefined && current.imageId !== imageId
      ? await describeImage(current.imageId)
      : undefined;
  const violation = imageViolation({
    image,
    ...(currentImage ? { current: currentImage } : {}),
    allowedOwners: parseAllowedOwners(requireEnv(Env.allowedImageOwners)),
    now: clock.now(),
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
 * false`), with `restoreLaunchTemplate` a rolling group pointed back at the launch template version
 * of the desired image, and the scaling processes Phoenix suspended resumed. Idempotent.
 */
export async function releaseFleet(
  request: FleetStepRequest,
): Promise<{ resumed: string[]; limitsRestored: boolean; launchTemplateVersion?: string }> {
  const fs = request.state.fleetState;
  if (!fs) return { resumed: [], limitsRestored: false };
  let launchTemplateVersion: string | undefined;
  if (request.restoreLaunchTemplate === true && fs.strategy !== 'blue-green') {
    // Found by the torture run: a rollout stopped at a safe point left the group on the new
    // version; every instance the group launched afterwards ran an image the record never took.
    const group = await rereadGroup(fs);
    launchTemplateVersion = rollbackVersion(fs);
    if (group.LaunchTemplate?.Version !== launchTemplateVersion) {
      await updateGroup({
        groupName: fs.groupName,
        launchTemplate: { id: fs.launchTemplateId, version: launchTemplateVersion },
      });
    }
  }
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
  return {
    resumed,
    limitsRestored,
    ...(launchTemplateVersion !== undefined ? { launchTemplateVersion } : {}),
  };
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

/**
 * After a rollback (before its report): when the image caused it (a health gate, a gating alarm,
 * the bake: `quarantineReason`), tag the AMI `phoenix:quarantined=<reason>`, which every channel's
 * ValidateImage refuses. Idempotent. The workflow catches its failure: the rollback is reported
 * all the same (RolloutRolledBack's `quarantine` says what failed), never RolloutFailed.
 */
export async function quarantineImage(
  request: FleetStepRequest,
): Promise<{ reason?: string; tagged: boolean }> {
  const reason = quarantineReason(request.state);
  if (reason === undefined) return { tagged: false };
  await tagImageQuarantined(request.state.imageId, reason);
  return { reason, tagged: true };
}
