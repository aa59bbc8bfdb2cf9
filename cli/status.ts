/**
 * `phoenix status [<fleet>]`: what Phoenix and AWS say about the
 * managed fleets, read from the real state: the fleet records (DynamoDB), the groups (Auto Scaling),
 * their instances' images (EC2) and, for a rollout in progress, its execution (Step Functions).
 *
 * The environment says where (see cli/target.ts). Nothing here writes anything.
 */
import { table, time } from './render';
import { DescribeExecutionCommand, GetExecutionHistoryCommand, SFNClient } from '@aws-sdk/client-sfn';
import type { AutoScalingGroup } from '@aws-sdk/client-auto-scaling';
import { Env, NAME_PATTERN, Tags } from '../lambdas/domain/contract';
import { ConfigurationError } from '../lambdas/domain/errors';
import type { FleetPause, FleetRecord, PinnedImage, RolloutQueue } from '../lambdas/domain/fleet-record';
import { fleetInstances, groupsOfFleet, type ManagedGroup, managedGroups } from '../lambdas/aws/fleets';
import { readFleetRecord } from '../lambdas/aws/store/fleet-records';
import { historyItem, type HistoryItem } from './history';

// `phoenix history` lives in cli/history.ts; re-exported here for the importers of before.
export { fleetHistory, renderHistory, type HistoryItem, type HistoryReport } from './history';

// ---- the reports (what --json prints) ----------------------------------------------------------

export interface ImageCount {
  /** null: EC2 did not say (the instance is gone). */
  readonly imageId: string | null;
  readonly count: number;
  readonly inService: number;
  /** Is this the fleet's target image (the one being rolled out, else the desired one)? */
  readonly desired: boolean;
}

export interface GroupStatus {
  readonly name: string;
  readonly channel: string;
  readonly desiredCapacity: number;
  readonly minSize: number;
  readonly maxSize: number;
  readonly instances: {
    /** Every instance the group lists, whatever its lifecycle state. */
    readonly total: number;
    /** On the target image (during a rollout: the new instances); null while it is unknown. */
    readonly onDesiredImage: number | null;
    readonly onOtherImages: number | null;
    /** Most instances first. */
    readonly byImage: readonly ImageCount[];
  };
}

export interface WorkflowView {
  /** The execution's status (RUNNING, SUCCEEDED…), null when it could not be read. */
  readonly status: string | null;
  /** The state it entered last, null when it could not be read. */
  readonly step: string | null;
  /** Why the status or the step is missing. */
  readonly note?: string;
  /**
   * The execution these describe when it is not the lock's: the lock's execution handed the
   * rollout to a continuation (continue-as-new) that has not taken the lock yet.
   */
  readonly continuedAs?: string;
}

export interface ActiveRolloutStatus {
  readonly execution: string;
  readonly imageId: string;
  readonly startedAt: string;
  /** ISO-8601: when the lock counts as abandoned. */
  readonly expiresAt: string;
  readonly expired: boolean;
  readonly workflow: WorkflowView;
  /** Present while the rollout waits for a global rollout slot (`maxConcurrentRollouts`). */
  readonly queued?: RolloutQueue;
}

export interface FleetStatus {
  readonly fleet: string;
  /** From the record, else the first group's tag. */
  readonly channel: string | null;
  /** From the fleet record; null when Phoenix has not rolled the fleet out yet (no record). */
  readonly desiredImage: string | null;
  readonly previousImage: string | null;
  /**
   * The image the fleet converges to: during a rollout the image being rolled out (its instances
   * count as on it), else the desired image.
   */
  readonly targetImage: string | null;
  readonly groups: readonly GroupStatus[];
  readonly activeRollout: ActiveRolloutStatus | null;
  /** The newest history entry. */
  readonly lastOutcome: HistoryItem | null;
  /** `phoenix pause`: since when and why; null when not paused. */
  readonly paused: FleetPause | null;
  /** Pinned by a rollback (until an explicit PublishImage or `phoenix unpin`); null when not. */
  readonly pinnedImage: PinnedImage | null;
}

export interface StatusReport {
  readonly fleets: readonly FleetStatus[];
}

// ---- reading -----------------------------------------------------------------------------------

export interface StatusOptions {
  /** Only this fleet. */
  readonly fleet?: string;
  /** Default `$PHOENIX_ROLLOUT_STATE_MACHINE_ARN`. */
  readonly stateMachineArn?: string;
  readonly now?: Date;
}

function checkFleetName(fleet: string): void {
  if (!NAME_PATTERN.test(fleet)) {
    throw new ConfigurationError(
      `not a fleet name: ${JSON.stringify(fleet)} (expected ${String(NAME_PATTERN)})`,
    );
  }
}

export async function fleetStatus(options: StatusOptions = {}): Promise<StatusReport> {
  const now = options.now ?? new Date();
  let groups: ManagedGroup[];
  if (options.fleet !== undefined) {
    checkFleetName(options.fleet);
    groups = await groupsOfFleet(options.fleet);
  } else {
    groups = await managedGroups();
  }
  const byFleet = new Map<string, ManagedGroup[]>();
  for (const g of groups) byFleet.set(g.fleet, [...(byFleet.get(g.fleet) ?? []), g]);

  const stateMachineArn = options.stateMachineArn ?? process.env[Env.rolloutStateMachineArn];
  const sfn = new SFNClient({
    maxAttempts: 2,
    requestHandler: { connectionTimeout: 2_000, requestTimeout: 5_000 },
  });
  try {
    const fleets: FleetStatus[] = [];
    for (const [fleet, members] of byFleet) {
      fleets.push(await statusOf(fleet, members, { sfn, stateMachineArn, now }));
    }
    if (options.fleet !== undefined && fleets.length === 0) {
      const record = await readFleetRecord(options.fleet);
      if (record === undefined) {
        throw new ConfigurationError(
          `no fleet ${options.fleet}: no Auto Scaling group is tagged ${Tags.fleet}=${options.fleet} and Phoenix has no record of it`,
        );
      }
      fleets.push(await statusOf(options.fleet, [], { sfn, stateMachineArn, now }, record));
    }
    return { fleets };
  } finally {
    sfn.destroy();
  }
}

async function statusOf(
  fleet: string,
  members: readonly ManagedGroup[],
  context: { sfn: SFNClient; stateMachineArn: string | undefined; now: Date },
  known?: FleetRecord,
): Promise<FleetStatus> {
  const record = known ?? (await readFleetRecord(fleet));
  const desiredImage = record?.desiredImage ?? null;
  const lock = record?.activeRollout;
  const targetImage = lock?.imageId ?? desiredImage;
  const groups: GroupStatus[] = [];
  for (const member of members) groups.push(await groupStatus(member, targetImage));

  const history = record?.imageHistory ?? [];
  const last = history[history.length - 1];
  return {
    fleet,
    channel: record?.channel ?? members[0]?.channel ?? null,
    desiredImage,
    previousImage: record?.previousImage ?? null,
    targetImage,
    groups,
    activeRollout:
      lock === undefined
        ? null
        : {
            execution: lock.execution,
            imageId: lock.imageId,
            startedAt: lock.startedAt,
            expiresAt: new Date(lock.expiresAt * 1000).toISOString(),
            expired: lock.expiresAt * 1000 < context.now.getTime(),
            workflow: await readWorkflow(context.sfn, context.stateMachineArn, lock.execution),
            ...(record?.rolloutQueued !== undefined ? { queued: record.rolloutQueued } : {}),
          },
    lastOutcome: last !== undefined ? historyItem(last) : null,
    paused: record?.paused ?? null,
    pinnedImage: record?.pinnedImage ?? null,
  };
}

async function groupStatus(member: ManagedGroup, desiredImage: string | null): Promise<GroupStatus> {
  const group: AutoScalingGroup = member.group;
  const instances = await fleetInstances(group);
  const counts = new Map<string | null, { count: number; inService: number }>();
  for (const i of instances) {
    const key = i.imageId ?? null;
    const c = counts.get(key) ?? { count: 0, inService: 0 };
    c.count += 1;
    if (i.lifecycleState === 'InService') c.inService += 1;
    counts.set(key, c);
  }
  const byImage = [...counts]
    .map(([imageId, c]) => ({ imageId, ...c, desired: imageId !== null && imageId === desiredImage }))
    .sort((a, b) => b.count - a.count || String(a.imageId).localeCompare(String(b.imageId)));
  const onDesired = byImage.filter((c) => c.desired).reduce((n, c) => n + c.count, 0);
  return {
    name: group.AutoScalingGroupName ?? '?',
    channel: member.channel,
    desiredCapacity: group.DesiredCapacity ?? 0,
    minSize: group.MinSize ?? 0,
    maxSize: group.MaxSize ?? 0,
    instances: {
      total: instances.length,
      onDesiredImage: desiredImage === null ? null : onDesired,
      onOtherImages: desiredImage === null ? null : instances.length - onDesired,
      byImage,
    },
  };
}

const STATE_MACHINE_ARN = /^(arn:[^:]+:states:[^:]+:\d{12}):stateMachine:([^:]+)$/;

const describe = (error: unknown) =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error);

/** A rollout's execution as Step Functions reports it; never throws. */
export async function readWorkflow(
  sfn: SFNClient,
  stateMachineArn: string | undefined,
  execution: string,
): Promise<WorkflowView> {
  if (stateMachineArn === undefined) {
    return {
      status: null,
      step: null,
      note: `no state machine ARN: pass --state-machine-arn or set ${Env.rolloutStateMachineArn}`,
    };
  }
  const arn = STATE_MACHINE_ARN.exec(stateMachineArn);
  if (arn === null) {
    return { status: null, step: null, note: `not a state machine ARN: ${stateMachineArn}` };
  }
  let executionArn = `${arn[1]}:execution:${arn[2]}:${execution}`;
  let status: string | null;
  let continuedAs: string | undefined;
  try {
    let described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    // Continue-as-new: a succeeded execution whose output names its continuation is followed
    // (a few hops at most: the continuation takes the lock as its first step).
    for (let hop = 0; hop < 5 && described.status === 'SUCCEEDED'; hop += 1) {
      const next = continuationOf(described.output);
      if (next === undefined) break;
      executionArn = `${arn[1]}:execution:${arn[2]}:${next}`;
      described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
      continuedAs = next;
    }
    status = described.status ?? null;
  } catch (error) {
    return { status: null, step: null, note: `cannot read the execution: ${describe(error)}` };
  }
  const followed = continuedAs !== undefined ? { continuedAs } : {};
  try {
    let nextToken: string | undefined;
    for (let page = 0; page < 10; page += 1) {
      const history = await sfn.send(
        new GetExecutionHistoryCommand({ executionArn, reverseOrder: true, maxResults: 100, nextToken }),
      );
      const entered = history.events?.find(
        (e) => e.type?.endsWith('StateEntered') && e.stateEnteredEventDetails?.name !== undefined,
      );
      if (entered !== undefined)
        return { status, step: entered.stateEnteredEventDetails!.name!, ...followed };
      nextToken = history.nextToken;
      if (nextToken === undefined) break;
    }
    return { status, step: null, note: 'the execution history names no state entered', ...followed };
  } catch (error) {
    return { status, step: null, note: `cannot read the execution history: ${describe(error)}`, ...followed };
  }
}

/** The continuation named by a Rollout execution's output (`{"continued": "<name>"}`), if any. */
function continuationOf(output: string | undefined): string | undefined {
  if (output === undefined) return undefined;
  try {
    const parsed = JSON.parse(output) as { continued?: unknown };
    return typeof parsed.continued === 'string' ? parsed.continued : undefined;
  } catch {
    return undefined;
  }
}

// ---- rendering ---------------------------------------------------------------------------------

/** The shared renderers (cli/render.ts); `table` stays exported from here for older imports. */
export { table } from './render';

function instancesCell(g: GroupStatus, rolling: boolean): string {
  if (g.instances.total === 0) return '0';
  const name = (id: string | null) => id ?? '(unknown image)';
  const others = g.instances.byImage.filter((c) => !c.desired).map((c) => `${name(c.imageId)} ×${c.count}`);
  if (g.instances.onDesiredImage === null) return others.join(', ');
  const desired = `${g.instances.onDesiredImage} ${rolling ? 'new' : 'on desired'}`;
  return others.length === 0
    ? desired
    : `${desired}, ${g.instances.onOtherImages} ${rolling ? 'old' : 'other'} (${others.join(', ')})`;
}

function workflowText(w: WorkflowView): string {
  const parts = [
    ...(w.continuedAs !== undefined ? [`continued as ${w.continuedAs}`] : []),
    w.status ?? 'status unknown',
    w.step !== null ? `step ${w.step}` : 'step unknown',
  ];
  return `${parts.join(', ')}${w.note !== undefined ? ` (${w.note})` : ''}`;
}

export function renderStatus(report: StatusReport): string {
  if (report.fleets.length === 0) return `No managed fleets (no Auto Scaling group is tagged ${Tags.fleet}).`;
  const rows: string[][] = [];
  for (const f of report.fleets) {
    const rollout =
      f.activeRollout === null
        ? f.paused !== null
          ? 'PAUSED'
          : '-'
        : f.activeRollout.queued !== undefined
          ? `${f.activeRollout.imageId} QUEUED since ${time(f.activeRollout.queued.since)}`
          : `${f.activeRollout.imageId} since ${time(f.activeRollout.startedAt)}`;
    const groups = f.groups.length > 0 ? f.groups : [undefined];
    for (const g of groups) {
      rows.push([
        f.fleet,
        g?.name ?? '(no group)',
        g?.channel ?? f.channel ?? '-',
        f.activeRollout !== null
          ? `${f.activeRollout.imageId} (rolling out, from ${f.desiredImage ?? 'unknown'})`
          : (f.desiredImage ?? 'unknown'),
        g !== undefined ? instancesCell(g, f.activeRollout !== null) : '-',
        g !== undefined ? `${g.desiredCapacity}/${g.minSize}/${g.maxSize}` : '-',
        rollout,
      ]);
    }
  }
  const out = [
    table(['FLEET', 'GROUP', 'CHANNEL', 'DESIRED IMAGE', 'INSTANCES', 'DESIRED/MIN/MAX', 'ROLLOUT'], rows),
  ];
  const active = report.fleets.filter((f) => f.activeRollout !== null);
  if (active.length > 0) {
    out.push('', 'Active rollouts:');
    for (const f of active) {
      const r = f.activeRollout!;
      out.push(
        `  ${f.fleet}: ${r.imageId}, execution ${r.execution}, since ${time(r.startedAt)}, lock ${r.expired ? 'EXPIRED' : 'expires'} ${time(r.expiresAt)}: ${workflowText(r.workflow)}`,
      );
      if (r.queued !== undefined) {
        out.push(
          `    queued: waiting for a rollout slot since ${time(r.queued.since)} (${r.queued.inFlight} of ${r.queued.limit} in use, maxConcurrentRollouts)`,
        );
      }
    }
  }
  const held = report.fleets.filter((f) => f.paused !== null || f.pinnedImage !== null);
  if (held.length > 0) {
    out.push('', 'Held fleets:');
    for (const f of held) {
      if (f.paused !== null) {
        out.push(
          `  ${f.fleet}: PAUSED since ${time(f.paused.at)} (${f.paused.reason}); phoenix resume ${f.fleet}`,
        );
      }
      if (f.pinnedImage !== null) {
        out.push(
          `  ${f.fleet}: PINNED to ${f.pinnedImage.imageId} by rollback ${f.pinnedImage.execution} since ${time(f.pinnedImage.at)}; phoenix unpin ${f.fleet} or PublishImage releases it`,
        );
      }
    }
  }
  return out.join('\n');
}
