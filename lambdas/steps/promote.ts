/**
 * The promotion check (issue 13 §1), level-triggered: at each run, re-read everything and act.
 * For every channel with `promoteFrom`, the rule (domain/promotion.ts) decides from the evidence
 * of the fleets following the upstream channel; a promotion publishes the image through the same
 * mechanism any user could (PutParameter of `/phoenix/channels/<channel>`, whose versions are the
 * audit trail; Parameter Store's own "Parameter Store Change" event then rolls the channel's fleets
 * through intake), claimed first with a conditional write on `CHANNEL#<channel>` so that two
 * concurrent checks promote once. Waiting and blocked decisions are announced once per image and
 * reason (`PromotionWaiting`, `PromotionBlocked`).
 *
 * API calls stay flat as fleets grow (one sweep's worth, not one per fleet): one paged
 * DescribeAutoScalingGroups by tag, BatchGetItem of the fleet records (100 per call), GetParameters
 * (10 per call), one GetItem per promoted channel, one DescribeImages, DescribeAlarms (100 names
 * per call); then only the writes of what changed. Every request is counted (`apiCalls`).
 */
import type { AutoScalingGroup } from '@aws-sdk/client-auto-scaling';
import * as clock from '../domain/clock';
import { DetailTypes, Env } from '../domain/contract';
import type { FleetRecord } from '../domain/fleet-record';
import { parseAlarms, SettingTags } from '../domain/fleet-settings';
import {
  decidePromotion,
  fleetEvidence,
  noticeKey,
  parsePromotionRules,
  type PromotionDecision,
  type PromotionRule,
} from '../domain/promotion';
import { alarmStates, cloudWatch } from '../aws/alarms';
import { countingCalls, totalCalls } from '../aws/call-counter';
import {
  approvalsOf,
  type ChannelRecord,
  claimPromotion,
  completePromotion,
  describeImageFacts,
  publishToChannel,
  readChannelParameters,
  readChannelRecord,
  recordNotice,
  recordRule,
  releasePromotion,
} from '../aws/channels';
import { autoScaling, dynamo, ec2, eventBridge, ssm } from '../aws/clients';
import { managedGroups } from '../aws/fleets';
import { putOutcome } from '../aws/outcomes';
import { readFleetRecords } from '../aws/store/fleet-records';

export interface PromoteRequest {
  /** The rules; default: `$PHOENIX_PROMOTION_RULES` (set by the PromotionCapability). */
  readonly rules?: readonly PromotionRule[];
  /** Only this downstream channel. */
  readonly channel?: string;
  readonly now?: Date;
  /** Promote and announce (default true); false: only decide (`phoenix channels`). */
  readonly act?: boolean;
}

/** One channel's decision, and what the check did about it. */
export interface ChannelCheck {
  readonly channel: string;
  readonly from: string;
  readonly current?: string;
  readonly candidate?: string;
  readonly upstreamFleets: readonly string[];
  readonly decision: PromotionDecision;
  /** `promoted` (this check wrote the parameter), `announced` (a new notice), `unchanged`, `lost-claim`. */
  readonly action: 'promoted' | 'announced' | 'unchanged' | 'lost-claim' | 'none';
  readonly parameterVersion?: number;
  readonly record: ChannelRecord;
}

export interface PromoteReport {
  readonly channels: readonly ChannelCheck[];
  readonly upstreamFleets: number;
  readonly apiCalls: number;
  readonly calls: Readonly<Record<string, number>>;
}

export async function runPromotion(request: PromoteRequest = {}): Promise<PromoteReport> {
  const clients = [autoScaling(), ec2(), dynamo(), ssm(), eventBridge(), cloudWatch()];
  const { result, calls } = await countingCalls(clients, () => check(request));
  return { ...result, calls, apiCalls: totalCalls(calls) };
}

interface Observed {
  readonly fleetsByChannel: Map<string, { fleet: string; groups: AutoScalingGroup[] }[]>;
  readonly records: ReadonlyMap<string, FleetRecord | undefined>;
}

async function check(request: PromoteRequest): Promise<Omit<PromoteReport, 'apiCalls' | 'calls'>> {
  const now = request.now ?? clock.now();
  const act = request.act ?? true;
  const rules = (request.rules ?? parsePromotionRules(process.env[Env.promotionRules])).filter(
    (r) => request.channel === undefined || r.channel === request.channel,
  );
  if (rules.length === 0) return { channels: [], upstreamFleets: 0 };

  // Read the world: groups, fleet records, parameters, channel records, images, alarms.
  const observed = await observeFleets(rules);
  const parameters = await readChannelParameters(rules.flatMap((r) => [r.channel, r.promoteFrom]));
  const channelRecords = new Map<string, ChannelRecord>();
  for (const rule of rules) channelRecords.set(rule.channel, await readChannelRecord(rule.channel));
  const upstream = (rule: PromotionRule) => observed.fleetsByChannel.get(rule.promoteFrom) ?? [];
  const candidates = new Map(
    rules.map((r) => [r.channel, candidateOf(r, parameters, upstream(r), observed)]),
  );
  const images = await describeImageFacts(
    rules.flatMap((r) => [candidates.get(r.channel), parameters.get(r.channel)?.value]).filter(isString),
  );
  const alarmsByFleet = new Map<string, string[]>();
  for (const rule of rules)
    for (const f of upstream(rule)) alarmsByFleet.set(f.fleet, gatingAlarms(f.groups));
  const states = await alarmStates([...new Set([...alarmsByFleet.values()].flat())]);

  // Decide and act, channel by channel.
  const checks: ChannelCheck[] = [];
  for (const rule of rules) {
    const candidate = candidates.get(rule.channel);
    const current = parameters.get(rule.channel)?.value;
    const record = channelRecords.get(rule.channel)!;
    const fleets = upstream(rule).map((f) =>
      fleetEvidence(
        f.fleet,
        observed.records.get(f.fleet),
        candidate,
        (alarmsByFleet.get(f.fleet) ?? []).map((name) => ({ name, state: states.get(name) ?? 'missing' })),
      ),
    );
    const facts = candidate !== undefined ? images.get(candidate) : undefined;
    const currentFacts = current !== undefined ? images.get(current) : undefined;
    const decision = decidePromotion({
      rule,
      ...(candidate !== undefined ? { candidate } : {}),
      ...(facts?.createdAt !== undefined ? { candidateCreatedAt: facts.createdAt } : {}),
      ...(facts?.quarantined !== undefined ? { quarantined: facts.quarantined } : {}),
      ...(current !== undefined ? { current } : {}),
      ...(currentFacts?.createdAt !== undefined ? { currentCreatedAt: currentFacts.createdAt } : {}),
      promoted: Object.keys(record.promotions),
      approvals: approvalsOf(record),
      fleets,
      now,
    });
    const base = {
      channel: rule.channel,
      from: rule.promoteFrom,
      ...(current !== undefined ? { current } : {}),
      ...(candidate !== undefined ? { candidate } : {}),
      upstreamFleets: fleets.map((f) => f.fleet),
      decision,
      record,
    };
    checks.push(
      act ? { ...base, ...(await actOn(rule, decision, record, current, now)) } : { ...base, action: 'none' },
    );
  }
  return { channels: checks, upstreamFleets: [...alarmsByFleet.keys()].length };
}

const isString = (v: string | undefined): v is string => v !== undefined;

/** The managed groups (one paged call) by channel and fleet, and the upstream fleets' records. */
async function observeFleets(rules: readonly PromotionRule[]): Promise<Observed> {
  const upstreamChannels = new Set(rules.map((r) => r.promoteFrom));
  const fleetsByChannel = new Map<string, { fleet: string; groups: AutoScalingGroup[] }[]>();
  for (const m of await managedGroups()) {
    if (!upstreamChannels.has(m.channel)) continue;
    const list = fleetsByChannel.get(m.channel) ?? [];
    const found = list.find((f) => f.fleet === m.fleet);
    if (found !== undefined) found.groups.push(m.group);
    else list.push({ fleet: m.fleet, groups: [m.group] });
    fleetsByChannel.set(m.channel, list);
  }
  const fleets = [...fleetsByChannel.values()].flat().map((f) => f.fleet);
  const records =
    fleets.length === 0 ? new Map<string, FleetRecord | undefined>() : await readFleetRecords(fleets);
  return { fleetsByChannel, records };
}

/**
 * The upstream channel's current image: its parameter's value; without a parameter (images
 * published by tag or PublishImage), the newest desired image of its fleets.
 */
function candidateOf(
  rule: PromotionRule,
  parameters: ReadonlyMap<string, { value: string }>,
  fleets: readonly { fleet: string }[],
  observed: Observed,
): string | undefined {
  const parameter = parameters.get(rule.promoteFrom)?.value;
  if (parameter !== undefined && parameter !== '') return parameter;
  const desired = fleets
    .map((f) => observed.records.get(f.fleet))
    .filter((r): r is FleetRecord => r?.desiredImage !== undefined)
    .sort((a, b) => (b.desiredImageCreatedAt ?? '').localeCompare(a.desiredImageCreatedAt ?? ''));
  return desired[0]?.desiredImage;
}

/** The gating alarms of a fleet's groups (tag `phoenix:alarms`); an invalid tag is one alarm never OK. */
function gatingAlarms(groups: readonly AutoScalingGroup[]): string[] {
  const names = new Set<string>();
  for (const g of groups) {
    const raw = g.Tags?.find((t) => t.Key === SettingTags.alarms)?.Value?.trim();
    if (raw === undefined || raw === '') continue;
    try {
      for (const n of parseAlarms(raw)) names.add(n);
    } catch {
      names.add(`${SettingTags.alarms}=${raw} (invalid tag)`);
    }
  }
  return [...names];
}

async function actOn(
  rule: PromotionRule,
  decision: PromotionDecision,
  record: ChannelRecord,
  current: string | undefined,
  now: Date,
): Promise<Pick<ChannelCheck, 'action' | 'parameterVersion'>> {
  if (decision.kind === 'promote') {
    if (!(await claimPromotion(rule.channel, decision.imageId, rule.promoteFrom, now))) {
      return { action: 'lost-claim' };
    }
    let version: number;
    try {
      version = await publishToChannel(rule.channel, decision.imageId);
    } catch (error) {
      await releasePromotion(rule.channel, decision.imageId);
      throw error;
    }
    await completePromotion(rule.channel, decision.imageId, version);
    await recordRule(rule.channel, rule, now);
    const { evidence } = decision;
    await putOutcome(DetailTypes.ImagePromoted, {
      channel: rule.channel,
      from: rule.promoteFrom,
      imageId: decision.imageId,
      ...(current !== undefined ? { previousImageId: current } : {}),
      parameterVersion: version,
      rolledSince: evidence.rolledSince,
      delaySeconds: evidence.delaySeconds,
      healthReplacements: evidence.healthReplacements,
      fleets: evidence.fleets,
      ...(evidence.approval !== undefined
        ? { approvedBy: evidence.approval.by, approvedAt: evidence.approval.at }
        : {}),
      reason: decision.reason,
    });
    return { action: 'promoted', parameterVersion: version };
  }
  const key = noticeKey(decision);
  if (key === undefined || record.notice?.key === key) {
    if (record.rule === undefined || JSON.stringify(record.rule) !== JSON.stringify(rule)) {
      await recordRule(rule.channel, rule, now);
    }
    return { action: 'unchanged' };
  }
  if (!(await recordNotice(rule.channel, key, rule, now))) return { action: 'unchanged' };
  if (decision.kind === 'wait') {
    await putOutcome(DetailTypes.PromotionWaiting, {
      channel: rule.channel,
      from: rule.promoteFrom,
      imageId: decision.imageId,
      waitingFor: decision.waitingFor,
      fleetsNotRolled: decision.fleetsNotRolled,
      ...(decision.until !== undefined ? { until: decision.until } : {}),
      reason: decision.reason,
    });
  } else if (decision.kind === 'blocked') {
    await putOutcome(DetailTypes.PromotionBlocked, {
      channel: rule.channel,
      from: rule.promoteFrom,
      imageId: decision.imageId,
      blockedBy: decision.blockedBy,
      subjects: decision.subjects,
      reason: decision.reason,
    });
  }
  return { action: 'announced' };
}
