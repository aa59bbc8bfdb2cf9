/**
 * Chaos mode: pure decisions. A fleet tagged `phoenix:chaos=<mean days between kills>` has, in each
 * period of the chaos schedule that falls within its chaos hours (`phoenix:chaos-hours=HH-HH`, UTC,
 * default `09-17`), a chance of period / mean interval that one of its serving instances is
 * terminated (without decrement: Auto Scaling launches the replacement). The dice and the victim
 * come from a PRNG seeded with the fleet and the period's start: a period's decision is
 * reproducible, and two runs of one period decide the same.
 *
 * Never a kill outside the hours, twice in a period, while a rollout or a replacement is in
 * flight, while the fleet is paused, or while it serves fewer healthy instances than desired.
 */
import { Tags } from './contract';
import type { FleetRecord } from './fleet-record';
import { rolloutActive } from './reconcile';

/** The default chaos hours (UTC): when people are around. */
export const DEFAULT_CHAOS_HOURS = '09-17';

/** Chaos hours: `start` ≤ hour < `end` (UTC); `start > end` wraps past midnight. */
export interface ChaosHours {
  readonly start: number;
  readonly end: number;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

const NUMBER = /^(\d+(\.\d*)?|\.\d+)$/;

/** `phoenix:chaos`: a positive number of days (e.g. `2`, `0.5`), as seconds. */
export function parseChaosMean(value: string): Parsed<number> {
  const v = value.trim();
  const days = NUMBER.test(v) ? Number(v) : NaN;
  if (!Number.isFinite(days) || days <= 0) {
    return {
      ok: false,
      reason: `tag ${Tags.chaos}=${JSON.stringify(value)} is not a positive number of days (e.g. 2 or 0.5): chaos is off for this fleet`,
    };
  }
  return { ok: true, value: days * 86_400 };
}

/** `phoenix:chaos-hours`: `HH-HH` (UTC, start 00–23, end 01–24, start ≠ end; start > end wraps midnight). */
export function parseChaosHours(value: string | undefined): Parsed<ChaosHours> {
  const v = (value ?? DEFAULT_CHAOS_HOURS).trim();
  const m = /^(\d{2})-(\d{2})$/.exec(v);
  const start = m ? Number(m[1]) : NaN;
  const end = m ? Number(m[2]) : NaN;
  if (!m || start > 23 || end > 24 || end === 0 || start === end) {
    return {
      ok: false,
      reason: `tag ${Tags.chaosHours}=${JSON.stringify(value)} is not HH-HH (UTC hours, start 00-23, end 01-24, start != end; e.g. 09-17): chaos is off for this fleet`,
    };
  }
  return { ok: true, value: { start, end } };
}

/** Is `at` within the chaos hours? */
export function inChaosHours(hours: ChaosHours, at: Date): boolean {
  const h = at.getUTCHours();
  return hours.start < hours.end ? h >= hours.start && h < hours.end : h >= hours.start || h < hours.end;
}

/** The start of the period that holds `at`: periods are aligned on the epoch. */
export function periodStart(at: Date, periodSeconds: number): Date {
  const ms = periodSeconds * 1000;
  return new Date(Math.floor(at.getTime() / ms) * ms);
}

/** The chance of a kill in one period: period / mean interval, at most 1. */
export function killProbability(periodSeconds: number, meanSeconds: number): number {
  return Math.min(1, periodSeconds / meanSeconds);
}

/** A 32-bit seed from a string (FNV-1a). */
export function seedOf(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A deterministic PRNG (mulberry32): numbers in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** What a chaos run sees of one group of a fleet. */
export interface ChaosGroup {
  readonly groupName: string;
  readonly desiredCapacity: number;
  readonly instances: readonly {
    readonly instanceId: string;
    readonly lifecycleState: string;
    readonly healthStatus: string;
  }[];
}

export interface ChaosInput {
  readonly fleet: string;
  /** The value of `phoenix:chaos`. */
  readonly chaosTag: string;
  /** The value of `phoenix:chaos-hours`, if any. */
  readonly hoursTag?: string;
  readonly groups: readonly ChaosGroup[];
  readonly record?: FleetRecord;
  readonly now: Date;
  readonly periodSeconds: number;
}

/** Why no kill: `safety` reasons and invalid tags are outcomes (`ChaosSkipped`), the others logs. */
export type SkipCode =
  | 'invalid-tag'
  | 'outside-hours'
  | 'already-killed'
  | 'dice'
  | 'paused'
  | 'rollout-in-flight'
  | 'replacement-in-flight'
  | 'below-capacity'
  | 'no-instances';

/** The skips an operator is told of (`ChaosSkipped`): chaos is on but held back. */
export const OUTCOME_SKIPS: ReadonlySet<SkipCode> = new Set<SkipCode>([
  'invalid-tag',
  'paused',
  'rollout-in-flight',
  'replacement-in-flight',
  'below-capacity',
]);

export type ChaosDecision =
  | {
      readonly action: 'kill';
      readonly fleet: string;
      /** ISO start of the period. */
      readonly period: string;
      readonly probability: number;
      readonly roll: number;
      readonly instanceId: string;
      readonly groupName: string;
    }
  | {
      readonly action: 'skip';
      readonly fleet: string;
      readonly period: string;
      readonly code: SkipCode;
      readonly reason: string;
      readonly probability?: number;
      readonly roll?: number;
      /** For `invalid-tag`: which tag, which value. */
      readonly tag?: string;
      readonly value?: string;
    };

/** A fleet record's `paused` (set by the pause command, when present): anything but absent/false/null pauses. */
export function isPaused(record: FleetRecord | undefined): boolean {
  const paused = (record as { paused?: unknown } | undefined)?.paused;
  return paused !== undefined && paused !== null && paused !== false;
}

/** The decision for one fleet in the period that holds `now`. */
export function chaosDecision(input: ChaosInput): ChaosDecision {
  const { fleet, now, periodSeconds, record } = input;
  const period = periodStart(now, periodSeconds).toISOString();
  const skip = (
    code: SkipCode,
    reason: string,
    extra: { probability?: number; roll?: number; tag?: string; value?: string } = {},
  ): ChaosDecision => ({
    action: 'skip',
    fleet,
    period,
    code,
    reason,
    ...extra,
  });

  const mean = parseChaosMean(input.chaosTag);
  if (!mean.ok) return skip('invalid-tag', mean.reason, { tag: Tags.chaos, value: input.chaosTag });
  const hours = parseChaosHours(input.hoursTag);
  if (!hours.ok) {
    return skip('invalid-tag', hours.reason, { tag: Tags.chaosHours, value: input.hoursTag ?? '' });
  }
  if (!inChaosHours(hours.value, now)) {
    const { start, end } = hours.value;
    return skip(
      'outside-hours',
      `${now.toISOString()} is outside the chaos hours ${pad(start)}-${pad(end)} UTC of fleet ${fleet}`,
    );
  }
  const last = record?.lastChaosKill;
  if (last?.period === period) {
    return skip(
      'already-killed',
      `fleet ${fleet} lost ${last.instanceId} to chaos in this period (${period}) already`,
    );
  }

  // The dice: first draw; the victim: second draw. Seeded by fleet and period only.
  const random = prng(seedOf(`${fleet}|${period}`));
  const probability = killProbability(periodSeconds, mean.value);
  const roll = random();
  const dice = { probability, roll };
  if (roll >= probability) {
    return skip('dice', `no kill this period (roll ${roll.toFixed(4)} ≥ ${probability.toFixed(4)})`, dice);
  }

  // A kill is due: only if it is safe.
  if (isPaused(record)) return skip('paused', `fleet ${fleet} is paused`, dice);
  if (rolloutActive(record, now)) {
    return skip(
      'rollout-in-flight',
      `a rollout of fleet ${fleet} is in flight (${record!.activeRollout!.execution})`,
      dice,
    );
  }
  const inFlight = record?.replacementsInFlight ?? 0;
  if (inFlight > 0) {
    return skip('replacement-in-flight', `fleet ${fleet} has ${inFlight} replacement(s) in flight`, dice);
  }
  const serving = (g: ChaosGroup) =>
    g.instances.filter((i) => i.lifecycleState === 'InService' && i.healthStatus === 'Healthy');
  const short = input.groups.filter((g) => serving(g).length < g.desiredCapacity);
  if (short.length > 0) {
    const g = short[0]!;
    return skip(
      'below-capacity',
      `group ${g.groupName} of fleet ${fleet} serves ${serving(g).length} healthy instance(s) of ${g.desiredCapacity} desired`,
      dice,
    );
  }
  const candidates = input.groups
    .flatMap((g) => serving(g).map((i) => ({ instanceId: i.instanceId, groupName: g.groupName })))
    .sort((a, b) => a.instanceId.localeCompare(b.instanceId));
  if (candidates.length === 0) return skip('no-instances', `fleet ${fleet} has no serving instance`, dice);
  const victim = candidates[Math.min(candidates.length - 1, Math.floor(random() * candidates.length))]!;
  return { action: 'kill', fleet, period, probability, roll, ...victim };
}

const pad = (n: number) => String(n).padStart(2, '0');

/** The period of a `rate(N unit)` schedule expression, in seconds; undefined for anything else. */
export function ratePeriodSeconds(expression: string): number | undefined {
  const m = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2]!.startsWith('minute') ? 60 : m[2]!.startsWith('hour') ? 3600 : 86_400;
  return n > 0 ? n * unit : undefined;
}
