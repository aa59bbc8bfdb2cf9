/**
 * The reconcile sweep (EC2 + Auto Scaling + DynamoDB + Step Functions + EventBridge): every managed
 * fleet's actual state against its desired state (see domain/reconcile.ts), each instance
 * difference handed to a Replace execution under the same deterministic name as the event path
 * (`replaceExecutionName`: the budget and dedupe apply), desired images that are gone reported
 * (`DesiredImageMissing`), instances with a fleet's tag outside its groups reported
 * (`StrayInstance`), slots of dead replacements reclaimed, and `ReconcileCompleted`.
 *
 * Describe calls are batched (100 groups, 1000 instances, 1000 images per call) and paginated,
 * fleet records read 100 per BatchGetItem; every request sent is counted (`apiCalls`, SDK retries
 * included: see aws/call-counter.ts).
 */
import * as clock from '../domain/clock';
import { type AutoScalingGroup, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import {
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplateVersionsCommand,
} from '@aws-sdk/client-ec2';
import { DetailTypes, Tags } from '../domain/contract';
import type { FleetRecord, ObservedLaunchTemplate } from '../domain/fleet-record';
import { circuitSettings } from '../domain/circuit';
import {
  chunks,
  circuitHolds,
  type Difference,
  fleetDifferences,
  type InstanceDifference,
  isVersionNumber,
  type ObservedInstance,
  staleSlots,
  strayInstances,
  type TaggedInstance,
} from '../domain/reconcile';
import { drainHookAction } from '../domain/drain';
import { replaceExecutionName } from '../domain/replace';
import { aws } from '../aws/errors';
import { countingCalls, totalCalls } from '../aws/call-counter';
import { autoScaling, dynamo, ec2, eventBridge, stepFunctions } from '../aws/clients';
import { startReplace } from '../aws/executions';
import { tagValue } from '../aws/fleets';
import { drainHookHeartbeat, putDrainHook, recordDrainHook, removeDrainHook } from '../aws/hooks';
import { putOutcome } from '../aws/outcomes';
import { readFleetRecords, recordObservedLaunchTemplate } from '../aws/store/fleet-records';
import { releaseSlot } from '../aws/store/replacement-slots';

export interface ReconcileRequest {
  /** Only this fleet (the CLI); default every managed fleet. */
  readonly fleet?: string;
  readonly now?: Date;
  /** The Replace workflow's timeout: a slot held longer belongs to a dead execution. Default 3600. */
  readonly replaceTimeoutSeconds?: number;
  /** Start Replace executions and reclaim slots (default true); false: only report. */
  readonly act?: boolean;
}

export interface ReconcileReport {
  readonly fleets: number;
  readonly instances: number;
  readonly differences: number;
  /** Replace executions started (a duplicate name starts nothing and is not counted). */
  readonly started: number;
  /** Every AWS request the sweep sent (SDK retries included). */
  readonly apiCalls: number;
  readonly calls: Readonly<Record<string, number>>;
  readonly details: readonly (Difference & { execution?: string; duplicate?: boolean })[];
  readonly reclaimedSlots: readonly { fleet: string; instanceId: string; execution: string; since: string }[];
  /** Fleets skipped because they are paused (`phoenix pause`): nothing was started for them. */
  readonly pausedFleets: readonly { fleet: string; since: string; reason: string }[];
  /** Termination hooks (`phoenix-drain`) installed or removed by this sweep. */
  readonly hooks?: readonly {
    groupName: string;
    action: 'installed' | 'removed';
    heartbeatSeconds?: number;
  }[];
}

/**
 * Install or remove the hook where the group's tags say so: one DescribeLifecycleHooks per group
 * that names a flush document, none for the others (the record tag says where one is to remove).
 */
async function syncDrainHooks(groups: readonly AutoScalingGroup[]) {
  const changed: { groupName: string; action: 'installed' | 'removed'; heartbeatSeconds?: number }[] = [];
  for (const g of groups) {
    const groupName = g.AutoScalingGroupName!;
    const action = drainHookAction(
      tagValue(g, Tags.flushDocument),
      tagValue(g, Tags.flushTimeoutSeconds),
      tagValue(g, Tags.drainHook),
    );
    if (action === undefined) continue;
    if ('ensure' in action) {
      if ((await drainHookHeartbeat(groupName)) !== action.ensure) {
        await putDrainHook(groupName, action.ensure);
        changed.push({ groupName, action: 'installed', heartbeatSeconds: action.ensure });
      }
      if (!action.recorded) await recordDrainHook(groupName, action.ensure);
    } else {
      await removeDrainHook(groupName);
      changed.push({ groupName, action: 'removed' });
    }
  }
  return changed;
}

export async function runReconcile(request: ReconcileRequest = {}): Promise<ReconcileReport> {
  const { result, calls } = await countingCalls(
    [autoScaling(), ec2(), dynamo(), stepFunctions(), eventBridge()],
    (counts) => sweep(request, counts),
  );
  return { ...result, calls, apiCalls: totalCalls(calls) };
}

async function sweep(
  request: ReconcileRequest,
  counts: Readonly<Record<string, number>>,
): Promise<Omit<ReconcileReport, 'calls' | 'apiCalls'>> {
  const now = request.now ?? clock.now();
  const act = request.act ?? true;
  const count = <T>(what: string, call: () => Promise<T>) => aws(what, call);

  // 1. The managed groups, 100 per call.
  const groups: AutoScalingGroup[] = [];
  let token: string | undefined;
  const filters =
    request.fleet !== undefined
      ? [{ Name: `tag:${Tags.fleet}`, Values: [request.fleet] }]
      : [{ Name: 'tag-key', Values: [Tags.fleet] }];
  do {
    const page = await count('DescribeAutoScalingGroups', () =>
      autoScaling().send(
        new DescribeAutoScalingGroupsCommand({ Filters: filters, MaxRecords: 100, NextToken: token }),
      ),
    );
    groups.push(...(page.AutoScalingGroups ?? []));
    token = page.NextToken;
  } while (token);
  const byFleet = new Map<string, AutoScalingGroup[]>();
  for (const g of groups) {
    const fleet = tagValue(g, Tags.fleet);
    if (fleet === undefined || fleet === '') continue;
    byFleet.set(fleet, [...(byFleet.get(fleet) ?? []), g]);
  }

  // 2. Their instances' images and taint tags, 1000 ids per call.
  const members = [...byFleet.values()].flat().flatMap((g) =>
    (g.Instances ?? [])
      .filter((i) => i.InstanceId !== undefined)
      .map((i) => ({
        instanceId: i.InstanceId!,
        groupName: g.AutoScalingGroupName!,
        lifecycleState: i.LifecycleState ?? 'Unknown',
      })),
  );
  const ec2Facts = new Map<string, { imageId?: string; tainted?: string; launchTime?: string }>();
  for (const ids of chunks(
    members.map((m) => m.instanceId),
    1000,
  )) {
    let next: string | undefined;
    do {
      const page = await count('DescribeInstances', () =>
        ec2().send(new DescribeInstancesCommand({ InstanceIds: ids, NextToken: next })),
      );
      for (const r of page.Reservations ?? [])
        for (const i of r.Instances ?? []) {
          if (!i.InstanceId) continue;
          const tainted = i.Tags?.find((t) => t.Key === Tags.tainted)?.Value;
          ec2Facts.set(i.InstanceId, {
            ...(i.ImageId !== undefined ? { imageId: i.ImageId } : {}),
            ...(tainted !== undefined ? { tainted } : {}),
            ...(i.LaunchTime !== undefined ? { launchTime: i.LaunchTime.toISOString() } : {}),
          });
        }
      next = page.NextToken;
    } while (next);
  }

  // 2b. Instances that carry a fleet's tag but were not launched by Auto Scaling (1000 per page).
  const tagged: TaggedInstance[] = [];
  let nextTagged: string | undefined;
  do {
    const page = await count('DescribeInstances', () =>
      ec2().send(
        new DescribeInstancesCommand({
          Filters: [
            request.fleet !== undefined
              ? { Name: `tag:${Tags.fleet}`, Values: [request.fleet] }
              : { Name: 'tag-key', Values: [Tags.fleet] },
            { Name: 'instance-state-name', Values: ['pending', 'running'] },
          ],
          MaxResults: 1000,
          NextToken: nextTagged,
        }),
      ),
    );
    for (const r of page.Reservations ?? [])
      for (const i of r.Instances ?? []) {
        const fleet = i.Tags?.find((t) => t.Key === Tags.fleet)?.Value;
        if (!i.InstanceId || fleet === undefined) continue;
        const group = i.Tags?.find((t) => t.Key === 'aws:autoscaling:groupName')?.Value;
        tagged.push({
          instanceId: i.InstanceId,
          fleet,
          ...(group !== undefined ? { autoScalingGroup: group } : {}),
        });
      }
    nextTagged = page.NextToken;
  } while (nextTagged);
  const strays = strayInstances(tagged, new Set(members.map((m) => m.instanceId)), new Set(byFleet.keys()));

  // 3. The fleet records (desired image, rollout, slots), 100 per call.
  const records =
    byFleet.size === 0
      ? new Map<string, FleetRecord | undefined>()
      : await readFleetRecords([...byFleet.keys()]);

  // 4. Do the desired images still exist? 1000 per call, by filter (a missing id is no error).
  const desired = [
    ...new Set([...records.values()].map((r) => r?.desiredImage).filter((i) => i !== undefined)),
  ];
  const existing = new Set<string>();
  for (const ids of chunks(desired, 1000)) {
    let next: string | undefined;
    do {
      const page = await count('DescribeImages', () =>
        ec2().send(
          new DescribeImagesCommand({ Filters: [{ Name: 'image-id', Values: ids }], NextToken: next }),
        ),
      );
      for (const image of page.Images ?? []) if (image.ImageId) existing.add(image.ImageId);
      next = page.NextToken;
    } while (next);
  }

  // 4a. The launch template version each group launches, with its creation time: from the fleet
  // record, or (once per new version, then remembered there) DescribeLaunchTemplateVersions.
  const groupTemplates = new Map<string, ObservedLaunchTemplate>();
  for (const [fleet, fleetGroups] of byFleet) {
    const record = records.get(fleet);
    for (const g of fleetGroups) {
      const id = g.LaunchTemplate?.LaunchTemplateId;
      const version = g.LaunchTemplate?.Version;
      if (id === undefined || !isVersionNumber(version)) continue;
      const known = record?.observedLaunchTemplate;
      if (known !== undefined && known.id === id && known.version === version) {
        groupTemplates.set(g.AutoScalingGroupName!, known);
        continue;
      }
      const page = await count('DescribeLaunchTemplateVersions', () =>
        ec2().send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: id, Versions: [version] })),
      );
      const created = page.LaunchTemplateVersions?.[0]?.CreateTime;
      if (created === undefined) continue;
      const observed = { id, version, createdAt: created.toISOString() };
      groupTemplates.set(g.AutoScalingGroupName!, observed);
      if (act && record !== undefined) await recordObservedLaunchTemplate(fleet, observed);
    }
  }

  // 4b. The termination lifecycle hook phoenix-drain follows the tag phoenix:flush-document.
  const hooks = act ? await syncDrainHooks([...byFleet.values()].flat()) : [];

  // 5. Decide, then act.
  const details: (Difference & { execution?: string; duplicate?: boolean })[] = [];
  const reclaimed: ReconcileReport['reclaimedSlots'][number][] = [];
  let started = 0;
  const pausedFleets: ReconcileReport['pausedFleets'][number][] = [];
  for (const [fleet, fleetGroups] of byFleet) {
    const record = records.get(fleet);
    if (record?.paused !== undefined) {
      // `phoenix pause`: nothing starts for the fleet; `phoenix resume` sweeps it again.
      pausedFleets.push({ fleet, since: record.paused.at, reason: record.paused.reason });
      continue;
    }
    const windowSeconds = circuitSettings(
      { tag: Tags.circuitThreshold, value: tagValue(fleetGroups[0]!, Tags.circuitThreshold) },
      { tag: Tags.circuitWindowSeconds, value: tagValue(fleetGroups[0]!, Tags.circuitWindowSeconds) },
    ).windowSeconds;
    const instances: ObservedInstance[] = members
      .filter((m) => byFleet.get(fleet)!.some((g) => g.AutoScalingGroupName === m.groupName))
      .map((m) => {
        const lt = groupTemplates.get(m.groupName);
        return {
          ...m,
          ...ec2Facts.get(m.instanceId),
          ...(lt !== undefined ? { groupLaunchTemplate: lt } : {}),
        };
      });
    const differences = fleetDifferences(
      {
        fleet,
        ...(record ? { record } : {}),
        instances,
        ...(record?.desiredImage !== undefined
          ? { desiredImageExists: existing.has(record.desiredImage) }
          : {}),
      },
      now,
    );
    for (const d of strays.filter((x) => x.fleet === fleet)) {
      details.push(d);
      if (act) {
        await putOutcome(DetailTypes.StrayInstance, {
          fleet,
          instanceId: d.instanceId,
          reason: d.reason,
        });
      }
    }
    for (const d of differences) {
      if (d.kind === 'stray-instance') continue;
      if (d.kind === 'desired-image-missing') {
        details.push(d);
        if (act) {
          await putOutcome(DetailTypes.DesiredImageMissing, {
            fleet,
            imageId: d.desiredImage,
            reason: d.reason,
          });
        }
        continue;
      }
      const execution = replaceExecutionName(fleet, d.instanceId);
      if (!act) {
        details.push({ ...d, execution });
        continue;
      }
      // An attempt that ended without replacing the instance is followed by the next one, except
      // while the fleet's circuit holds open (it would only be skipped again).
      const result = await startReplace(execution, replaceInput(d, now), {
        reattempt: !circuitHolds(record, now, windowSeconds),
      });
      if (!result.duplicate) started++;
      details.push({ ...d, execution: result.execution, duplicate: result.duplicate });
    }
    for (const slot of staleSlots(record, now, request.replaceTimeoutSeconds ?? 3600)) {
      if (act) {
        await releaseSlot({ fleet, instanceId: slot.instanceId, execution: slot.execution, now });
      }
      reclaimed.push({ fleet, ...slot });
    }
  }

  const report = {
    fleets: byFleet.size,
    instances: members.length,
    differences: details.length,
    started,
    details,
    reclaimedSlots: reclaimed,
    pausedFleets,
    ...(hooks.length > 0 ? { hooks } : {}),
  };
  if (act) {
    // Every request so far, and this PutEvents itself.
    await putOutcome(DetailTypes.ReconcileCompleted, {
      fleets: report.fleets,
      instances: report.instances,
      differences: report.differences,
      started,
      apiCalls: totalCalls(counts) + 1,
      reclaimedSlots: reclaimed.length,
      ...(pausedFleets.length > 0 ? { pausedFleets: pausedFleets.map((p) => p.fleet) } : {}),
      ...(request.fleet !== undefined ? { fleet: request.fleet } : {}),
    });
  }
  return report;
}

function replaceInput(d: InstanceDifference, now: Date) {
  return {
    fleet: d.fleet,
    instanceId: d.instanceId,
    cause: d.cause,
    reason: d.reason,
    requestId: `reconcile-${now.toISOString()}`,
  };
}
