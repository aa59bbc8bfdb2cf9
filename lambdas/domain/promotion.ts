/**
 * The promotion rule (issue 13 §1): may the image running in a channel's upstream channel be
 * promoted into it now? Given the downstream channel's declaration, the evidence of every fleet
 * following the upstream channel (from their fleet records and gating alarms), the downstream's
 * current image, the candidate's quarantine tag, the approvals and the time, decide:
 *
 * - `promote`, with the evidence;
 * - `wait`, with what it still waits for (fleets not yet rolled, the delay, an approval, the
 *   window, alarms not yet OK) and, when time alone decides, until when;
 * - `blocked`, with why (quarantined, no upstream fleet, rollback, open circuit, health
 *   replacements over the threshold, an alarm in ALARM);
 * - `idle`: nothing to promote (no candidate, or it is already the downstream's or was promoted).
 *
 * The candidate is the upstream's current image: a newer image there supersedes a waiting one.
 *
 * Pure module: no SDK imports.
 */
import type { FleetRecord, HistoryEntry } from './fleet-record';

export const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** When promotions may happen, UTC: on `days` (default every day), from `fromHour` (incl.) to `toHour` (excl.). */
export interface PromotionWindow {
  readonly days?: readonly Weekday[];
  /** 0..23. */
  readonly fromHour: number;
  /** 1..24, greater than fromHour. */
  readonly toHour: number;
}

/** A downstream channel's promotion declaration, as the promote function receives it. */
export interface PromotionRule {
  readonly channel: string;
  readonly promoteFrom: string;
  /** How long every upstream fleet must have run the image, fully rolled. */
  readonly afterSeconds: number;
  readonly approval: boolean;
  readonly window?: PromotionWindow;
  /** Replacements of cause `health` (all upstream fleets) tolerated during the delay. */
  readonly maxHealthReplacements: number;
}

/** Default `after`: 4 hours. */
export const DEFAULT_PROMOTION_DELAY_SECONDS = 4 * 3600;
/** Default `maxHealthReplacements`: none tolerated. */
export const DEFAULT_MAX_HEALTH_REPLACEMENTS = 0;
/** The replacement cause that counts against a promotion. */
export const HEALTH_CAUSE = 'health';

/** What one upstream fleet says about the candidate image. */
export interface FleetEvidence {
  readonly fleet: string;
  readonly desiredImage?: string;
  /** ISO-8601: since when the fleet is fully rolled on its desired image (its last succeeded entry). */
  readonly rolledSince?: string;
  /** A rollout holds the fleet lock (the fleet is not at rest). */
  readonly rolling: boolean;
  /** The candidate was rolled back (or its rollout failed) in this fleet, or a rollback left it. */
  readonly rolledBack?: { readonly at: string; readonly reason: string };
  /** ISO-8601: the fleet's circuit breaker is open since then. */
  readonly circuitOpenSince?: string;
  /** ISO-8601 times of replacements of cause `health` (replaced or failed). */
  readonly healthReplacements: readonly string[];
  /** Gating alarms (tag `phoenix:alarms`) with their states (`missing` when it does not exist). */
  readonly alarms: readonly { readonly name: string; readonly state: string }[];
}

export interface Approval {
  readonly imageId: string;
  /** The approver's identity ARN. */
  readonly by: string;
  /** ISO-8601. */
  readonly at: string;
}

export interface PromotionInput {
  readonly rule: PromotionRule;
  /** The upstream channel's current image (undefined: none yet). */
  readonly candidate?: string;
  /** ISO-8601 CreationDate of the candidate (when known). */
  readonly candidateCreatedAt?: string;
  /** The value of `phoenix:quarantined` on the candidate AMI, if tagged. */
  readonly quarantined?: string;
  /** The downstream channel's current image. */
  readonly current?: string;
  /** ISO-8601 CreationDate of the current image (when known). */
  readonly currentCreatedAt?: string;
  /** Images already promoted into the downstream channel. */
  readonly promoted: readonly string[];
  readonly approvals: readonly Approval[];
  readonly fleets: readonly FleetEvidence[];
  readonly now: Date;
}

export type WaitReason = 'fleets-not-rolled' | 'delay' | 'approval' | 'window' | 'alarms-not-ok';
export type BlockReason =
  'quarantined' | 'no-upstream-fleet' | 'rollback' | 'circuit-open' | 'health-replacements' | 'alarm';

/** The evidence a promotion (or a wait) stands on, per upstream fleet. */
export interface PromotionEvidence {
  readonly fleets: readonly {
    readonly fleet: string;
    readonly rolledSince: string;
    readonly healthReplacements: number;
    readonly alarms: readonly string[];
  }[];
  /** ISO-8601: the last upstream fleet fully rolled then. */
  readonly rolledSince: string;
  readonly delaySeconds: number;
  readonly healthReplacements: number;
  readonly approval?: Approval;
}

export type PromotionDecision =
  | { readonly kind: 'idle'; readonly reason: string; readonly imageId?: string }
  | {
      readonly kind: 'promote';
      readonly imageId: string;
      readonly evidence: PromotionEvidence;
      readonly reason: string;
    }
  | {
      readonly kind: 'wait';
      readonly imageId: string;
      readonly waitingFor: readonly WaitReason[];
      /** Upstream fleets not yet fully rolled on the image. */
      readonly fleetsNotRolled: readonly string[];
      /** ISO-8601: the earliest time the delay and the window allow (absent while fleets roll). */
      readonly until?: string;
      readonly reason: string;
    }
  | {
      readonly kind: 'blocked';
      readonly imageId: string;
      readonly blockedBy: BlockReason;
      /** The fleets (or alarms) concerned. */
      readonly subjects: readonly string[];
      readonly reason: string;
    };

/** Since when `record` is fully rolled on its desired image: its newest entry, if a success for that image. */
export function rolledSince(record: FleetRecord): string | undefined {
  // A rejected rollout changed nothing: the newest entry that changed the fleet decides.
  const history = (record.imageHistory ?? []).filter((e) => e.outcome !== 'rejected');
  const last = history[history.length - 1];
  if (record.desiredImage === undefined || last === undefined) return undefined;
  return last.imageId === record.desiredImage && last.outcome === 'succeeded' ? last.at : undefined;
}

/** The candidate's rollback in this fleet: a rolled-back or failed rollout of it, or a rollback away from it. */
function rollbackOf(history: readonly HistoryEntry[], imageId: string): FleetEvidence['rolledBack'] {
  let succeededAt: string | undefined;
  for (const entry of history) {
    if (entry.imageId === imageId && (entry.outcome === 'rolled-back' || entry.outcome === 'failed')) {
      return { at: entry.at, reason: entry.reason ?? `rollout ${entry.outcome}` };
    }
    if (entry.imageId === imageId && entry.outcome === 'succeeded') succeededAt = entry.at;
    else if (succeededAt !== undefined && entry.mode === 'rollback' && entry.outcome === 'succeeded') {
      return { at: entry.at, reason: `rolled back to ${entry.imageId}` };
    }
  }
  return undefined;
}

/** One upstream fleet's evidence about `candidate`, from its record and its alarms' states. */
export function fleetEvidence(
  fleet: string,
  record: FleetRecord | undefined,
  candidate: string | undefined,
  alarms: readonly { name: string; state: string }[],
): FleetEvidence {
  if (record === undefined) return { fleet, rolling: false, healthReplacements: [], alarms };
  const since = rolledSince(record);
  const rolledBack = candidate === undefined ? undefined : rollbackOf(record.imageHistory ?? [], candidate);
  return {
    fleet,
    ...(record.desiredImage !== undefined ? { desiredImage: record.desiredImage } : {}),
    ...(since !== undefined ? { rolledSince: since } : {}),
    rolling: record.activeRollout !== undefined,
    ...(rolledBack !== undefined ? { rolledBack } : {}),
    ...(record.circuit?.openedAt !== undefined ? { circuitOpenSince: record.circuit.openedAt } : {}),
    healthReplacements: (record.replacementHistory ?? [])
      .filter((r) => r.cause === HEALTH_CAUSE && r.outcome !== 'skipped')
      .map((r) => r.at),
    alarms,
  };
}

/** Is `at` inside the window? */
export function inWindow(window: PromotionWindow, at: Date): boolean {
  const day = WEEKDAYS[at.getUTCDay()]!;
  const hour = at.getUTCHours();
  return (
    (window.days === undefined || window.days.includes(day)) &&
    hour >= window.fromHour &&
    hour < window.toHour
  );
}

/** The first instant at or after `from` inside the window (undefined: the window has no day). */
export function nextWindowOpening(window: PromotionWindow, from: Date): Date | undefined {
  if (inWindow(window, from)) return from;
  for (let d = 0; d <= 7; d++) {
    const day = new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate() + d));
    const opening = new Date(day.getTime() + window.fromHour * 3600_000);
    if (opening.getTime() >= from.getTime() && inWindow(window, opening)) return opening;
  }
  return undefined;
}

const ms = (iso: string) => Date.parse(iso);

/** The promotion rule: see the module comment. */
export function decidePromotion(input: PromotionInput): PromotionDecision {
  const { rule, candidate, now } = input;
  if (candidate === undefined) {
    return { kind: 'idle', reason: `channel ${rule.promoteFrom} has no image yet` };
  }
  if (candidate === input.current) {
    return { kind: 'idle', imageId: candidate, reason: `${candidate} is already ${rule.channel}'s image` };
  }
  if (input.promoted.includes(candidate)) {
    return {
      kind: 'idle',
      imageId: candidate,
      reason: `${candidate} was already promoted to ${rule.channel}`,
    };
  }
  if (
    input.candidateCreatedAt !== undefined &&
    input.currentCreatedAt !== undefined &&
    ms(input.candidateCreatedAt) <= ms(input.currentCreatedAt)
  ) {
    return {
      kind: 'idle',
      imageId: candidate,
      reason: `${candidate} is not newer than ${rule.channel}'s image ${input.current ?? ''}`.trim(),
    };
  }
  const blocked = blockOf(input, candidate);
  if (blocked !== undefined) return blocked;

  const waitingFor: WaitReason[] = [];
  const notRolled = input.fleets
    .filter((f) => f.desiredImage !== candidate || f.rolledSince === undefined || f.rolling)
    .map((f) => f.fleet);
  if (notRolled.length > 0) waitingFor.push('fleets-not-rolled');
  const notOk = input.fleets.flatMap((f) => f.alarms.filter((a) => a.state !== 'OK').map((a) => a.name));
  if (notOk.length > 0) waitingFor.push('alarms-not-ok');
  const approval = input.approvals.find((a) => a.imageId === candidate);
  if (rule.approval && approval === undefined) waitingFor.push('approval');

  let until: Date | undefined;
  let rolledAll: string | undefined;
  if (notRolled.length === 0) {
    rolledAll = input.fleets.map((f) => f.rolledSince!).reduce((a, b) => (ms(a) >= ms(b) ? a : b));
    const delayEnds = new Date(ms(rolledAll) + rule.afterSeconds * 1000);
    if (delayEnds.getTime() > now.getTime()) waitingFor.push('delay');
    const earliest = delayEnds.getTime() > now.getTime() ? delayEnds : now;
    until = rule.window === undefined ? earliest : nextWindowOpening(rule.window, earliest);
    if (rule.window !== undefined && !inWindow(rule.window, now)) waitingFor.push('window');
  } else if (rule.window !== undefined && !inWindow(rule.window, now)) {
    waitingFor.push('window');
  }

  if (waitingFor.length > 0) {
    return {
      kind: 'wait',
      imageId: candidate,
      waitingFor,
      fleetsNotRolled: notRolled,
      ...(until !== undefined && (waitingFor.includes('delay') || waitingFor.includes('window'))
        ? { until: until.toISOString() }
        : {}),
      reason: waitReason(rule, waitingFor, notRolled, until, notOk),
    };
  }
  const since = rolledAll!;
  const fleets = input.fleets.map((f) => ({
    fleet: f.fleet,
    rolledSince: f.rolledSince!,
    healthReplacements: f.healthReplacements.filter((t) => ms(t) >= ms(f.rolledSince!)).length,
    alarms: f.alarms.map((a) => a.name),
  }));
  return {
    kind: 'promote',
    imageId: candidate,
    evidence: {
      fleets,
      rolledSince: since,
      delaySeconds: rule.afterSeconds,
      healthReplacements: fleets.reduce((n, f) => n + f.healthReplacements, 0),
      ...(approval !== undefined ? { approval } : {}),
    },
    reason: `every fleet of ${rule.promoteFrom} (${fleets.length}) has run ${candidate} fully rolled since ${since} (delay ${rule.afterSeconds}s), no rollback, no open circuit, alarms OK${approval !== undefined ? `, approved by ${approval.by}` : ''}`,
  };
}

function blockOf(input: PromotionInput, candidate: string): PromotionDecision | undefined {
  const { rule } = input;
  const block = (blockedBy: BlockReason, subjects: readonly string[], reason: string): PromotionDecision => ({
    kind: 'blocked',
    imageId: candidate,
    blockedBy,
    subjects,
    reason,
  });
  if (input.quarantined !== undefined) {
    return block('quarantined', [candidate], `${candidate} is quarantined: ${input.quarantined}`);
  }
  if (input.fleets.length === 0) {
    return block('no-upstream-fleet', [], `no fleet follows channel ${rule.promoteFrom}: no evidence`);
  }
  const rolledBack = input.fleets.filter((f) => f.rolledBack !== undefined);
  if (rolledBack.length > 0) {
    return block(
      'rollback',
      rolledBack.map((f) => f.fleet),
      `${candidate} was rolled back in ${rolledBack.map((f) => `${f.fleet} (${f.rolledBack!.reason})`).join(', ')}`,
    );
  }
  const open = input.fleets.filter((f) => f.circuitOpenSince !== undefined);
  if (open.length > 0) {
    return block(
      'circuit-open',
      open.map((f) => f.fleet),
      `the circuit breaker is open in ${open.map((f) => `${f.fleet} (since ${f.circuitOpenSince!})`).join(', ')}`,
    );
  }
  // Health replacements since each fleet runs the candidate fully rolled (the time of the delay).
  const health = input.fleets
    .filter((f) => f.desiredImage === candidate && f.rolledSince !== undefined)
    .map((f) => ({
      fleet: f.fleet,
      count: f.healthReplacements.filter((t) => ms(t) >= ms(f.rolledSince!)).length,
    }))
    .filter((h) => h.count > 0);
  const total = health.reduce((n, h) => n + h.count, 0);
  if (total > rule.maxHealthReplacements) {
    return block(
      'health-replacements',
      health.map((h) => h.fleet),
      `${total} health replacement(s) since ${candidate} rolled (${health.map((h) => `${h.fleet}: ${h.count}`).join(', ')}), more than ${rule.maxHealthReplacements} allowed`,
    );
  }
  const alarming = input.fleets.flatMap((f) =>
    f.alarms.filter((a) => a.state === 'ALARM').map((a) => a.name),
  );
  if (alarming.length > 0) {
    return block(
      'alarm',
      [...new Set(alarming)],
      `gating alarm(s) in ALARM: ${[...new Set(alarming)].join(', ')}`,
    );
  }
  return undefined;
}

function waitReason(
  rule: PromotionRule,
  waitingFor: readonly WaitReason[],
  notRolled: readonly string[],
  until: Date | undefined,
  notOk: readonly string[],
): string {
  const parts = waitingFor.map((w) => {
    switch (w) {
      case 'fleets-not-rolled':
        return `fleets of ${rule.promoteFrom} not yet fully rolled: ${notRolled.join(', ')}`;
      case 'delay':
        return `the promotion delay (${rule.afterSeconds}s)${until !== undefined ? ` until ${until.toISOString()}` : ''}`;
      case 'window':
        return `the promotion window${until !== undefined ? ` (opens ${until.toISOString()})` : ''}`;
      case 'approval':
        return `an approval (phoenix approve ${rule.channel} <image>)`;
      case 'alarms-not-ok':
        return `gating alarms not OK: ${[...new Set(notOk)].join(', ')}`;
    }
  });
  return `waiting for ${parts.join('; ')}`;
}

/**
 * The key of a decision for its outcome's dedupe: a waiting or blocked outcome is announced once
 * per image and reason (a change of what it waits for is a new announcement; time passing is not).
 */
export function noticeKey(decision: PromotionDecision): string | undefined {
  switch (decision.kind) {
    case 'wait':
      return `wait:${decision.imageId}:${decision.waitingFor.join(',')}:${decision.fleetsNotRolled.join(',')}`;
    case 'blocked':
      return `blocked:${decision.imageId}:${decision.blockedBy}:${decision.subjects.join(',')}`;
    default:
      return undefined;
  }
}

/** The promotion rules of every declared channel with `promoteFrom`, from their JSON in the environment. */
export function parsePromotionRules(json: string | undefined): PromotionRule[] {
  if (json === undefined || json.trim() === '') return [];
  const parsed: unknown = JSON.parse(json);
  if (!Array.isArray(parsed)) throw new Error('promotion rules must be a JSON list');
  return parsed.map((r: unknown, i) => {
    const o = r as Record<string, unknown>;
    if (typeof o['channel'] !== 'string' || typeof o['promoteFrom'] !== 'string') {
      throw new Error(`promotion rule ${i} must name channel and promoteFrom`);
    }
    const window = o['window'] as PromotionWindow | undefined;
    return {
      channel: o['channel'],
      promoteFrom: o['promoteFrom'],
      afterSeconds:
        typeof o['afterSeconds'] === 'number' ? o['afterSeconds'] : DEFAULT_PROMOTION_DELAY_SECONDS,
      approval: o['approval'] === true,
      ...(window !== undefined ? { window } : {}),
      maxHealthReplacements:
        typeof o['maxHealthReplacements'] === 'number'
          ? o['maxHealthReplacements']
          : DEFAULT_MAX_HEALTH_REPLACEMENTS,
    };
  });
}
