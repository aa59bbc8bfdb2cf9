/**
 * Fleets as Auto Scaling and EC2 report them. Describe calls are batched (100 groups, 1000
 * instances per call) and paginated.
 */
import { createHash } from 'node:crypto';
import {
  type AutoScalingGroup,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  type Filter,
  ResumeProcessesCommand,
  SetDesiredCapacityCommand,
  SuspendProcessesCommand,
  TerminateInstanceInAutoScalingGroupCommand,
  UpdateAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  CreateLaunchTemplateVersionCommand,
  CreateTagsCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplateVersionsCommand,
} from '@aws-sdk/client-ec2';
import { Tags } from '../domain/contract';
import type { FleetInstance } from '../domain/rollout';
import { aws, errorName } from './errors';
import { autoScaling, ec2 } from './clients';
import { targetHealthIn } from './load-balancing';

export interface ManagedGroup {
  readonly fleet: string;
  readonly channel: string;
  readonly group: AutoScalingGroup;
}

export function tagValue(group: AutoScalingGroup, key: string): string | undefined {
  return group.Tags?.find((t) => t.Key === key)?.Value?.trim();
}

function toManaged(group: AutoScalingGroup): ManagedGroup | undefined {
  const fleet = tagValue(group, Tags.fleet);
  if (fleet === undefined || fleet === '') return undefined;
  const channel = tagValue(group, Tags.channel);
  return { fleet, channel: channel === undefined || channel === '' ? fleet : channel, group };
}

/** The groups matching `filters`, 100 per call (every page). */
export async function describeGroups(filters: Filter[]): Promise<AutoScalingGroup[]> {
  const groups: AutoScalingGroup[] = [];
  let token: string | undefined;
  do {
    const page = await aws('DescribeAutoScalingGroups', () =>
      autoScaling().send(
        new DescribeAutoScalingGroupsCommand({ Filters: filters, MaxRecords: 100, NextToken: token }),
      ),
    );
    groups.push(...(page.AutoScalingGroups ?? []));
    token = page.NextToken;
  } while (token);
  return groups;
}

/** Every managed group (tagged `phoenix:fleet`), by fleet then group name. */
export async function managedGroups(): Promise<ManagedGroup[]> {
  const groups = await describeGroups([{ Name: 'tag-key', Values: [Tags.fleet] }]);
  return groups
    .map(toManaged)
    .filter((m): m is ManagedGroup => m !== undefined)
    .sort(
      (a, b) =>
        a.fleet.localeCompare(b.fleet) ||
        (a.group.AutoScalingGroupName ?? '').localeCompare(b.group.AutoScalingGroupName ?? ''),
    );
}

/** Every managed fleet (group tagged `phoenix:fleet`) whose channel is `channel`. */
export async function fleetsFollowing(channel: string): Promise<ManagedGroup[]> {
  const groups = await describeGroups([{ Name: 'tag-key', Values: [Tags.fleet] }]);
  return groups
    .map(toManaged)
    .filter((m): m is ManagedGroup => m !== undefined && m.channel === channel)
    .sort((a, b) => a.fleet.localeCompare(b.fleet));
}

/** Every managed fleet that follows the golden-AMI parameter `name` (tag `phoenix:image-parameter`). */
export async function fleetsFollowingParameter(name: string): Promise<ManagedGroup[]> {
  const groups = await describeGroups([{ Name: `tag:${Tags.imageParameter}`, Values: [name] }]);
  return groups
    .filter((g) => tagValue(g, Tags.imageParameter) === name)
    .map(toManaged)
    .filter((m): m is ManagedGroup => m !== undefined)
    .sort((a, b) => a.fleet.localeCompare(b.fleet));
}

/**
 * The managed fleet of each instance (50 instances per call), or undefined for an instance in no
 * Auto Scaling group or in a group without the `phoenix:fleet` tag.
 */
export async function fleetsOfInstances(
  instanceIds: readonly string[],
): Promise<Map<string, ManagedGroup | undefined>> {
  const groupOf = new Map<string, string>();
  for (let i = 0; i < instanceIds.length; i += 50) {
    const chunk = instanceIds.slice(i, i + 50);
    let token: string | undefined;
    do {
      const page = await aws('DescribeAutoScalingInstances', () =>
        autoScaling().send(new DescribeAutoScalingInstancesCommand({ InstanceIds: chunk, NextToken: token })),
      );
      for (const instance of page.AutoScalingInstances ?? []) {
        if (instance.InstanceId && instance.AutoScalingGroupName)
          groupOf.set(instance.InstanceId, instance.AutoScalingGroupName);
      }
      token = page.NextToken;
    } while (token);
  }
  const names = [...new Set(groupOf.values())];
  const managed = new Map<string, ManagedGroup | undefined>();
  for (let i = 0; i < names.length; i += 100) {
    const page = await aws('DescribeAutoScalingGroups', () =>
      autoScaling().send(
        new DescribeAutoScalingGroupsCommand({
          AutoScalingGroupNames: names.slice(i, i + 100),
          MaxRecords: 100,
        }),
      ),
    );
    for (const group of page.AutoScalingGroups ?? [])
      managed.set(group.AutoScalingGroupName!, toManaged(group));
  }
  return new Map(instanceIds.map((id) => [id, groupOf.has(id) ? managed.get(groupOf.get(id)!) : undefined]));
}

/** The groups tagged `phoenix:fleet=<fleet>`. */
export async function groupsOfFleet(fleet: string): Promise<ManagedGroup[]> {
  const groups = await describeGroups([{ Name: `tag:${Tags.fleet}`, Values: [fleet] }]);
  return groups.map(toManaged).filter((m): m is ManagedGroup => m !== undefined && m.fleet === fleet);
}

/** One group by name, re-read. */
export async function describeGroup(groupName: string): Promise<AutoScalingGroup | undefined> {
  const page = await aws('DescribeAutoScalingGroups', () =>
    autoScaling().send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [groupName] })),
  );
  return page.AutoScalingGroups?.[0];
}

/** The group's instances with their images (from EC2, 1000 ids per call). */
export async function fleetInstances(group: AutoScalingGroup): Promise<FleetInstance[]> {
  const members = group.Instances ?? [];
  const details = new Map<string, { imageId?: string; launchTime?: Date }>();
  const ids = members.map((m) => m.InstanceId).filter((id): id is string => id !== undefined);
  for (let i = 0; i < ids.length; i += 1000) {
    const chunk = ids.slice(i, i + 1000);
    let token: string | undefined;
    do {
      const page = await aws('DescribeInstances', () =>
        ec2().send(new DescribeInstancesCommand({ InstanceIds: chunk, NextToken: token })),
      );
      for (const reservation of page.Reservations ?? []) {
        for (const instance of reservation.Instances ?? []) {
          if (instance.InstanceId) {
            details.set(instance.InstanceId, { imageId: instance.ImageId, launchTime: instance.LaunchTime });
          }
        }
      }
      token = page.NextToken;
    } while (token);
  }
  return members
    .filter((m) => m.InstanceId !== undefined)
    .map((m) => {
      const d = details.get(m.InstanceId!);
      return {
        instanceId: m.InstanceId!,
        ...(d?.imageId !== undefined ? { imageId: d.imageId } : {}),
        ...(d?.launchTime !== undefined ? { launchTime: d.launchTime } : {}),
        lifecycleState: m.LifecycleState ?? 'Unknown',
        healthStatus: m.HealthStatus ?? 'Unknown',
      };
    });
}

/**
 * The group's instances as `fleetInstances` reads them, each InService and Healthy one also asked
 * about in the group's target groups (`inTargetGroups`, `targetsInitial`: one DescribeTargetHealth
 * per target group), so that `isServing` counts what a load balancer serves from. What every floor
 * guard reads.
 */
export async function servingInstances(group: AutoScalingGroup): Promise<FleetInstance[]> {
  const instances = await fleetInstances(group);
  const arns = group.TargetGroupARNs ?? [];
  if (arns.length === 0) return instances;
  const candidates = instances.filter(
    (i) => i.lifecycleState === 'InService' && i.healthStatus === 'Healthy',
  );
  const { healthy, initial } = await targetHealthIn(
    arns,
    candidates.map((i) => i.instanceId),
  );
  const asked = new Set(candidates.map((i) => i.instanceId));
  return instances.map((i) =>
    asked.has(i.instanceId)
      ? {
          ...i,
          inTargetGroups: healthy.has(i.instanceId),
          ...(initial.has(i.instanceId) ? { targetsInitial: true } : {}),
        }
      : i,
  );
}

export interface ImageFacts {
  readonly imageId: string;
  readonly state: string;
  readonly name?: string;
  readonly creationDate?: string;
  readonly ownerId?: string;
  readonly ownerAlias?: string;
  readonly architecture?: string;
  readonly virtualizationType?: string;
  readonly deprecationTime?: string;
  readonly tags: Record<string, string>;
}

/** The image, or undefined when EC2 does not know it (or the id is malformed). */
export async function describeImage(imageId: string): Promise<ImageFacts | undefined> {
  try {
    const page = await aws('DescribeImages', () =>
      ec2().send(new DescribeImagesCommand({ ImageIds: [imageId] })),
    );
    const image = page.Images?.[0];
    if (!image?.ImageId) return undefined;
    const tags: Record<string, string> = {};
    for (const t of image.Tags ?? []) if (t.Key !== undefined) tags[t.Key] = t.Value ?? '';
    return {
      imageId: image.ImageId,
      state: image.State ?? 'unknown',
      ...(image.Name !== undefined ? { name: image.Name } : {}),
      ...(image.CreationDate !== undefined ? { creationDate: image.CreationDate } : {}),
      ...(image.OwnerId !== undefined ? { ownerId: image.OwnerId } : {}),
      ...(image.ImageOwnerAlias !== undefined ? { ownerAlias: image.ImageOwnerAlias } : {}),
      ...(image.Architecture !== undefined ? { architecture: image.Architecture } : {}),
      ...(image.VirtualizationType !== undefined ? { virtualizationType: image.VirtualizationType } : {}),
      ...(image.DeprecationTime !== undefined ? { deprecationTime: image.DeprecationTime } : {}),
      tags,
    };
  } catch (error) {
    const name = errorName(error) ?? '';
    if (
      name === 'InvalidAMIID.NotFound' ||
      name === 'InvalidAMIID.Malformed' ||
      name === 'InvalidAMIID.Unavailable'
    ) {
      return undefined;
    }
    throw error;
  }
}

/** The AMI (in this account and region) that EC2 Image Builder built as `imageBuilderArn`. */
export async function imageOfBuild(imageBuilderArn: string): Promise<ImageFacts | undefined> {
  const page = await aws('DescribeImages', () =>
    ec2().send(
      new DescribeImagesCommand({
        Owners: ['self'],
        Filters: [{ Name: 'tag:Ec2ImageBuilderArn', Values: [imageBuilderArn] }],
      }),
    ),
  );
  const image = page.Images?.sort((a, b) => (b.CreationDate ?? '').localeCompare(a.CreationDate ?? ''))[0];
  return image?.ImageId ? describeImage(image.ImageId) : undefined;
}

/** A launch template version's number and image. `version` may be `$Latest`, `$Default` or a number. */
export async function describeLaunchTemplateVersion(
  launchTemplateId: string,
  version: string,
): Promise<{ versionNumber: number; imageId?: string }> {
  const page = await aws('DescribeLaunchTemplateVersions', () =>
    ec2().send(
      new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: launchTemplateId, Versions: [version] }),
    ),
  );
  const found = page.LaunchTemplateVersions?.[0];
  if (found?.VersionNumber === undefined) {
    throw new Error(`launch template ${launchTemplateId} has no version ${version}`);
  }
  return {
    versionNumber: found.VersionNumber,
    ...(found.LaunchTemplateData?.ImageId !== undefined ? { imageId: found.LaunchTemplateData.ImageId } : {}),
  };
}

/**
 * EC2's idempotency token (at most 64 ASCII characters): `value` itself when it fits, else its
 * SHA-256 in hex, so that two long execution names sharing their first 64 characters never share
 * a token (AWS would answer the first call's version, or IdempotentParameterMismatch).
 */
export function clientToken(value: string): string {
  return value.length <= 64 ? value : createHash('sha256').update(value).digest('hex');
}

/** A new launch template version: the source version with another image. Idempotent by `clientToken`. */
export async function createLaunchTemplateVersion(args: {
  launchTemplateId: string;
  sourceVersion: string;
  imageId: string;
  description: string;
  clientToken: string;
}): Promise<number> {
  const result = await aws('CreateLaunchTemplateVersion', () =>
    ec2().send(
      new CreateLaunchTemplateVersionCommand({
        LaunchTemplateId: args.launchTemplateId,
        SourceVersion: args.sourceVersion,
        VersionDescription: args.description.slice(0, 255),
        ClientToken: clientToken(args.clientToken),
        LaunchTemplateData: { ImageId: args.imageId },
      }),
    ),
  );
  const version = result.LaunchTemplateVersion?.VersionNumber;
  if (version === undefined)
    throw new Error(`CreateLaunchTemplateVersion returned no version for ${args.launchTemplateId}`);
  return version;
}

export async function updateGroup(args: {
  groupName: string;
  launchTemplate?: { id: string; version: string };
  desiredCapacity?: number;
  maxSize?: number;
}): Promise<void> {
  await aws('UpdateAutoScalingGroup', () =>
    autoScaling().send(
      new UpdateAutoScalingGroupCommand({
        AutoScalingGroupName: args.groupName,
        ...(args.launchTemplate
          ? {
              LaunchTemplate: {
                LaunchTemplateId: args.launchTemplate.id,
                Version: args.launchTemplate.version,
              },
            }
          : {}),
        ...(args.desiredCapacity !== undefined ? { DesiredCapacity: args.desiredCapacity } : {}),
        ...(args.maxSize !== undefined ? { MaxSize: args.maxSize } : {}),
      }),
    ),
  );
}

export async function setDesiredCapacity(groupName: string, desiredCapacity: number): Promise<void> {
  await aws('SetDesiredCapacity', () =>
    autoScaling().send(
      new SetDesiredCapacityCommand({
        AutoScalingGroupName: groupName,
        DesiredCapacity: desiredCapacity,
        HonorCooldown: false,
      }),
    ),
  );
}

/** Suspend scaling processes of a group (Auto Scaling SuspendProcesses); none given: nothing. */
export async function suspendProcesses(groupName: string, processes: readonly string[]): Promise<void> {
  if (processes.length === 0) return;
  await aws('SuspendProcesses', () =>
    autoScaling().send(
      new SuspendProcessesCommand({ AutoScalingGroupName: groupName, ScalingProcesses: [...processes] }),
    ),
  );
}

/** Resume scaling processes of a group (Auto Scaling ResumeProcesses); none given: nothing. */
export async function resumeProcesses(groupName: string, processes: readonly string[]): Promise<void> {
  if (processes.length === 0) return;
  await aws('ResumeProcesses', () =>
    autoScaling().send(
      new ResumeProcessesCommand({ AutoScalingGroupName: groupName, ScalingProcesses: [...processes] }),
    ),
  );
}

/** Terminate one instance of a group, lowering its desired capacity by one (no replacement). */
export async function retireInstance(instanceId: string): Promise<void> {
  return terminateInstance(instanceId, true);
}

/** Tag one instance (EC2 CreateTags). */
export async function tagInstance(instanceId: string, key: string, value: string): Promise<void> {
  await aws('CreateTags', () =>
    ec2().send(new CreateTagsCommand({ Resources: [instanceId], Tags: [{ Key: key, Value: value }] })),
  );
}

/**
 * Terminate one instance of a group; with `decrement`, its desired capacity goes down by one (no
 * replacement), without, the group launches a replacement from its launch template.
 */
export async function terminateInstance(instanceId: string, decrement: boolean): Promise<void> {
  try {
    await aws('TerminateInstanceInAutoScalingGroup', () =>
      autoScaling().send(
        new TerminateInstanceInAutoScalingGroupCommand({
          InstanceId: instanceId,
          ShouldDecrementDesiredCapacity: decrement,
        }),
      ),
    );
  } catch (error) {
    // Already gone (a retried step, or Auto Scaling got there first): the goal is reached.
    if (
      errorName(error) === 'ValidationError' &&
      /not found|does not exist|no instance/i.test(String((error as Error).message))
    ) {
      return;
    }
    throw error;
  }
}
