/**
 * The reconcile sweep, phase 1: read the world. The managed groups, their instances' images and
 * taint tags, the instances that carry a fleet's tag outside any group, the fleet records, which
 * desired images still exist and the launch template version each group launches. Describe calls
 * are batched (100 groups, 1000 instances, 1000 images per call) and paginated; the calls and their
 * order are the sweep's (test/integration/reconcile*.test.ts count them).
 */
import type { AutoScalingGroup } from '@aws-sdk/client-auto-scaling';
import {
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplateVersionsCommand,
} from '@aws-sdk/client-ec2';
import { Tags } from '../../domain/contract';
import type { FleetRecord, ObservedLaunchTemplate } from '../../domain/fleet-record';
import {
  chunks,
  isVersionNumber,
  type StrayInstance,
  strayInstances,
  type TaggedInstance,
} from '../../domain/reconcile';
import { isAmiId } from '../../domain/ids';
import { aws } from '../../aws/errors';
import { ec2 } from '../../aws/clients';
import { describeGroups, tagValue } from '../../aws/fleets';
import { readFleetRecords, recordObservedLaunchTemplate } from '../../aws/store/fleet-records';

/** An instance of a managed group, as Auto Scaling reports it. */
export interface GroupMember {
  readonly instanceId: string;
  readonly groupName: string;
  /** The group's lifecycle state (InService, Pending, Terminating…). */
  readonly lifecycleState: string;
}

/** What EC2 says of a member instance. */
export interface InstanceFacts {
  readonly imageId?: string;
  /** The value of `phoenix:tainted`, if any. */
  readonly tainted?: string;
  /** ISO-8601. */
  readonly launchTime?: string;
}

/** Everything the sweep decides from. */
export interface ObservedWorld {
  /** The managed groups by the value of their `phoenix:fleet` tag (an empty value is no fleet). */
  readonly groupsByFleet: ReadonlyMap<string, readonly AutoScalingGroup[]>;
  /** Every group's instances, fleet by fleet, group by group. */
  readonly members: readonly GroupMember[];
  readonly instanceFacts: ReadonlyMap<string, InstanceFacts>;
  /** Instances with a managed fleet's tag that no group launched. */
  readonly strays: readonly StrayInstance[];
  /** The fleet record of each fleet in `groupsByFleet` (undefined: none). */
  readonly records: ReadonlyMap<string, FleetRecord | undefined>;
  /** The fleets' desired images that still exist. */
  readonly existingImages: ReadonlySet<string>;
  /** The launch template version (with its creation time) each group launches, by group name. */
  readonly groupTemplates: ReadonlyMap<string, ObservedLaunchTemplate>;
}

/**
 * Read the world of one fleet (`fleet`) or of every managed fleet. With `act`, a launch template
 * version seen for the first time is remembered in the fleet record (so it is described once).
 */
export async function observeWorld(fleet: string | undefined, act: boolean): Promise<ObservedWorld> {
  const groupsByFleet = byFleet(await describeManagedGroups(fleet));
  const members = groupMembers(groupsByFleet);
  const instanceFacts = await describeMemberInstances(members);
  const strays = strayInstances(
    await describeFleetTaggedInstances(fleet),
    new Set(members.map((m) => m.instanceId)),
    new Set(groupsByFleet.keys()),
  );
  const records =
    groupsByFleet.size === 0
      ? new Map<string, FleetRecord | undefined>()
      : await readFleetRecords([...groupsByFleet.keys()]);
  const existingImages = await describeExistingImages([
    ...new Set([...records.values()].map((r) => r?.desiredImage).filter((i) => i !== undefined)),
  ]);
  const groupTemplates = await groupLaunchTemplates(groupsByFleet, records, act);
  return { groupsByFleet, members, instanceFacts, strays, records, existingImages, groupTemplates };
}

/** The filter that selects one fleet's resources, or every managed fleet's. */
function fleetFilter(fleet: string | undefined) {
  return fleet !== undefined
    ? { Name: `tag:${Tags.fleet}`, Values: [fleet] }
    : { Name: 'tag-key', Values: [Tags.fleet] };
}

/** The managed groups, 100 per call. */
function describeManagedGroups(fleet: string | undefined): Promise<AutoScalingGroup[]> {
  return describeGroups([fleetFilter(fleet)]);
}

function byFleet(groups: readonly AutoScalingGroup[]): Map<string, AutoScalingGroup[]> {
  const out = new Map<string, AutoScalingGroup[]>();
  for (const g of groups) {
    const fleet = tagValue(g, Tags.fleet);
    if (fleet === undefined || fleet === '') continue;
    out.set(fleet, [...(out.get(fleet) ?? []), g]);
  }
  return out;
}

function groupMembers(groupsByFleet: ReadonlyMap<string, readonly AutoScalingGroup[]>): GroupMember[] {
  return [...groupsByFleet.values()].flat().flatMap((g) =>
    (g.Instances ?? [])
      .filter((i) => i.InstanceId !== undefined)
      .map((i) => ({
        instanceId: i.InstanceId!,
        groupName: g.AutoScalingGroupName!,
        lifecycleState: i.LifecycleState ?? 'Unknown',
      })),
  );
}

/** The members' images, taint tags and launch times, 1000 ids per call. */
async function describeMemberInstances(members: readonly GroupMember[]): Promise<Map<string, InstanceFacts>> {
  const facts = new Map<string, InstanceFacts>();
  for (const ids of chunks(
    members.map((m) => m.instanceId),
    1000,
  )) {
    let next: string | undefined;
    do {
      const page = await aws('DescribeInstances', () =>
        ec2().send(new DescribeInstancesCommand({ InstanceIds: ids, NextToken: next })),
      );
      for (const r of page.Reservations ?? [])
        for (const i of r.Instances ?? []) {
          if (!i.InstanceId) continue;
          const tainted = i.Tags?.find((t) => t.Key === Tags.tainted)?.Value;
          facts.set(i.InstanceId, {
            ...(i.ImageId !== undefined ? { imageId: i.ImageId } : {}),
            ...(tainted !== undefined ? { tainted } : {}),
            ...(i.LaunchTime !== undefined ? { launchTime: i.LaunchTime.toISOString() } : {}),
          });
        }
      next = page.NextToken;
    } while (next);
  }
  return facts;
}

/** Pending or running instances that carry a fleet's tag, with their group tag if any (1000 per page). */
async function describeFleetTaggedInstances(fleet: string | undefined): Promise<TaggedInstance[]> {
  const tagged: TaggedInstance[] = [];
  let next: string | undefined;
  do {
    const page = await aws('DescribeInstances', () =>
      ec2().send(
        new DescribeInstancesCommand({
          Filters: [fleetFilter(fleet), { Name: 'instance-state-name', Values: ['pending', 'running'] }],
          MaxResults: 1000,
          NextToken: next,
        }),
      ),
    );
    for (const r of page.Reservations ?? [])
      for (const i of r.Instances ?? []) {
        const fleetTag = i.Tags?.find((t) => t.Key === Tags.fleet)?.Value;
        if (!i.InstanceId || fleetTag === undefined) continue;
        const group = i.Tags?.find((t) => t.Key === 'aws:autoscaling:groupName')?.Value;
        tagged.push({
          instanceId: i.InstanceId,
          fleet: fleetTag,
          ...(group !== undefined ? { autoScalingGroup: group } : {}),
        });
      }
    next = page.NextToken;
  } while (next);
  return tagged;
}

/** Which of `images` still exist: 1000 per call, by filter (a missing id is no error). */
async function describeExistingImages(images: readonly string[]): Promise<Set<string>> {
  const existing = new Set<string>();
  for (const ids of chunks(images, 1000)) {
    let next: string | undefined;
    do {
      const page = await aws('DescribeImages', () =>
        ec2().send(
          new DescribeImagesCommand({ Filters: [{ Name: 'image-id', Values: ids }], NextToken: next }),
        ),
      );
      for (const image of page.Images ?? []) if (image.ImageId) existing.add(image.ImageId);
      next = page.NextToken;
    } while (next);
  }
  return existing;
}

/**
 * The launch template version each group launches, with its creation time: from the fleet record,
 * or (once per new version, then remembered there when `act`) DescribeLaunchTemplateVersions.
 */
async function groupLaunchTemplates(
  groupsByFleet: ReadonlyMap<string, readonly AutoScalingGroup[]>,
  records: ReadonlyMap<string, FleetRecord | undefined>,
  act: boolean,
): Promise<Map<string, ObservedLaunchTemplate>> {
  const groupTemplates = new Map<string, ObservedLaunchTemplate>();
  for (const [fleet, fleetGroups] of groupsByFleet) {
    const record = records.get(fleet);
    for (const g of fleetGroups) {
      const id = g.LaunchTemplate?.LaunchTemplateId;
      const version = g.LaunchTemplate?.Version;
      if (id === undefined || !isVersionNumber(version)) continue;
      const known = record?.observedLaunchTemplate;
      // The version's image is needed only while the record has no desired image of its own.
      const needImage = record?.desiredImage === undefined;
      if (
        known !== undefined &&
        known.id === id &&
        known.version === version &&
        (!needImage || known.imageId !== undefined)
      ) {
        groupTemplates.set(g.AutoScalingGroupName!, known);
        continue;
      }
      const page = await aws('DescribeLaunchTemplateVersions', () =>
        ec2().send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: id, Versions: [version] })),
      );
      const created = page.LaunchTemplateVersions?.[0]?.CreateTime;
      if (created === undefined) continue;
      const imageId = page.LaunchTemplateVersions?.[0]?.LaunchTemplateData?.ImageId;
      const observed = {
        id,
        version,
        createdAt: created.toISOString(),
        ...(isAmiId(imageId) ? { imageId } : {}),
      };
      groupTemplates.set(g.AutoScalingGroupName!, observed);
      if (act && record !== undefined) await recordObservedLaunchTemplate(fleet, observed);
    }
  }
  return groupTemplates;
}
