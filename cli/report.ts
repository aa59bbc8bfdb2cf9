/**
 * `phoenix report <fleet|execution> -o report.html`: a self-contained HTML timeline of a fleet
 * (or of one Rollout execution's fleet during that execution): instances × time coloured by image,
 * the executions with their batches, gates and rollbacks marked, and the fleet's history.
 *
 * Built from the real state: the fleet record (DynamoDB), the groups (Auto Scaling), every instance
 * the groups launched with its launch and termination time (EC2 DescribeInstances by the
 * Auto Scaling group-name tag and by the fleet tag, terminated ones included while EC2 lists them) and each
 * execution's history (Step Functions GetExecutionHistory, every page). The target is the CLI's
 * (cli/target.ts): the local runtime or AWS. Nothing here writes anything but the output file.
 */
import { DescribeInstancesCommand, type Instance } from '@aws-sdk/client-ec2';
import { SFNClient } from '@aws-sdk/client-sfn';
import { ec2 } from '../lambdas/aws/clients';
import { groupsOfFleet } from '../lambdas/aws/fleets';
import { readFleetRecord } from '../lambdas/aws/store/fleet-records';
import { Env, NAME_PATTERN, Tags } from '../lambdas/domain/contract';
import { ConfigurationError } from '../lambdas/domain/errors';
import { executionArnOf, readExecutionTimeline, type ExecutionTimeline } from '../local/web/execution';
import type { ReportInstance, ReportModel, WebHistoryItem } from '../local/web/render';

export { renderReport } from '../local/web/render';

export interface ReportOptions {
  /** Default `$PHOENIX_ROLLOUT_STATE_MACHINE_ARN`. */
  readonly stateMachineArn?: string;
  /** How many of the fleet's newest executions (default 10). */
  readonly executions?: number;
  readonly now?: Date;
}

const EXECUTION_ARN = /^arn:[^:]+:states:[^:]+:\d{12}:execution:[^:]+:[^:]+$/;

/** `User initiated (2026-12-01 22:30:00 UTC)` (EC2's StateTransitionReason) → ISO-8601. */
export function terminatedAt(reason: string | undefined): string | undefined {
  const m = /\((\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})\s*(?:UTC|GMT)?\)/.exec(reason ?? '');
  if (m === null) return undefined;
  const t = Date.parse(`${m[1]}T${m[2]}Z`);
  return Number.isFinite(t) ? new Date(t).toISOString() : undefined;
}

async function describeInstances(filter: { Name: string; Values: string[] }): Promise<Instance[]> {
  const out: Instance[] = [];
  let token: string | undefined;
  do {
    const page = await ec2().send(new DescribeInstancesCommand({ Filters: [filter], NextToken: token }));
    for (const r of page.Reservations ?? []) out.push(...(r.Instances ?? []));
    token = page.NextToken;
  } while (token);
  return out;
}

/**
 * Every instance the fleet's groups launched, terminated ones included: by the group-name tag Auto
 * Scaling puts on its instances (AWS keeps it on terminated instances; the emulator removes it at
 * termination) and by the fleet tag when the group propagates it at launch (blue-green groups too).
 */
async function instancesOfFleet(fleet: string, groupNames: readonly string[]): Promise<Instance[]> {
  const found = new Map<string, Instance>();
  const lists = await Promise.all([
    groupNames.length > 0
      ? describeInstances({ Name: 'tag:aws:autoscaling:groupName', Values: [...groupNames] })
      : Promise.resolve([]),
    describeInstances({ Name: `tag:${Tags.fleet}`, Values: [fleet] }),
  ]);
  for (const i of lists.flat()) if (i.InstanceId !== undefined) found.set(i.InstanceId, i);
  return [...found.values()];
}

/** The report of `subject`: a fleet name, an execution ARN, or a Rollout execution's name. */
export async function buildReport(subject: string, options: ReportOptions = {}): Promise<ReportModel> {
  const now = options.now ?? new Date();
  const stateMachineArn = options.stateMachineArn ?? process.env[Env.rolloutStateMachineArn];
  const notes: string[] = [];
  const sfn = new SFNClient({ maxAttempts: 3 });
  try {
    let fleet: string;
    let only: ExecutionTimeline | undefined;
    const isFleet =
      NAME_PATTERN.test(subject) &&
      ((await groupsOfFleet(subject)).length > 0 || (await readFleetRecord(subject)) !== undefined);
    if (isFleet) {
      fleet = subject;
    } else {
      let arn: string;
      if (EXECUTION_ARN.test(subject)) arn = subject;
      else if (stateMachineArn !== undefined) arn = executionArnOf(stateMachineArn, subject);
      else {
        throw new ConfigurationError(
          `${JSON.stringify(subject)} is no fleet Phoenix knows, and without a state machine ARN (--state-machine-arn or ${Env.rolloutStateMachineArn}) it cannot be read as an execution name`,
        );
      }
      try {
        only = await readExecutionTimeline(sfn, arn);
      } catch (error) {
        throw new ConfigurationError(
          `no fleet and no execution ${JSON.stringify(subject)}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
        );
      }
      const named = (only.input as { fleet?: unknown } | undefined)?.fleet;
      if (typeof named !== 'string') {
        throw new ConfigurationError(`execution ${arn} names no fleet in its input: not a Rollout execution`);
      }
      fleet = named;
    }

    const record = await readFleetRecord(fleet);
    const history: WebHistoryItem[] = [...(record?.imageHistory ?? [])].reverse().map((h) => ({
      at: h.at,
      kind: 'rollout',
      imageId: h.imageId,
      outcome: h.outcome,
      execution: h.execution,
      reason: h.reason ?? null,
    }));

    const executions: ExecutionTimeline[] = [];
    if (only !== undefined) executions.push(only);
    else if (stateMachineArn === undefined) {
      notes.push(
        `executions not shown: no state machine ARN (--state-machine-arn or ${Env.rolloutStateMachineArn})`,
      );
    } else {
      const names = [
        ...new Set([
          ...history.map((h) => h.execution!),
          ...(record?.activeRollout !== undefined ? [record.activeRollout.execution] : []),
        ]),
      ].slice(0, options.executions ?? 10);
      for (const name of names) {
        try {
          executions.push(await readExecutionTimeline(sfn, executionArnOf(stateMachineArn, name)));
        } catch (error) {
          notes.push(
            `execution ${name} not shown: ${error instanceof Error ? error.message : String(error)}`,
          );
        }
      }
      executions.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
    }

    const groups = await groupsOfFleet(fleet);
    const lifecycle = new Map<string, string>();
    for (const g of groups) {
      for (const i of g.group.Instances ?? []) {
        if (i.InstanceId !== undefined) lifecycle.set(i.InstanceId, i.LifecycleState ?? 'Unknown');
      }
    }
    const raw = await instancesOfFleet(
      fleet,
      groups.map((g) => g.group.AutoScalingGroupName ?? '').filter((n) => n !== ''),
    );
    let instances: ReportInstance[] = raw
      .filter((i) => i.InstanceId !== undefined)
      .map((i) => {
        const ended =
          i.State?.Name === 'terminated' || i.State?.Name === 'shutting-down'
            ? terminatedAt(i.StateTransitionReason)
            : undefined;
        return {
          instanceId: i.InstanceId!,
          imageId: i.ImageId ?? null,
          ...(i.LaunchTime !== undefined ? { launchedAt: i.LaunchTime.toISOString() } : {}),
          ...(ended !== undefined ? { endedAt: ended } : {}),
          state: lifecycle.get(i.InstanceId!) ?? i.State?.Name ?? 'unknown',
        };
      });
    if (only !== undefined) {
      // Only the instances alive at some point of the execution.
      const from = only.startedAt;
      const to = only.endedAt ?? now.toISOString();
      instances = instances.filter(
        (i) => (i.launchedAt ?? '') <= to && (i.endedAt === undefined || i.endedAt >= from),
      );
    }
    instances.sort(
      (a, b) =>
        (a.launchedAt ?? '').localeCompare(b.launchedAt ?? '') || a.instanceId.localeCompare(b.instanceId),
    );
    return {
      fleet,
      generatedAt: now.toISOString(),
      desiredImage: record?.desiredImage ?? null,
      instances,
      executions,
      history,
      notes,
    };
  } finally {
    sfn.destroy();
  }
}
