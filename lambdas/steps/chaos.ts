/**
 * One chaos period (Auto Scaling + DynamoDB + EventBridge): every group tagged `phoenix:chaos` (one
 * paginated DescribeAutoScalingGroups, 100 per page), their fleet records (BatchGetItem, 100 keys
 * per call), a decision per fleet (domain/chaos.ts), and for each kill: the claim on the fleet
 * record (a conditional update: one kill per fleet and period, and only while still safe), then
 * TerminateInstanceInAutoScalingGroup without decrement (Auto Scaling launches the replacement
 * from the group's launch template) and `ChaosKill`. A kill held back for safety, an invalid chaos
 * tag or a failed kill is a `ChaosSkipped`; the other skips (outside the hours, already killed
 * this period, the dice) are only reported.
 */
import * as clock from '../domain/clock';
import { type AutoScalingGroup, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { type ChaosSkippedDetail, DetailTypes, Tags } from '../domain/contract';
import { ConfigurationError } from '../domain/errors';
import {
  type ChaosDecision,
  chaosDecision,
  type ChaosGroup,
  isPaused,
  OUTCOME_SKIPS,
  periodStart,
} from '../domain/chaos';
import type { FleetRecord } from '../domain/fleet-record';
import { rolloutActive } from '../domain/reconcile';
import { aws } from '../aws/errors';
import { autoScaling } from '../aws/clients';
import { tagValue, terminateInstance } from '../aws/fleets';
import { putOutcome } from '../aws/outcomes';
import { claimChaosKill } from '../aws/store/chaos-claims';
import { readFleetRecords } from '../aws/store/fleet-records';

export interface ChaosRequest {
  /** The run's time (default now): it names the period and is checked against the chaos hours. */
  readonly now?: Date;
  /** The chaos schedule's period, in seconds. */
  readonly periodSeconds: number;
  /** Claim, terminate and put outcomes (default true); false: only decide (dry run). */
  readonly act?: boolean;
}

/** A decision, and what came of it when acted on. */
export type ChaosResult =
  | (Extract<ChaosDecision, { action: 'kill' }> & { readonly dryRun?: boolean })
  | (Omit<Extract<ChaosDecision, { action: 'skip' }>, 'code'> & {
      readonly code: Extract<ChaosDecision, { action: 'skip' }>['code'] | 'claim-refused' | 'kill-failed';
    });

export interface ChaosReport {
  readonly at: string;
  readonly period: string;
  readonly periodSeconds: number;
  /** Fleets with the chaos tag. */
  readonly fleets: number;
  readonly kills: number;
  readonly decisions: readonly ChaosResult[];
  readonly apiCalls: number;
  readonly calls: Readonly<Record<string, number>>;
}

/** Skips that are outcomes (`ChaosSkipped`) beside the safety ones. */
const REPORTED = new Set<string>([...OUTCOME_SKIPS, 'kill-failed']);

export async function runChaos(request: ChaosRequest): Promise<ChaosReport> {
  const now = request.now ?? clock.now();
  const act = request.act ?? true;
  const { periodSeconds } = request;
  if (!Number.isFinite(periodSeconds) || periodSeconds <= 0) {
    throw new ConfigurationError(
      `the chaos period must be a positive number of seconds, got ${periodSeconds}`,
    );
  }
  const period = periodStart(now, periodSeconds).toISOString();
  const calls: Record<string, number> = {};
  const count = (what: string) => (calls[what] = (calls[what] ?? 0) + 1);

  // 1. Every group with the chaos tag, 100 per call.
  const groups: AutoScalingGroup[] = [];
  let token: string | undefined;
  do {
    count('DescribeAutoScalingGroups');
    const page = await aws('DescribeAutoScalingGroups', () =>
      autoScaling().send(
        new DescribeAutoScalingGroupsCommand({
          Filters: [{ Name: 'tag-key', Values: [Tags.chaos] }],
          MaxRecords: 100,
          NextToken: token,
        }),
      ),
    );
    groups.push(...(page.AutoScalingGroups ?? []));
    token = page.NextToken;
  } while (token);
  const byFleet = new Map<string, AutoScalingGroup[]>();
  for (const g of groups.sort((a, b) =>
    (a.AutoScalingGroupName ?? '').localeCompare(b.AutoScalingGroupName ?? ''),
  )) {
    const fleet = tagValue(g, Tags.fleet);
    if (fleet === undefined || fleet === '' || tagValue(g, Tags.chaos) === undefined) continue;
    byFleet.set(fleet, [...(byFleet.get(fleet) ?? []), g]);
  }
  const fleets = [...byFleet.keys()].sort();

  // 2. Their records, 100 per call.
  const records =
    fleets.length === 0
      ? new Map<string, FleetRecord | undefined>()
      : await readFleetRecords(fleets, { onCall: () => count('BatchGetItem') });

  // 3. Decide, then act.
  const decisions: ChaosResult[] = [];
  let kills = 0;
  for (const fleet of fleets) {
    const fleetGroups = byFleet.get(fleet)!;
    const chaosTag = fleetGroups.map((g) => tagValue(g, Tags.chaos)).find((v) => v !== undefined)!;
    const hoursTag = fleetGroups.map((g) => tagValue(g, Tags.chaosHours)).find((v) => v !== undefined);
    const record = records.get(fleet);
    const decision = chaosDecision({
      fleet,
      chaosTag,
      ...(hoursTag !== undefined ? { hoursTag } : {}),
      groups: fleetGroups.map(toChaosGroup),
      ...(record !== undefined ? { record } : {}),
      now,
      periodSeconds,
    });
    if (decision.action === 'skip' || !act) {
      decisions.push(decision.action === 'kill' ? { ...decision, dryRun: true } : decision);
      if (act && decision.action === 'skip' && REPORTED.has(decision.code)) {
        count('PutEvents');
        await putOutcome(DetailTypes.ChaosSkipped, skippedDetail(decision));
      }
      continue;
    }

    count('UpdateItem');
    const claim = await claimChaosKill({ fleet, period, instanceId: decision.instanceId, now });
    if (!claim.claimed) {
      const refusal = claimRefusal(claim.record, period, now);
      const skipped: ChaosResult = {
        action: 'skip',
        fleet,
        period,
        code: refusal.code,
        reason: refusal.reason,
        probability: decision.probability,
        roll: decision.roll,
      };
      decisions.push(skipped);
      if (refusal.code !== 'already-killed') {
        count('PutEvents');
        await putOutcome(DetailTypes.ChaosSkipped, skippedDetail(skipped));
      }
      continue;
    }
    try {
      count('TerminateInstanceInAutoScalingGroup');
      await terminateInstance(decision.instanceId, false);
    } catch (error) {
      const failed: ChaosResult = {
        action: 'skip',
        fleet,
        period,
        code: 'kill-failed',
        reason: `could not terminate ${decision.instanceId} of fleet ${fleet}: ${errorText(error)} (no other kill this period)`,
        probability: decision.probability,
        roll: decision.roll,
      };
      decisions.push(failed);
      count('PutEvents');
      await putOutcome(DetailTypes.ChaosSkipped, skippedDetail(failed));
      continue;
    }
    kills++;
    decisions.push(decision);
    count('PutEvents');
    await putOutcome(DetailTypes.ChaosKill, {
      fleet,
      instanceId: decision.instanceId,
      groupName: decision.groupName,
      period,
      probability: decision.probability,
    });
  }

  return {
    at: now.toISOString(),
    period,
    periodSeconds,
    fleets: fleets.length,
    kills,
    decisions,
    apiCalls: Object.values(calls).reduce((a, b) => a + b, 0),
    calls,
  };
}

function toChaosGroup(g: AutoScalingGroup): ChaosGroup {
  return {
    groupName: g.AutoScalingGroupName ?? '',
    desiredCapacity: g.DesiredCapacity ?? 0,
    instances: (g.Instances ?? [])
      .filter((i) => i.InstanceId !== undefined)
      .map((i) => ({
        instanceId: i.InstanceId!,
        lifecycleState: i.LifecycleState ?? 'Unknown',
        healthStatus: i.HealthStatus ?? 'Unknown',
      })),
  };
}

function skippedDetail(d: Extract<ChaosResult, { action: 'skip' }>): ChaosSkippedDetail {
  return {
    fleet: d.fleet,
    code: d.code,
    reason: d.reason,
    period: d.period,
    ...(d.probability !== undefined ? { probability: d.probability } : {}),
    ...(d.tag !== undefined ? { tag: d.tag, value: d.value } : {}),
  };
}

/** Why the claim was refused: the record as it is now, checked as the condition did. */
function claimRefusal(
  record: FleetRecord | undefined,
  period: string,
  now: Date,
): {
  code: 'already-killed' | 'paused' | 'rollout-in-flight' | 'replacement-in-flight' | 'claim-refused';
  reason: string;
} {
  const fleet = record?.fleet ?? 'the fleet';
  if (record?.lastChaosKill?.period === period) {
    return {
      code: 'already-killed',
      reason: `another run killed ${record.lastChaosKill.instanceId} of ${fleet} in this period (${period})`,
    };
  }
  if (isPaused(record)) return { code: 'paused', reason: `${fleet} was paused since it was read` };
  if (rolloutActive(record, now))
    return { code: 'rollout-in-flight', reason: `a rollout of ${fleet} started since it was read` };
  if ((record?.replacementsInFlight ?? 0) > 0)
    return { code: 'replacement-in-flight', reason: `a replacement of ${fleet} started since it was read` };
  return { code: 'claim-refused', reason: `the fleet record of ${fleet} refused the chaos claim` };
}

const errorText = (error: unknown) =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error);
