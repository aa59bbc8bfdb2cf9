/**
 * Auto Scaling calls of blue-green rollouts: clone a group, move tags between groups, delete a group.
 *
 * The emulator (moto 5.2.5) accepts a second CreateAutoScalingGroup of an existing name and
 * replaces the group; AWS answers `AlreadyExists`. So creation looks first and also takes
 * `AlreadyExists` as done.
 */
import {
  type AutoScalingGroup,
  CreateAutoScalingGroupCommand,
  CreateOrUpdateTagsCommand,
  DeleteAutoScalingGroupCommand,
  DeleteTagsCommand,
  UpdateAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import type { GroupTag } from '../domain/blue-green';
import { aws, errorName } from './errors';
import { autoScaling } from './clients';
import { describeGroup } from './fleets';

const DEFAULT_SERVICE_LINKED_ROLE = '/AWSServiceRoleForAutoScaling';

/** A group's tags, as `GroupTag`s. */
export function groupTags(group: AutoScalingGroup): GroupTag[] {
  return (group.Tags ?? [])
    .filter((t) => t.Key !== undefined)
    .map((t) => ({ key: t.Key!, value: t.Value ?? '', propagateAtLaunch: t.PropagateAtLaunch ?? false }));
}

/**
 * Create `groupName` as a clone of `source` (sizes, subnets or zones, health check, cooldown,
 * termination policies, capacity rebalance and more) with another launch template version, other
 * tags, no target groups and no load balancers. Returns false when the group already existed.
 */
export async function cloneGroup(args: {
  source: AutoScalingGroup;
  groupName: string;
  launchTemplate: { id: string; version: string };
  minSize: number;
  maxSize: number;
  desiredCapacity: number;
  tags: readonly GroupTag[];
}): Promise<boolean> {
  if (await describeGroup(args.groupName)) return false;
  const s = args.source;
  const subnets = s.VPCZoneIdentifier?.trim();
  try {
    await aws('CreateAutoScalingGroup', () =>
      autoScaling().send(
        new CreateAutoScalingGroupCommand({
          AutoScalingGroupName: args.groupName,
          LaunchTemplate: { LaunchTemplateId: args.launchTemplate.id, Version: args.launchTemplate.version },
          MinSize: args.minSize,
          MaxSize: args.maxSize,
          DesiredCapacity: args.desiredCapacity,
          ...(subnets ? { VPCZoneIdentifier: subnets } : { AvailabilityZones: s.AvailabilityZones }),
          ...(s.HealthCheckType !== undefined ? { HealthCheckType: s.HealthCheckType } : {}),
          ...(s.HealthCheckGracePeriod !== undefined
            ? { HealthCheckGracePeriod: s.HealthCheckGracePeriod }
            : {}),
          ...(s.DefaultCooldown !== undefined ? { DefaultCooldown: s.DefaultCooldown } : {}),
          ...(s.TerminationPolicies?.length ? { TerminationPolicies: s.TerminationPolicies } : {}),
          ...(s.CapacityRebalance !== undefined ? { CapacityRebalance: s.CapacityRebalance } : {}),
          ...(s.NewInstancesProtectedFromScaleIn !== undefined
            ? { NewInstancesProtectedFromScaleIn: s.NewInstancesProtectedFromScaleIn }
            : {}),
          ...(s.DefaultInstanceWarmup !== undefined
            ? { DefaultInstanceWarmup: s.DefaultInstanceWarmup }
            : {}),
          ...(s.MaxInstanceLifetime !== undefined ? { MaxInstanceLifetime: s.MaxInstanceLifetime } : {}),
          ...(s.PlacementGroup !== undefined ? { PlacementGroup: s.PlacementGroup } : {}),
          // A custom service-linked role only (the default one is used anyway, and naming it would need iam:PassRole).
          ...(s.ServiceLinkedRoleARN !== undefined &&
          !s.ServiceLinkedRoleARN.endsWith(DEFAULT_SERVICE_LINKED_ROLE)
            ? { ServiceLinkedRoleARN: s.ServiceLinkedRoleARN }
            : {}),
          ...(s.CapacityReservationSpecification !== undefined
            ? { CapacityReservationSpecification: s.CapacityReservationSpecification }
            : {}),
          Tags: args.tags.map((t) => ({
            ResourceId: args.groupName,
            ResourceType: 'auto-scaling-group',
            Key: t.key,
            Value: t.value,
            PropagateAtLaunch: t.propagateAtLaunch,
          })),
        }),
      ),
    );
  } catch (error) {
    if (errorName(error) === 'AlreadyExists' || errorName(error) === 'AlreadyExistsFault') return false;
    throw error;
  }
  return true;
}

/** Create or update tags of a group. */
export async function putGroupTags(groupName: string, tags: readonly GroupTag[]): Promise<void> {
  if (tags.length === 0) return;
  await aws('CreateOrUpdateTags', () =>
    autoScaling().send(
      new CreateOrUpdateTagsCommand({
        Tags: tags.map((t) => ({
          ResourceId: groupName,
          ResourceType: 'auto-scaling-group',
          Key: t.key,
          Value: t.value,
          PropagateAtLaunch: t.propagateAtLaunch,
        })),
      }),
    ),
  );
}

/** Delete tags (by key) of a group. */
export async function deleteGroupTags(groupName: string, keys: readonly string[]): Promise<void> {
  if (keys.length === 0) return;
  await aws('DeleteTags', () =>
    autoScaling().send(
      new DeleteTagsCommand({
        Tags: keys.map((Key) => ({ ResourceId: groupName, ResourceType: 'auto-scaling-group', Key })),
      }),
    ),
  );
}

/** Delete a group and terminate its instances (ForceDelete). A group already gone is done. */
export async function deleteGroup(groupName: string): Promise<void> {
  try {
    await aws('DeleteAutoScalingGroup', () =>
      autoScaling().send(
        new DeleteAutoScalingGroupCommand({ AutoScalingGroupName: groupName, ForceDelete: true }),
      ),
    );
  } catch (error) {
    if (errorName(error) === 'ValidationError' && /not found/i.test(String((error as Error).message))) return;
    throw error;
  }
}

/** Set a group's sizes. */
export async function resizeGroup(
  groupName: string,
  sizes: { minSize: number; maxSize: number; desiredCapacity: number },
): Promise<void> {
  await aws('UpdateAutoScalingGroup', () =>
    autoScaling().send(
      new UpdateAutoScalingGroupCommand({
        AutoScalingGroupName: groupName,
        MinSize: sizes.minSize,
        MaxSize: sizes.maxSize,
        DesiredCapacity: sizes.desiredCapacity,
      }),
    ),
  );
}
