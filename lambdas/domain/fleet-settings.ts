/**
 * Fleet settings: the optional `phoenix:*` tags of an Auto Scaling group that shape its rollouts.
 * Pure module: parses tag values into settings, or throws `InvalidFleetSettingError` naming the
 * tag and the value (the rollout is then rejected: nothing is changed).
 */
import { ErrorNames, PhoenixError } from './errors';

/** The rollout tags of an Auto Scaling group. */
export const SettingTags = {
  /** New instances per batch: `N` instances or `N%` of desired capacity (default 25%). */
  maxSurge: 'phoenix:max-surge',
  /** The floor of serving instances during a rollout, in % of desired capacity (default 100). */
  minHealthyPercent: 'phoenix:min-healthy-percent',
  /** A new instance counts as ready only after this many seconds InService (default 0). */
  warmupSeconds: 'phoenix:warmup-seconds',
  /** After the last batch, the gating alarms must stay OK this long (default 0). */
  bakeSeconds: 'phoenix:bake-seconds',
  /** Comma-separated CloudWatch alarm names that gate the rollout (default none). */
  alarms: 'phoenix:alarms',
  /** How the fleet is rolled: `rolling` (default, batch by batch in the group) or `blue-green` (a second group). */
  strategy: 'phoenix:strategy',
  /** `true`: one instance of the new image is launched and validated before the fleet is touched (default `false`). */
  canary: 'phoenix:canary',
} as const;

/** The rollout strategies (tag `phoenix:strategy`). */
export const STRATEGIES = ['rolling', 'blue-green'] as const;
export type Strategy = (typeof STRATEGIES)[number];

export const DEFAULT_MAX_SURGE: Surge = { kind: 'percent', value: 25 };
export const DEFAULT_MIN_HEALTHY_PERCENT = 100;
/** Longest warm-up or bake a rollout accepts (seconds): within the default 2 h rollout timeout. */
export const MAX_WAIT_SECONDS = 3600;
/** DescribeAlarms takes at most 100 names per call; a fleet is gated by at most this many alarms. */
export const MAX_ALARMS = 100;

/** A tag of the fleet's group has a value Phoenix cannot use. */
export class InvalidFleetSettingError extends PhoenixError {
  override readonly name = ErrorNames.InvalidFleetSettingError;
  constructor(
    readonly tag: string,
    readonly value: string,
    expected: string,
  ) {
    super(`tag ${tag}=${JSON.stringify(value)} is invalid: expected ${expected}`);
  }
}

export type Surge = { readonly kind: 'count' | 'percent'; readonly value: number };

export interface FleetSettings {
  readonly maxSurge: Surge;
  readonly minHealthyPercent: number;
  readonly warmupSeconds: number;
  readonly bakeSeconds: number;
  /** Alarm names, deduplicated, in tag order. */
  readonly alarms: readonly string[];
  readonly strategy: Strategy;
  readonly canary: boolean;
}

const WHOLE = /^\d+$/;
/** CloudWatch alarm names: 1-255 characters; Phoenix also excludes commas (its separator) and control characters. */
const isAlarmName = (name: string) =>
  name.length >= 1 &&
  name.length <= 255 &&
  [...name].every((c) => c !== ',' && (c.codePointAt(0) ?? 0) >= 0x20);

function integer(tag: string, raw: string, min: number, max: number, expected: string): number {
  if (!WHOLE.test(raw)) throw new InvalidFleetSettingError(tag, raw, expected);
  const n = Number(raw);
  if (n < min || n > max) throw new InvalidFleetSettingError(tag, raw, expected);
  return n;
}

export function parseMaxSurge(raw: string): Surge {
  const tag = SettingTags.maxSurge;
  const expected = 'a whole number of instances >= 1 (N) or a percentage of desired capacity in 1..100 (N%)';
  if (raw.endsWith('%')) {
    if (!WHOLE.test(raw.slice(0, -1))) throw new InvalidFleetSettingError(tag, raw, expected);
    const n = Number(raw.slice(0, -1));
    if (n < 1 || n > 100) throw new InvalidFleetSettingError(tag, raw, expected);
    return { kind: 'percent', value: n };
  }
  return { kind: 'count', value: integer(tag, raw, 1, 100_000, expected) };
}

export function parseMinHealthyPercent(raw: string): number {
  return integer(SettingTags.minHealthyPercent, raw, 0, 100, 'a whole percentage in 0..100');
}

function parseSeconds(tag: string, raw: string): number {
  return integer(tag, raw, 0, MAX_WAIT_SECONDS, `a whole number of seconds in 0..${MAX_WAIT_SECONDS}`);
}

export function parseAlarms(raw: string): string[] {
  const tag = SettingTags.alarms;
  const names = [...new Set(raw.split(',').map((n) => n.trim()))];
  const expected = `comma-separated CloudWatch alarm names (1-255 characters each, at most ${MAX_ALARMS})`;
  if (names.some((n) => !isAlarmName(n)) || names.length > MAX_ALARMS) {
    throw new InvalidFleetSettingError(tag, raw, expected);
  }
  return names;
}

export function parseStrategy(raw: string): Strategy {
  const found = STRATEGIES.find((s) => s === raw);
  if (found === undefined)
    throw new InvalidFleetSettingError(SettingTags.strategy, raw, STRATEGIES.join(' or '));
  return found;
}

export function parseCanary(raw: string): boolean {
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw new InvalidFleetSettingError(SettingTags.canary, raw, 'true or false');
}

/**
 * The fleet's settings from its tags (`key → value`). An absent tag (or one with an empty value)
 * takes its default; any other value that does not parse throws `InvalidFleetSettingError`.
 */
export function parseFleetSettings(tags: Readonly<Record<string, string | undefined>>): FleetSettings {
  const value = (key: string) => {
    const v = tags[key]?.trim();
    return v === undefined || v === '' ? undefined : v;
  };
  const surge = value(SettingTags.maxSurge);
  const minHealthy = value(SettingTags.minHealthyPercent);
  const warmup = value(SettingTags.warmupSeconds);
  const bake = value(SettingTags.bakeSeconds);
  const alarms = value(SettingTags.alarms);
  const strategy = value(SettingTags.strategy);
  const canary = value(SettingTags.canary);
  return {
    maxSurge: surge === undefined ? DEFAULT_MAX_SURGE : parseMaxSurge(surge),
    minHealthyPercent:
      minHealthy === undefined ? DEFAULT_MIN_HEALTHY_PERCENT : parseMinHealthyPercent(minHealthy),
    warmupSeconds: warmup === undefined ? 0 : parseSeconds(SettingTags.warmupSeconds, warmup),
    bakeSeconds: bake === undefined ? 0 : parseSeconds(SettingTags.bakeSeconds, bake),
    alarms: alarms === undefined ? [] : parseAlarms(alarms),
    strategy: strategy === undefined ? 'rolling' : parseStrategy(strategy),
    canary: canary === undefined ? false : parseCanary(canary),
  };
}

/** New instances per batch for a fleet of `desiredCapacity`: at least 1, at most the fleet. */
export function surgeSize(surge: Surge, desiredCapacity: number): number {
  const n =
    surge.kind === 'count' ? surge.value : Math.ceil((Math.max(0, desiredCapacity) * surge.value) / 100);
  return Math.max(1, Math.min(n, Math.max(1, desiredCapacity)));
}

/**
 * How many instances must serve at all times during a rollout: `minHealthyPercent` of desired
 * capacity, rounded up.
 */
export function minHealthyCount(minHealthyPercent: number, desiredCapacity: number): number {
  return Math.ceil((Math.max(0, desiredCapacity) * minHealthyPercent) / 100);
}
