/**
 * The invariant observer: polls the emulator and the local Step Functions service through SDK
 * clients, as an auditor outside Phoenix would (Auto Scaling, EC2, ELBv2, the DynamoDB fleet
 * table, Step Functions ListExecutions / DescribeExecution / GetExecutionHistory), builds one
 * snapshot per poll (./checks.ts's `Snapshot`) and runs the continuous invariants on each pair of
 * consecutive snapshots. It never reads Phoenix's in-process state.
 *
 * One poll: DescribeAutoScalingGroups (all pages), DescribeInstances (pending and running, all
 * pages), DescribeTargetHealth per target group of a fleet, Scan of the table, DescribeLaunchTemplates
 * (one call), ListExecutions (RUNNING) of the Rollout and Replace state machines, DescribeExecution
 * once per execution (its input is immutable: cached), and GetExecutionHistory only for the
 * Rollout executions of a fleet that has two or more running; for instances that look outside every
 * group, DescribeAutoScalingInstances and DescribeInstances again (50 at a time), so that a group
 * that launched or let go of one between the first two reads makes no stray. Bounded: O(groups +
 * target groups) calls, the pages of a few lists.
 */
import {
  type AutoScalingGroup,
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
} from '@aws-sdk/client-auto-scaling';
import { type AttributeValue, DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import {
  DescribeInstancesCommand,
  type DescribeInstancesCommandOutput,
  DescribeLaunchTemplatesCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import {
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { Tags } from '../../lambdas/domain/contract';
import {
  checkDisruptionBudget,
  checkFloor,
  checkOneRollout,
  type FleetExpectation,
  type FleetSnap,
  type GroupRole,
  type GroupSnap,
  type HistoryStep,
  lockHeldFrom,
  type InstanceSnap,
  type RecordSnap,
  type RolloutExecutionRecord,
  type RunningExecution,
  type Snapshot,
  type Violation,
  type WorldLog,
} from './checks';

export interface ObserverOptions {
  readonly endpoint: string;
  readonly stepFunctionsEndpoint: string;
  readonly region: string;
  readonly tableName: string;
  readonly rolloutStateMachineArn: string;
  readonly replaceStateMachineArn: string;
  /** The fleets to watch, as the driver set them up. */
  readonly fleets: readonly FleetExpectation[];
  readonly world: WorldLog;
  /** Real milliseconds between polls (default 250). */
  readonly intervalMs?: number;
  /** Poll and check continuously (default true); false: only `snapshot()` when asked (an audit). */
  readonly continuous?: boolean;
  readonly onViolation?: (violation: Violation) => void;
}

export interface Observer {
  readonly violations: readonly Violation[];
  /** Polls done, and polls that failed (an API error: that pass is skipped, not half-checked). */
  readonly polls: number;
  readonly pollErrors: number;
  /** Rollout executions seen per fleet (running or ended; by name). */
  rolloutExecutionsOf(fleet: string): number;
  /** One snapshot now (no continuous check). */
  snapshot(): Promise<Snapshot>;
  /** Every Rollout execution (any status), with its input's fleet, image and request id. */
  listRollouts(): Promise<RolloutExecutionRecord[]>;
  stop(): Promise<void>;
}

const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

type Item = Record<string, AttributeValue>;
function fromAttr(attr: AttributeValue): unknown {
  if (attr.S !== undefined) return attr.S;
  if (attr.N !== undefined) return Number(attr.N);
  if (attr.BOOL !== undefined) return attr.BOOL;
  if (attr.NULL !== undefined) return null;
  if (attr.L !== undefined) return attr.L.map(fromAttr);
  if (attr.M !== undefined) return fromItem(attr.M);
  return undefined;
}
const fromItem = (item: Item): Record<string, unknown> =>
  Object.fromEntries(Object.entries(item).map(([k, v]) => [k, fromAttr(v)]));

function recordSnap(raw: Record<string, unknown>): RecordSnap {
  const active = raw['activeRollout'] as { execution?: unknown; imageId?: unknown } | undefined;
  const slots = raw['replacements'];
  return {
    ...(typeof raw['desiredImage'] === 'string' ? { desiredImage: raw['desiredImage'] } : {}),
    ...(active !== undefined && active !== null && typeof active === 'object'
      ? { activeRollout: { execution: String(active.execution), imageId: String(active.imageId) } }
      : {}),
    replacementSlots:
      slots !== undefined && slots !== null && typeof slots === 'object' ? Object.keys(slots).length : 0,
    paused: raw['paused'] !== undefined && raw['paused'] !== null,
  };
}

export function startObserver(options: ObserverOptions): Observer {
  const config = { region: options.region, endpoint: options.endpoint, credentials };
  const autoScaling = new AutoScalingClient(config);
  const ec2 = new EC2Client(config);
  const elb = new ElasticLoadBalancingV2Client(config);
  const dynamo = new DynamoDBClient(config);
  const sfn = new SFNClient({ ...config, endpoint: options.stepFunctionsEndpoint });
  const expectations = new Map(options.fleets.map((f) => [f.fleet, f]));
  const inputs = new Map<string, { fleet?: string }>();
  const rolloutNames = new Map<string, Set<string>>();
  const violations: Violation[] = [];
  let polls = 0;
  let pollErrors = 0;
  let stopped = false;
  let prev: Snapshot | undefined;

  async function running(machine: 'rollout' | 'replace'): Promise<RunningExecution[]> {
    const arn = machine === 'rollout' ? options.rolloutStateMachineArn : options.replaceStateMachineArn;
    const out: RunningExecution[] = [];
    let nextToken: string | undefined;
    do {
      const page = await sfn.send(
        new ListExecutionsCommand({ stateMachineArn: arn, statusFilter: 'RUNNING', nextToken }),
      );
      for (const e of page.executions ?? []) {
        let input = inputs.get(e.executionArn!);
        if (input === undefined) {
          const described = await sfn.send(new DescribeExecutionCommand({ executionArn: e.executionArn! }));
          try {
            input = JSON.parse(described.input ?? '{}') as { fleet?: string };
          } catch {
            input = {};
          }
          inputs.set(e.executionArn!, input);
        }
        if (machine === 'rollout' && input.fleet !== undefined) {
          const names = rolloutNames.get(input.fleet) ?? new Set<string>();
          names.add(e.name!);
          rolloutNames.set(input.fleet, names);
        }
        out.push({ machine, name: e.name!, ...(input.fleet !== undefined ? { fleet: input.fleet } : {}) });
      }
      nextToken = page.nextToken;
    } while (nextToken);
    if (machine === 'rollout') {
      // Which of them took the lock: only asked where a fleet has two or more running.
      const count = new Map<string, number>();
      for (const e of out) if (e.fleet) count.set(e.fleet, (count.get(e.fleet) ?? 0) + 1);
      for (let i = 0; i < out.length; i++) {
        const e = out[i]!;
        if (e.fleet === undefined || (count.get(e.fleet) ?? 0) < 2) continue;
        out[i] = { ...e, lockTaken: await lockTaken(arn, e.name) };
      }
    }
    return out;
  }

  async function lockTaken(machineArn: string, name: string): Promise<boolean> {
    const executionArn = `${machineArn.replace(':stateMachine:', ':execution:')}:${name}`;
    const steps: HistoryStep[] = [];
    let nextToken: string | undefined;
    do {
      const page = await sfn.send(new GetExecutionHistoryCommand({ executionArn, nextToken }));
      for (const event of page.events ?? []) {
        const failed = (event as { taskFailedEventDetails?: { name?: string } }).taskFailedEventDetails?.name;
        steps.push({
          type: event.type ?? '',
          ...(event.stateEnteredEventDetails?.name !== undefined
            ? { entered: event.stateEnteredEventDetails.name }
            : {}),
          ...(event.stateExitedEventDetails?.name !== undefined
            ? { exited: event.stateExitedEventDetails.name }
            : {}),
          ...(failed !== undefined ? { failed } : {}),
        });
      }
      nextToken = page.nextToken;
    } while (nextToken);
    return lockHeldFrom(steps);
  }

  async function snapshot(): Promise<Snapshot> {
    const at = Date.now();
    // Groups.
    const groups: AutoScalingGroup[] = [];
    let nextToken: string | undefined;
    do {
      const page = await autoScaling.send(new DescribeAutoScalingGroupsCommand({ NextToken: nextToken }));
      groups.push(...(page.AutoScalingGroups ?? []));
      nextToken = page.NextToken;
    } while (nextToken);
    // Instances.
    const instances = new Map<string, { imageId?: string; zone?: string; tags: Record<string, string> }>();
    nextToken = undefined;
    do {
      const page: DescribeInstancesCommandOutput = await ec2.send(
        new DescribeInstancesCommand({
          Filters: [{ Name: 'instance-state-name', Values: ['pending', 'running'] }],
          NextToken: nextToken,
        }),
      );
      for (const r of page.Reservations ?? [])
        for (const i of r.Instances ?? [])
          instances.set(i.InstanceId!, {
            ...(i.ImageId !== undefined ? { imageId: i.ImageId } : {}),
            ...(i.Placement?.AvailabilityZone !== undefined ? { zone: i.Placement.AvailabilityZone } : {}),
            tags: Object.fromEntries((i.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])),
          });
      nextToken = page.NextToken;
    } while (nextToken);
    // Records.
    const records = new Map<string, RecordSnap>();
    let startKey: Item | undefined;
    do {
      const page = await dynamo.send(
        new ScanCommand({ TableName: options.tableName, ConsistentRead: true, ExclusiveStartKey: startKey }),
      );
      for (const item of page.Items ?? []) {
        const raw = fromItem(item);
        const pk = typeof raw['pk'] === 'string' ? raw['pk'] : '';
        if (pk.startsWith('FLEET#')) records.set(pk.slice('FLEET#'.length), recordSnap(raw));
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    // Groups by fleet, with target health.
    const byFleet = new Map<string, GroupSnap[]>();
    const templates = new Map<string, string>();
    const inGroups = new Set<string>();
    for (const g of groups) {
      const tags = Object.fromEntries((g.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
      for (const i of g.Instances ?? []) inGroups.add(i.InstanceId!);
      let role: GroupRole | undefined;
      let fleet: string | undefined;
      if (tags[Tags.greenOf] !== undefined) [role, fleet] = ['green', tags[Tags.greenOf]];
      else if (tags[Tags.blueOf] !== undefined) [role, fleet] = ['blue', tags[Tags.blueOf]];
      else if (tags[Tags.fleet] !== undefined) [role, fleet] = ['fleet', tags[Tags.fleet]];
      if (role === undefined || fleet === undefined || !expectations.has(fleet)) continue;
      const health = new Map<string, string[]>();
      for (const tg of g.TargetGroupARNs ?? []) {
        const described = await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: tg }));
        for (const d of described.TargetHealthDescriptions ?? []) {
          const id = d.Target?.Id;
          if (id !== undefined) health.set(id, [...(health.get(id) ?? []), d.TargetHealth?.State ?? '']);
        }
      }
      const tgCount = (g.TargetGroupARNs ?? []).length;
      const snaps: InstanceSnap[] = (g.Instances ?? []).map((i) => {
        const ec2Side = instances.get(i.InstanceId!);
        const states = health.get(i.InstanceId!) ?? [];
        const inTargets =
          tgCount === 0 || (states.length === tgCount && states.every((s) => s === 'healthy'));
        return {
          id: i.InstanceId!,
          ...(ec2Side?.imageId !== undefined ? { imageId: ec2Side.imageId } : {}),
          ...(i.LifecycleState !== undefined ? { lifecycle: i.LifecycleState } : {}),
          ...(i.HealthStatus !== undefined ? { health: i.HealthStatus } : {}),
          ...(i.AvailabilityZone !== undefined ? { zone: i.AvailabilityZone } : {}),
          serving: i.LifecycleState === 'InService' && i.HealthStatus === 'Healthy' && inTargets,
        };
      });
      if (role === 'fleet' && g.LaunchTemplate?.LaunchTemplateId !== undefined)
        templates.set(fleet, g.LaunchTemplate.LaunchTemplateId);
      byFleet.set(fleet, [
        ...(byFleet.get(fleet) ?? []),
        {
          name: g.AutoScalingGroupName!,
          role,
          desired: g.DesiredCapacity ?? 0,
          min: g.MinSize ?? 0,
          max: g.MaxSize ?? 0,
          suspended: (g.SuspendedProcesses ?? []).map((p) => p.ProcessName ?? ''),
          ...(g.LaunchTemplate?.LaunchTemplateId !== undefined
            ? { launchTemplateId: g.LaunchTemplate.LaunchTemplateId }
            : {}),
          instances: snaps,
          tags,
        },
      ]);
    }
    const latest = new Map<string, number>();
    const ids = [...new Set(templates.values())];
    if (ids.length > 0) {
      const described = await ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateIds: ids }));
      for (const t of described.LaunchTemplates ?? [])
        latest.set(t.LaunchTemplateId!, t.LatestVersionNumber ?? 0);
    }
    const fleets: FleetSnap[] = options.fleets.map(({ fleet }) => {
      const record = records.get(fleet);
      const template = templates.get(fleet);
      const version = template !== undefined ? latest.get(template) : undefined;
      return {
        fleet,
        groups: byFleet.get(fleet) ?? [],
        ...(record !== undefined ? { record } : {}),
        ...(version !== undefined ? { launchTemplateLatest: version } : {}),
      };
    });
    const candidates = [...instances.entries()].filter(
      ([id, i]) => !inGroups.has(id) && (i.tags[Tags.fleet] ?? i.tags['aws:autoscaling:groupName']),
    );
    // The groups were read before the instances: an instance launched in between (a group created
    // or grown meanwhile) is in no group read, and one that left its group is still running until
    // EC2 terminates it. A stray is one that, asked again after both reads, is in no group and runs.
    const confirmed = await stillStray(candidates.map(([id]) => id));
    const strays = candidates
      .filter(([id]) => confirmed.has(id))
      .map(([id, i]) => ({
        id,
        ...(i.tags[Tags.fleet] !== undefined ? { fleet: i.tags[Tags.fleet] } : {}),
        ...(i.tags['aws:autoscaling:groupName'] !== undefined
          ? { group: i.tags['aws:autoscaling:groupName'] }
          : {}),
      }));
    const runningNow = [...(await running('rollout')), ...(await running('replace'))];
    return { at, fleets, running: runningNow, strays };
  }

  function check(now: Snapshot): void {
    const found: Violation[] = [];
    const before = new Map((prev?.fleets ?? []).map((f) => [f.fleet, f]));
    // From the previous poll's start to the end of this one: what the world did in between.
    const window = { from: prev?.at ?? now.at, to: Date.now() };
    for (const fleet of now.fleets) {
      const expectation = expectations.get(fleet.fleet)!;
      found.push(...checkFloor(before.get(fleet.fleet), fleet, expectation, options.world, now.at, window));
      found.push(...checkDisruptionBudget(fleet, expectation, now.at));
    }
    // The one-rollout check compares with a poll at least a second older.
    if (prev !== undefined && now.at - (oneRolloutBase?.at ?? 0) >= 1000) {
      found.push(...checkOneRollout(oneRolloutBase, now));
      oneRolloutBase = now;
    }
    oneRolloutBase ??= now;
    for (const v of found) {
      violations.push(v);
      options.onViolation?.(v);
    }
  }
  let oneRolloutBase: Snapshot | undefined;

  const loop = (async () => {
    while (!stopped && options.continuous !== false) {
      const started = Date.now();
      try {
        const now = await snapshot();
        polls++;
        check(now);
        prev = now;
      } catch {
        // A failed pass (the emulator busy or stopping): skipped whole; the next one compares
        // with the last complete snapshot.
        pollErrors++;
      }
      const wait = Math.max(0, (options.intervalMs ?? 250) - (Date.now() - started));
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  })();

  const described = new Map<string, { fleet?: string; imageId?: string; requestId?: string }>();
  /** Of `ids`, those that still run (pending or running) and that no group holds, asked now. */
  async function stillStray(ids: readonly string[]): Promise<Set<string>> {
    const stray = new Set<string>();
    for (let at = 0; at < ids.length; at += 50) {
      const chunk = ids.slice(at, at + 50);
      const held = await autoScaling.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: chunk }));
      const inGroup = new Set((held.AutoScalingInstances ?? []).map((i) => i.InstanceId));
      const described = await ec2.send(
        new DescribeInstancesCommand({
          InstanceIds: chunk,
          Filters: [{ Name: 'instance-state-name', Values: ['pending', 'running'] }],
        }),
      );
      for (const r of described.Reservations ?? [])
        for (const i of r.Instances ?? [])
          if (i.InstanceId !== undefined && !inGroup.has(i.InstanceId)) stray.add(i.InstanceId);
    }
    return stray;
  }

  async function listRollouts(): Promise<RolloutExecutionRecord[]> {
    const out: RolloutExecutionRecord[] = [];
    let nextToken: string | undefined;
    do {
      const page = await sfn.send(
        new ListExecutionsCommand({ stateMachineArn: options.rolloutStateMachineArn, nextToken }),
      );
      for (const e of page.executions ?? []) {
        let input = described.get(e.executionArn!);
        if (input === undefined) {
          const d = await sfn.send(new DescribeExecutionCommand({ executionArn: e.executionArn! }));
          try {
            input = JSON.parse(d.input ?? '{}') as { fleet?: string; imageId?: string; requestId?: string };
          } catch {
            input = {};
          }
          described.set(e.executionArn!, input);
        }
        out.push({
          name: e.name!,
          status: e.status ?? 'UNKNOWN',
          ...(input.fleet !== undefined ? { fleet: input.fleet } : {}),
          ...(input.imageId !== undefined ? { imageId: input.imageId } : {}),
          ...(input.requestId !== undefined ? { requestId: input.requestId } : {}),
          ...(e.startDate !== undefined ? { startedAt: e.startDate.getTime() } : {}),
          ...(e.stopDate !== undefined ? { stoppedAt: e.stopDate.getTime() } : {}),
        });
      }
      nextToken = page.nextToken;
    } while (nextToken);
    return out;
  }

  return {
    violations,
    listRollouts,
    get polls() {
      return polls;
    },
    get pollErrors() {
      return pollErrors;
    },
    rolloutExecutionsOf: (fleet) => rolloutNames.get(fleet)?.size ?? 0,
    snapshot,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}
