/**
 * The blue-green steps of the Rollout workflow (tag `phoenix:strategy=blue-green`). Each re-reads
 * the real state and is safe to run twice (the workflow retries).
 *
 *   CreateGreenGroup → CheckGreenHealth (capacity) → warm-up → AttachGreenTargetGroups →
 *   CheckGreenHealth (targets) → alarms → [canary: ScaleGreenGroup, and again] → bake → alarms →
 *   CutOverToGreen → RetireBlue (detach, drain, delete) → commit.
 *   Any failure up to and including CutOverToGreen → DiscardGreen (blue untouched) → rolled back.
 */
import * as clock from '../domain/clock';
import type { AutoScalingGroup } from '@aws-sdk/client-auto-scaling';
import {
  type BlueGreenWorkflowState,
  type GreenCheck,
  type GreenState,
  greenGroupName,
  greenTags,
  identityTags,
  initialGreenCapacity,
  type RetireProgress,
} from '../domain/blue-green';
import { Tags } from '../domain/contract';
import {
  BatchNotHealthyError,
  ConfigurationError,
  FleetNotFoundError,
  RollbackStalledError,
  UnsupportedFleetError,
} from '../domain/errors';
import {
  checkDeadline,
  type FleetState,
  isServing,
  type RollbackProgress,
  splitByImage,
} from '../domain/rollout';
import { FleetSteps } from '../domain/steps';
import {
  cloneGroup,
  deleteGroup,
  deleteGroupTags,
  groupTags,
  putGroupTags,
  resizeGroup,
} from '../aws/green-groups';
import {
  createLaunchTemplateVersion,
  describeGroup,
  fleetInstances,
  servingInstances,
  updateGroup,
} from '../aws/fleets';
import {
  attachTargetGroups,
  detachTargetGroups,
  healthyInTargetGroups,
  stillRegistered,
} from '../aws/load-balancing';
import type { FleetStepRequest } from './fleet-request';

/** A blue-green step's request: `gate` says what CheckGreenHealth waits for. */
type Request = FleetStepRequest & { readonly gate?: 'capacity' | 'targets' };

function stateOf(request: Request): BlueGreenWorkflowState {
  // The blue-green fields are optional: any rollout's state is one (the workflow adds them).
  const state: BlueGreenWorkflowState = request.state;
  return state;
}

function requireFleetState(request: Request): FleetState {
  const fs = request.state.fleetState;
  if (!fs) throw new ConfigurationError('workflow state has no fleetState: ValidateImage did not run');
  return fs;
}

function requireGreen(request: Request): GreenState {
  const green = stateOf(request).green;
  if (!green) throw new ConfigurationError('workflow state has no green group: CreateGreenGroup did not run');
  return green;
}

async function requireGroup(groupName: string, what: string): Promise<AutoScalingGroup> {
  const group = await describeGroup(groupName);
  if (!group) throw new FleetNotFoundError(`${what} ${groupName} no longer exists`);
  return group;
}

/**
 * A launch template version with the new image, and the green group cloned from blue on it, at 1
 * instance (canary) or the fleet's capacity, with no target group. Blue keeps its version: a blue
 * group on `$Latest` is pinned to the number `$Latest` named before (the new version becomes
 * `$Latest`, and blue must not launch it).
 */
export async function createGreenGroup(request: Request): Promise<GreenState> {
  const fs = requireFleetState(request);
  const { fleet, imageId } = request.state;
  const blue = await requireGroup(fs.groupName, 'Auto Scaling group');
  if ((blue.LoadBalancerNames ?? []).length > 0) {
    throw new UnsupportedFleetError(
      `group ${fs.groupName} uses Classic Load Balancers (${blue.LoadBalancerNames!.join(', ')}); blue-green moves target groups only`,
    );
  }
  if (fs.previousVersion === '$Latest' && blue.LaunchTemplate?.Version === '$Latest') {
    await updateGroup({
      groupName: fs.groupName,
      launchTemplate: { id: fs.launchTemplateId, version: String(fs.previousVersionNumber) },
    });
  }
  const version = String(
    await createLaunchTemplateVersion({
      launchTemplateId: fs.launchTemplateId,
      sourceVersion: String(fs.previousVersionNumber),
      imageId,
      description: `phoenix blue-green ${request.execution} of ${imageId}`,
      clientToken: request.execution,
    }),
  );
  const groupName = greenGroupName(fleet, request.execution);
  const desired = initialGreenCapacity(fs.desiredCapacity, fs.canary ?? false);
  const tags = groupTags(blue);
  await cloneGroup({
    source: blue,
    groupName,
    launchTemplate: { id: fs.launchTemplateId, version },
    minSize: Math.min(fs.minSize, desired),
    maxSize: Math.max(fs.maxSize, desired),
    desiredCapacity: desired,
    tags: greenTags(tags, fleet, request.execution),
  });
  return {
    groupName,
    launchTemplateVersion: version,
    targetGroupArns: blue.TargetGroupARNs ?? [],
    desired,
    attached: false,
    identityTags: identityTags(tags),
  };
}

/**
 * Is green at its desired capacity on the new image, InService and Healthy, and healthy in every
 * target group it is attached to? After `maxChecks` checks of one gate, it has failed.
 */
export async function checkGreenHealth(request: Request): Promise<GreenCheck> {
  const fs = requireFleetState(request);
  const green = requireGreen(request);
  const group = await requireGroup(green.groupName, 'green group');
  const { servingOnImage } = splitByImage(await fleetInstances(group), request.state.imageId);
  const healthy = await healthyInTargetGroups(
    group.TargetGroupARNs ?? [],
    servingOnImage.map((i) => i.instanceId),
  );
  const key = `${request.gate ?? 'capacity'}:${green.desired}`;
  const previous = stateOf(request).greenCheck;
  const checks = (previous?.key === key ? previous.checks : 0) + 1;
  const ready = healthy.size >= green.desired;
  // Past the rollout's deadline, or a warm-up (capacity gate) / bake (targets gate) that would end
  // after it: time out, and green is discarded like on any failure before the cutover.
  const ahead =
    request.gate === 'targets'
      ? { seconds: fs.bakeSeconds, what: 'bake' }
      : { seconds: fs.warmupSeconds, what: 'warm-up' };
  checkDeadline(
    request.state.lock?.deadline,
    clock.now(),
    FleetSteps.CheckGreenHealth,
    ready ? ahead : undefined,
  );
  const maxChecks = request.maxChecks ?? fs.maxChecks;
  if (!ready && checks >= maxChecks) {
    const inTargets = (group.TargetGroupARNs ?? []).length > 0 ? ' and healthy in its target groups' : '';
    throw new BatchNotHealthyError(
      `after ${checks} checks, ${healthy.size} of ${green.desired} instances of green group ${green.groupName} on ${request.state.imageId} are InService and healthy${inTargets}`,
    );
  }
  return { key, ready, checks };
}

/** Attach the blue group's target groups to green (those not attached yet). */
export async function attachGreenTargetGroups(request: Request): Promise<GreenState> {
  const green = requireGreen(request);
  const group = await requireGroup(green.groupName, 'green group');
  const attached = new Set(group.TargetGroupARNs ?? []);
  await attachTargetGroups(
    green.groupName,
    green.targetGroupArns.filter((arn) => !attached.has(arn)),
  );
  return { ...green, attached: true };
}

/** Canary validated: green to the fleet's sizes. */
export async function scaleGreenGroup(request: Request): Promise<GreenState> {
  const fs = requireFleetState(request);
  const green = requireGreen(request);
  await resizeGroup(green.groupName, {
    minSize: fs.minSize,
    maxSize: Math.max(fs.maxSize, fs.desiredCapacity),
    desiredCapacity: fs.desiredCapacity,
  });
  return { ...green, desired: fs.desiredCapacity };
}

/**
 * Cutover: the fleet's identity moves from blue to green. Order: (1) green gets the identity tags,
 * (2) blue is marked `phoenix:blue-of`/`phoenix:rollout` (so it stays deletable), (3) blue loses the
 * identity tags, (4) green loses its transition tags. The fleet is never without a group; it has two
 * only between (1) and (3), two calls apart. Both groups serve the target groups throughout.
 */
export async function cutOverToGreen(request: Request): Promise<{ groupName: string }> {
  const fs = requireFleetState(request);
  const green = requireGreen(request);
  const { fleet } = request.state;
  await putGroupTags(green.groupName, green.identityTags);
  const blue = await describeGroup(fs.groupName);
  if (blue) {
    await putGroupTags(fs.groupName, [
      { key: Tags.blueOf, value: fleet, propagateAtLaunch: false },
      { key: Tags.rollout, value: request.execution, propagateAtLaunch: false },
    ]);
    const keys = new Set([
      ...green.identityTags.map((t) => t.key),
      ...identityTags(groupTags(blue)).map((t) => t.key),
    ]);
    await deleteGroupTags(fs.groupName, [...keys]);
  }
  await deleteGroupTags(green.groupName, [Tags.greenOf, Tags.rollout]);
  return { groupName: green.groupName };
}

/**
 * After cutover: detach blue from its target groups, wait (one check per call) until its instances
 * are deregistered (drained), then delete blue (ForceDelete). After `maxChecks` checks it is deleted
 * even if a target still drains. A group that still carries `phoenix:fleet` is never deleted.
 */
export async function retireBlue(request: Request): Promise<RetireProgress> {
  const fs = requireFleetState(request);
  const green = requireGreen(request);
  const checks = (stateOf(request).retire?.checks ?? 0) + 1;
  const blue = await describeGroup(fs.groupName);
  if (!blue) return { deleted: true, draining: 0, checks };
  if (groupTags(blue).some((t) => t.key === Tags.fleet)) {
    throw new ConfigurationError(
      `group ${fs.groupName} still carries ${Tags.fleet}: it is the fleet, not deleting it (CutOverToGreen did not finish)`,
    );
  }
  const maxChecks = request.maxChecks ?? fs.maxChecks;
  const attached = blue.TargetGroupARNs ?? [];
  if (attached.length > 0 || (stateOf(request).retire?.draining ?? 0) === 0) {
    // Blue still serves (attached, or not yet looked at): it goes only while green alone serves the
    // fleet's floor. Found by the torture run: a green instance lost after the green gates (killed,
    // a bad zone) and blue retired anyway left the fleet below its floor. Green is waited for (the
    // group refills) within the check bound; past it, blue is left in place (RolloutFailed).
    const serving = await greenServing(green.groupName);
    if (serving < fs.minHealthy) {
      if (checks < maxChecks) return { deleted: false, draining: 0, checks, greenServing: serving };
      throw new BatchNotHealthyError(
        `after ${checks} checks, green group ${green.groupName} serves ${serving} instance(s), below the fleet's floor of ${fs.minHealthy}: blue group ${fs.groupName} was left in place`,
      );
    }
  }
  if (attached.length > 0) await detachTargetGroups(fs.groupName, attached);
  const ids = (blue.Instances ?? []).map((i) => i.InstanceId).filter((id): id is string => id !== undefined);
  const draining = await stillRegistered(green.targetGroupArns, ids);
  if (draining.size > 0 && checks < maxChecks) return { deleted: false, draining: draining.size, checks };
  await deleteGroup(fs.groupName);
  return { deleted: true, draining: draining.size, checks };
}

/** How many instances of green serve (InService, Healthy, healthy in its target groups). */
async function greenServing(groupName: string): Promise<number> {
  const group = await describeGroup(groupName);
  if (!group) return 0;
  return (await servingInstances(group)).filter(isServing).length;
}

/**
 * Rollback of a blue-green rollout (any failure up to the cutover): the identity goes back to blue
 * if the cutover had begun, green is detached from the target groups and deleted (ForceDelete).
 * Blue never left its launch template version and kept serving: nothing else to undo.
 */
export async function discardGreen(request: Request): Promise<RollbackProgress> {
  const fs = request.state.fleetState;
  if (!fs) return { ready: true, checks: 0, nothingToUndo: true };
  const { fleet } = request.state;
  const greenName = stateOf(request).green?.groupName ?? greenGroupName(fleet, request.execution);
  const blue = await describeGroup(fs.groupName);
  if (!blue) {
    throw new RollbackStalledError(
      `the fleet's previous group ${fs.groupName} is gone; green group ${greenName} is left in place`,
    );
  }
  const green = await describeGroup(greenName);
  const identity = stateOf(request).green?.identityTags ?? (green ? identityTags(groupTags(green)) : []);
  // The cutover had begun: the identity back on blue first, then off green.
  const blueTags = groupTags(blue);
  const missing = identity.filter((t) => !blueTags.some((b) => b.key === t.key && b.value === t.value));
  await putGroupTags(fs.groupName, missing);
  await deleteGroupTags(
    fs.groupName,
    blueTags.filter((t) => t.key === Tags.blueOf || t.key === Tags.rollout).map((t) => t.key),
  );
  if (!green) return { ready: true, checks: 0, nothingToUndo: false, removedNew: 0 };
  const greenKeys = groupTags(green).map((t) => t.key);
  await putGroupTags(greenName, [
    { key: Tags.greenOf, value: fleet, propagateAtLaunch: false },
    { key: Tags.rollout, value: request.execution, propagateAtLaunch: false },
  ]);
  await deleteGroupTags(
    greenName,
    greenKeys.filter((k) => identity.some((t) => t.key === k)),
  );
  const attached = green.TargetGroupARNs ?? [];
  if (attached.length > 0) await detachTargetGroups(greenName, attached);
  await deleteGroup(greenName);
  return { ready: true, checks: 0, nothingToUndo: false, removedNew: (green.Instances ?? []).length };
}
