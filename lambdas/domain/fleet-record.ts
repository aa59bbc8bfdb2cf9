/**
 * The fleet record Phoenix keeps in DynamoDB (one item per fleet, key `FLEET#<fleet>`): the
 * desired image, the history of images with their outcomes, and the lock of the active rollout.
 * Records are parsed when read (`parseFleetRecord` and one parser per part): a stored value of the
 * wrong shape is a MalformedRecordError naming the field, not a cast that fails later.
 *
 * Pure module: no SDK imports.
 */
import type { CircuitFlag, CircuitState } from './circuit';
import { ErrorNames, PhoenixError } from './errors';

/** `superseded` and `paused`: stopped cleanly at a safe point, not rolled back. */
export type RolloutOutcome = 'succeeded' | 'rolled-back' | 'rejected' | 'failed' | 'superseded' | 'paused';

export interface HistoryEntry {
  readonly imageId: string;
  readonly outcome: RolloutOutcome;
  /** ISO-8601. */
  readonly at: string;
  readonly execution: string;
  readonly reason?: string;
  readonly step?: string;
  /** `rollback`: the execution was a `phoenix rollback` (absent: a rollout of a published image). */
  readonly mode?: 'rollback';
}

/** How a replacement ended (the Replace workflow's outcome: InstanceReplaced, ReplacementFailed, ReplacementSkipped). */
export type ReplacementOutcome = 'replaced' | 'failed' | 'skipped';

/** One ended replacement, recorded on the fleet record when its Replace workflow ends. */
export interface ReplacementEntry {
  readonly instanceId: string;
  /** Why it was replaced (the intent's cause: `status-check`, `interruption`, `drift` …). */
  readonly cause: string;
  readonly outcome: ReplacementOutcome;
  /** ISO-8601: when the workflow ended. */
  readonly at: string;
  readonly execution: string;
  /** The image the replaced instance ran, when known. */
  readonly imageId?: string;
  /** The instance that took its place, when known. */
  readonly replacementInstanceId?: string;
  readonly reason?: string;
  /** The step that failed. */
  readonly step?: string;
}

export interface ActiveRollout {
  readonly execution: string;
  readonly imageId: string;
  readonly startedAt: string;
  /** Epoch seconds after which the lock counts as abandoned (the workflow's own timeout). */
  readonly expiresAt: number;
  /** The image's CreationDate (ISO-8601): a rollout of a newer image may supersede this one. */
  readonly imageCreatedAt?: string;
}

/** A rollout of a newer image asks the active rollout to stop at its next safe point. */
export interface SupersedeRequest {
  readonly imageId: string;
  /** The image's CreationDate (ISO-8601). */
  readonly imageCreatedAt: string;
  /** The waiting execution. */
  readonly execution: string;
  /** ISO-8601. */
  readonly at: string;
}

export interface ReplacementSlot {
  readonly execution: string;
  /** ISO-8601. */
  readonly since: string;
}

/** `phoenix pause`: no automation starts for the fleet while this is set (see README). */
export interface FleetPause {
  /** ISO-8601. */
  readonly at: string;
  readonly reason: string;
}

/** A rollback pins the fleet to its image: publications on its channel are ignored until released. */
export interface PinnedImage {
  readonly imageId: string;
  /** ISO-8601. */
  readonly at: string;
  /** The rollback execution that committed it. */
  readonly execution: string;
}

/** A rollout waiting for a slot of the global fan-out limit (`maxConcurrentRollouts`). */
export interface RolloutQueue {
  /** ISO-8601: when it first found no slot free. */
  readonly since: string;
  /** Slots held when it last asked, and the limit. */
  readonly inFlight: number;
  readonly limit: number;
}

/** Chaos mode's kill of one instance of the fleet. */
export interface ChaosKillMark {
  /** ISO-8601: when. */
  readonly at: string;
  readonly instanceId: string;
  /** ISO-8601 start of the chaos period it was the kill of. */
  readonly period: string;
}

/** A launch template version a fleet's group launches, with its creation time (reconcile sweep). */
export interface ObservedLaunchTemplate {
  readonly id: string;
  readonly version: string;
  /** ISO-8601: when the version was created (DescribeLaunchTemplateVersions' CreateTime). */
  readonly createdAt: string;
  /** The AMI id the version launches (its LaunchTemplateData.ImageId, when an AMI id). */
  readonly imageId?: string;
}

export interface FleetRecord {
  /** The group's launch template version as the last reconcile sweep saw it (read once per version). */
  readonly observedLaunchTemplate?: ObservedLaunchTemplate;
  readonly fleet: string;
  readonly channel?: string;
  readonly desiredImage?: string;
  readonly previousImage?: string;
  readonly imageHistory?: readonly HistoryEntry[];
  /** Ended replacements, oldest first (kept within REPLACEMENT_HISTORY_LIMIT). */
  readonly replacementHistory?: readonly ReplacementEntry[];
  readonly activeRollout?: ActiveRollout;
  /** Replacements in flight (the disruption budget's slots), by instance id. */
  readonly replacements?: Readonly<Record<string, ReplacementSlot>>;
  /** How many slots are held: `replacements`' size, kept by the same atomic updates. */
  readonly replacementsInFlight?: number;
  /** Chaos mode's last kill (one per period, written by a conditional update). */
  readonly lastChaosKill?: ChaosKillMark;
  /** Set by `phoenix pause`, removed by `phoenix resume`. */
  readonly paused?: FleetPause;
  /** Set when a rollback commits; removed by an explicit PublishImage or `phoenix unpin`. */
  readonly pinnedImage?: PinnedImage;
  /** A newer image's rollout waits for the lock: the active rollout stops at its next safe point. */
  readonly supersedeRequested?: SupersedeRequest;
  /** The desired image's CreationDate (ISO-8601), recorded at commit: older images are rejected. */
  readonly desiredImageCreatedAt?: string;
  /** The active rollout is waiting for a global rollout slot (removed once it has one). */
  readonly rolloutQueued?: RolloutQueue;
  /** The fleet's circuit breaker (written by aws/circuit.ts with its own version counter). */
  readonly circuit?: CircuitState;
  readonly updatedAt?: string;
}

/** How many history entries a fleet record keeps (newest last). */
export const HISTORY_LIMIT = 50;

/** How many replacement entries a fleet record keeps (newest last). */
export const REPLACEMENT_HISTORY_LIMIT = 50;

export const fleetKey = (fleet: string) => `FLEET#${fleet}`;

/** How many of the oldest entries to drop so that the history fits its limit again. */
export function historyOverflow(length: number, limit = HISTORY_LIMIT): number {
  return Math.max(0, length - limit);
}

/**
 * The global fan-out limit: one item (key `ROLLOUTS`) holds the rollout slots, by execution, each
 * with its expiry (epoch seconds, the workflow's timeout: a dead execution's slot is reclaimed).
 */
export const ROLLOUT_SLOTS_KEY = 'ROLLOUTS';

/** The global rollout slots (the `ROLLOUTS` item). */
export interface RolloutSlots {
  /** Execution name → epoch seconds after which the slot counts as abandoned. */
  readonly slots: Readonly<Record<string, number>>;
  readonly inFlight: number;
}

/**
 * A rollout waiting for a global slot (the callback pattern: its Step Functions task token),
 * `waiters.<execution>` on the `ROLLOUTS` item.
 */
export interface SlotWaiter {
  /** The task token of its WaitForRolloutSlot task. */
  readonly token: string;
  /** When it registered (ISO 8601): the oldest is woken first. */
  readonly since: string;
  /** The expiry of the slot it is granted (its fleet lock's, epoch seconds). */
  readonly expiresAt: number;
}

/** The queue for the global rollout slots on the `ROLLOUTS` item. */
export interface RolloutSlotQueue {
  /** Execution name → its waiter. */
  readonly waiters: Readonly<Record<string, SlotWaiter>>;
  /**
   * Execution name → the token it was woken with: a slot granted to it that it has not claimed
   * yet (its AcquireFleetLock claims it); given back if its token turns out gone.
   */
  readonly granted: Readonly<Record<string, string>>;
  /** The `maxConcurrentRollouts` the last rollout asked with (what a release wakes up to). */
  readonly limit?: number;
}

/** Default `maxConcurrentRollouts`: 20, measured by bench/scale.ts (docs/rollouts.md, "Fan-out is bounded"). */
export const DEFAULT_MAX_CONCURRENT_ROLLOUTS = 20;

/**
 * The images a fleet may be rolled back to, newest first: images of its succeeded history entries
 * other than `exclude` (its current desired image), each once; then the record's previousImage
 * if it is not among them.
 */
export function rollbackCandidates(record: FleetRecord | undefined): string[] {
  if (record === undefined) return [];
  const exclude = record.desiredImage;
  const out: string[] = [];
  for (const entry of [...(record.imageHistory ?? [])].reverse()) {
    if (entry.outcome !== 'succeeded' || entry.imageId === exclude || out.includes(entry.imageId)) continue;
    out.push(entry.imageId);
  }
  if (
    record.previousImage !== undefined &&
    record.previousImage !== exclude &&
    !out.includes(record.previousImage)
  ) {
    out.push(record.previousImage);
  }
  return out;
}

// --- parsing stored records ----------------------------------------------------------------------

/** A stored record (or a part of one) is not of the shape Phoenix writes: names the field and value. */
export class MalformedRecordError extends PhoenixError {
  override readonly name = ErrorNames.MalformedRecordError;
}

type Fields = Readonly<Record<string, unknown>>;
/** Reads one stored value; `what` names it (e.g. `fleet record web.activeRollout.expiresAt`). */
type Read<T> = (what: string, value: unknown) => T;

function malformed(what: string, expected: string, value: unknown): never {
  throw new MalformedRecordError(`${what} is not ${expected}: got ${JSON.stringify(value) ?? String(value)}`);
}

function fieldsOf(what: string, value: unknown): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) malformed(what, 'a map', value);
  return value as Fields;
}

/** An optional field: absent or DynamoDB NULL reads as undefined. */
function optional<T>(fields: Fields, what: string, key: string, read: Read<T>): T | undefined {
  const value = fields[key];
  return value === undefined || value === null ? undefined : read(`${what}.${key}`, value);
}

function required<T>(fields: Fields, what: string, key: string, read: Read<T>): T {
  const value = optional(fields, what, key, read);
  if (value === undefined) throw new MalformedRecordError(`${what}.${key} is missing`);
  return value;
}

const string: Read<string> = (what, value) =>
  typeof value === 'string' ? value : malformed(what, 'a string', value);

const number: Read<number> = (what, value) =>
  typeof value === 'number' && Number.isFinite(value) ? value : malformed(what, 'a number', value);

const listOf =
  <T>(read: Read<T>): Read<T[]> =>
  (what, value) =>
    Array.isArray(value) ? value.map((v, i) => read(`${what}[${i}]`, v)) : malformed(what, 'a list', value);

const mapOf =
  <T>(read: Read<T>): Read<Record<string, T>> =>
  (what, value) =>
    Object.fromEntries(Object.entries(fieldsOf(what, value)).map(([k, v]) => [k, read(`${what}.${k}`, v)]));

const oneOf =
  <T extends string>(values: readonly T[]): Read<T> =>
  (what, value) =>
    values.includes(value as T) ? (value as T) : malformed(what, `one of ${values.join(', ')}`, value);

/** The object without its undefined fields (a parsed record has no key for an absent field). */
function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** A parser of a map-valued part: its fields read with `fields(...)`. */
const part =
  <T extends object>(parse: (fields: Fields, what: string) => T): Read<T> =>
  (what, value) =>
    defined(parse(fieldsOf(what, value), what));

const ROLLOUT_OUTCOMES: readonly RolloutOutcome[] = [
  'succeeded',
  'rolled-back',
  'rejected',
  'failed',
  'superseded',
  'paused',
];

export const parseHistoryEntry: Read<HistoryEntry> = part((f, what) => ({
  imageId: required(f, what, 'imageId', string),
  outcome: required(f, what, 'outcome', oneOf(ROLLOUT_OUTCOMES)),
  at: required(f, what, 'at', string),
  execution: required(f, what, 'execution', string),
  reason: optional(f, what, 'reason', string),
  step: optional(f, what, 'step', string),
  mode: optional(f, what, 'mode', oneOf(['rollback'] as const)),
}));

const REPLACEMENT_OUTCOMES: readonly ReplacementOutcome[] = ['replaced', 'failed', 'skipped'];

export const parseReplacementEntry: Read<ReplacementEntry> = part((f, what) => ({
  instanceId: required(f, what, 'instanceId', string),
  cause: required(f, what, 'cause', string),
  outcome: required(f, what, 'outcome', oneOf(REPLACEMENT_OUTCOMES)),
  at: required(f, what, 'at', string),
  execution: required(f, what, 'execution', string),
  imageId: optional(f, what, 'imageId', string),
  replacementInstanceId: optional(f, what, 'replacementInstanceId', string),
  reason: optional(f, what, 'reason', string),
  step: optional(f, what, 'step', string),
}));

export const parseActiveRollout: Read<ActiveRollout> = part((f, what) => ({
  execution: required(f, what, 'execution', string),
  imageId: required(f, what, 'imageId', string),
  startedAt: required(f, what, 'startedAt', string),
  expiresAt: required(f, what, 'expiresAt', number),
  imageCreatedAt: optional(f, what, 'imageCreatedAt', string),
}));

export const parseSupersedeRequest: Read<SupersedeRequest> = part((f, what) => ({
  imageId: required(f, what, 'imageId', string),
  imageCreatedAt: required(f, what, 'imageCreatedAt', string),
  execution: required(f, what, 'execution', string),
  at: required(f, what, 'at', string),
}));

export const parseReplacementSlot: Read<ReplacementSlot> = part((f, what) => ({
  execution: required(f, what, 'execution', string),
  since: required(f, what, 'since', string),
}));

export const parseFleetPause: Read<FleetPause> = part((f, what) => ({
  at: required(f, what, 'at', string),
  reason: required(f, what, 'reason', string),
}));

export const parsePinnedImage: Read<PinnedImage> = part((f, what) => ({
  imageId: required(f, what, 'imageId', string),
  at: required(f, what, 'at', string),
  execution: required(f, what, 'execution', string),
}));

export const parseRolloutQueue: Read<RolloutQueue> = part((f, what) => ({
  since: required(f, what, 'since', string),
  inFlight: required(f, what, 'inFlight', number),
  limit: required(f, what, 'limit', number),
}));

export const parseChaosKillMark: Read<ChaosKillMark> = part((f, what) => ({
  at: required(f, what, 'at', string),
  instanceId: required(f, what, 'instanceId', string),
  period: required(f, what, 'period', string),
}));

export const parseObservedLaunchTemplate: Read<ObservedLaunchTemplate> = part((f, what) => ({
  id: required(f, what, 'id', string),
  version: required(f, what, 'version', string),
  createdAt: required(f, what, 'createdAt', string),
  imageId: optional(f, what, 'imageId', string),
}));

const parseCircuitFlag: Read<CircuitFlag> = part((f, what) => ({
  instanceId: required(f, what, 'instanceId', string),
  cause: required(f, what, 'cause', string),
  at: required(f, what, 'at', string),
}));

export const parseCircuitState: Read<CircuitState> = part((f, what) => ({
  flags: optional(f, what, 'flags', listOf(parseCircuitFlag)) ?? [],
  openedAt: optional(f, what, 'openedAt', string),
}));

/**
 * A fleet record as read from the table (its key attribute left out), or MalformedRecordError.
 * `fleet` is the fleet of the item's key (the record's own `fleet` field, when present, wins).
 * Attributes of other aggregates on the item (e.g. `circuitVersion`) are not part of the record.
 */
export function parseFleetRecord(value: unknown, fleet: string): FleetRecord {
  return part<FleetRecord>((f, what) => ({
    fleet: optional(f, what, 'fleet', string) ?? fleet,
    channel: optional(f, what, 'channel', string),
    desiredImage: optional(f, what, 'desiredImage', string),
    previousImage: optional(f, what, 'previousImage', string),
    imageHistory: optional(f, what, 'imageHistory', listOf(parseHistoryEntry)),
    replacementHistory: optional(f, what, 'replacementHistory', listOf(parseReplacementEntry)),
    activeRollout: optional(f, what, 'activeRollout', parseActiveRollout),
    replacements: optional(f, what, 'replacements', mapOf(parseReplacementSlot)),
    replacementsInFlight: optional(f, what, 'replacementsInFlight', number),
    lastChaosKill: optional(f, what, 'lastChaosKill', parseChaosKillMark),
    paused: optional(f, what, 'paused', parseFleetPause),
    pinnedImage: optional(f, what, 'pinnedImage', parsePinnedImage),
    supersedeRequested: optional(f, what, 'supersedeRequested', parseSupersedeRequest),
    desiredImageCreatedAt: optional(f, what, 'desiredImageCreatedAt', string),
    rolloutQueued: optional(f, what, 'rolloutQueued', parseRolloutQueue),
    observedLaunchTemplate: optional(f, what, 'observedLaunchTemplate', parseObservedLaunchTemplate),
    circuit: optional(f, what, 'circuit', parseCircuitState),
    updatedAt: optional(f, what, 'updatedAt', string),
  }))(`fleet record ${fleet}`, value);
}

/** The `ROLLOUTS` item (absent: no slot taken yet), or MalformedRecordError. */
export function parseRolloutSlotQueue(value: unknown): RolloutSlotQueue {
  const what = `rollout slots ${ROLLOUT_SLOTS_KEY}`;
  const f = value === undefined ? {} : fieldsOf(what, value);
  const waiter = part<SlotWaiter>((w, at) => ({
    token: required(w, at, 'token', string),
    since: required(w, at, 'since', string),
    expiresAt: required(w, at, 'expiresAt', number),
  }));
  return defined({
    waiters: optional(f, what, 'waiters', mapOf(waiter)) ?? {},
    granted: optional(f, what, 'granted', mapOf(string)) ?? {},
    limit: optional(f, what, 'slotLimit', number),
  });
}

export function parseRolloutSlots(value: unknown): RolloutSlots {
  const what = `rollout slots ${ROLLOUT_SLOTS_KEY}`;
  const f = value === undefined ? {} : fieldsOf(what, value);
  return {
    slots: optional(f, what, 'slots', mapOf(number)) ?? {},
    inFlight: optional(f, what, 'inFlight', number) ?? 0,
  };
}
