/**
 * Fleet records in DynamoDB (see domain/fleet-record.ts) and outcome events on the Phoenix bus.
 */
import {
  type AttributeValue,
  BatchGetItemCommand,
  GetItemCommand,
  UpdateItemCommand,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { Env, OUTCOME_SOURCE } from '../domain/contract';
import { TransientAwsError } from '../domain/errors';
import {
  type ActiveRollout,
  type FleetPause,
  type FleetRecord,
  fleetKey,
  type HistoryEntry,
  type ObservedLaunchTemplate,
  historyOverflow,
  type PinnedImage,
  ROLLOUT_SLOTS_KEY,
  type RolloutQueue,
  type SupersedeRequest,
} from '../domain/fleet-record';
import { aws, errorName, requireEnv } from './errors';
import { dynamo, eventBridge } from './clients';

// --- marshalling (small and explicit: the record has a fixed shape) -------------------------------

type Item = Record<string, AttributeValue>;

function toAttr(value: unknown): AttributeValue {
  if (value === null || value === undefined) return { NULL: true };
  if (typeof value === 'string') return { S: value };
  if (typeof value === 'number') return { N: String(value) };
  if (typeof value === 'boolean') return { BOOL: value };
  if (Array.isArray(value)) return { L: value.map(toAttr) };
  if (typeof value === 'object') {
    const m: Item = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) m[k] = toAttr(v);
    return { M: m };
  }
  throw new TypeError(`cannot store ${typeof value}`);
}

function fromAttr(attr: AttributeValue): unknown {
  if (attr.S !== undefined) return attr.S;
  if (attr.N !== undefined) return Number(attr.N);
  if (attr.BOOL !== undefined) return attr.BOOL;
  if (attr.NULL !== undefined) return null;
  if (attr.L !== undefined) return attr.L.map(fromAttr);
  if (attr.M !== undefined) return fromItem(attr.M);
  return undefined;
}

function fromItem(item: Item): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(item)) out[k] = fromAttr(v);
  return out;
}

const table = () => requireEnv(Env.tableName);
const key = (fleet: string): Item => ({ pk: { S: fleetKey(fleet) } });

/**
 * A conditional UpdateItem: true when it was applied, false when its condition did not hold
 * (ConditionalCheckFailedException); any other error as `aws()` classifies it.
 */
async function conditionalUpdate(input: UpdateItemCommandInput): Promise<boolean> {
  try {
    await dynamo().send(new UpdateItemCommand(input));
    return true;
  } catch (error) {
    if (errorName(error) === 'ConditionalCheckFailedException') return false;
    return aws('UpdateItem', () => Promise.reject(error as Error));
  }
}

/** Remember the launch template version a fleet's group launches, with its creation time (reconcile). */
export async function recordObservedLaunchTemplate(
  fleet: string,
  observed: ObservedLaunchTemplate,
): Promise<void> {
  await conditionalUpdate({
    TableName: table(),
    Key: key(fleet),
    UpdateExpression: 'SET observedLaunchTemplate = :lt',
    ConditionExpression: 'attribute_exists(pk)',
    ExpressionAttributeValues: { ':lt': toAttr(observed) },
  });
}

export async function readFleetRecord(fleet: string): Promise<FleetRecord | undefined> {
  const result = await aws('GetItem', () =>
    dynamo().send(new GetItemCommand({ TableName: table(), Key: key(fleet), ConsistentRead: true })),
  );
  if (!result.Item) return undefined;
  const { pk: _pk, ...rest } = fromItem(result.Item);
  return rest as unknown as FleetRecord;
}

/**
 * Many fleet records at once: BatchGetItem, 100 keys per call (strongly consistent), unprocessed
 * keys asked again (at most `maxRounds` rounds per chunk, with a short growing pause; then a
 * transient error). `onCall` is told of each call (for callers that count their calls). A fleet
 * without a record maps to undefined.
 */
export async function readFleetRecords(
  fleets: readonly string[],
  options: { onCall?: () => void; maxRounds?: number } = {},
): Promise<Map<string, FleetRecord | undefined>> {
  const out = new Map<string, FleetRecord | undefined>(fleets.map((f) => [f, undefined]));
  const unique = [...new Set(fleets)];
  const maxRounds = options.maxRounds ?? 8;
  for (let i = 0; i < unique.length; i += 100) {
    let keys: Item[] = unique.slice(i, i + 100).map(key);
    for (let round = 1; keys.length > 0; round++) {
      if (round > maxRounds) {
        throw new TransientAwsError(
          `BatchGetItem left ${keys.length} fleet record(s) unprocessed after ${maxRounds} rounds`,
        );
      }
      if (round > 1) await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 25 * 2 ** round)));
      options.onCall?.();
      const result = await aws('BatchGetItem', () =>
        dynamo().send(
          new BatchGetItemCommand({
            RequestItems: { [table()]: { Keys: keys, ConsistentRead: true } },
          }),
        ),
      );
      for (const item of result.Responses?.[table()] ?? []) {
        const { pk, ...rest } = fromItem(item);
        const fleet = typeof pk === 'string' ? pk.slice(fleetKey('').length) : undefined;
        if (fleet !== undefined && out.has(fleet)) out.set(fleet, rest as unknown as FleetRecord);
      }
      keys = result.UnprocessedKeys?.[table()]?.Keys ?? [];
    }
  }
  return out;
}

/**
 * Take the fleet's rollout lock for `execution`. Succeeds when the fleet is free, already held by
 * the same execution (a retried step), or held by a lock past its expiry. Returns the record as it
 * was, or `{ busy }` with the holder.
 */
export async function acquireLock(args: {
  fleet: string;
  channel: string;
  lock: ActiveRollout;
  now: Date;
}): Promise<
  | { acquired: true; record: FleetRecord }
  | { acquired: false; holder?: ActiveRollout; paused?: FleetPause; record?: FleetRecord }
> {
  try {
    const result = await dynamo().send(
      new UpdateItemCommand({
        TableName: table(),
        Key: key(args.fleet),
        UpdateExpression: 'SET fleet = :fleet, channel = :channel, activeRollout = :lock, updatedAt = :now',
        // A paused fleet (`phoenix pause`) starts nothing.
        ConditionExpression:
          'attribute_not_exists(paused) AND (attribute_not_exists(activeRollout) OR activeRollout.execution = :execution OR activeRollout.expiresAt < :epoch)',
        ExpressionAttributeValues: {
          ':fleet': toAttr(args.fleet),
          ':channel': toAttr(args.channel),
          ':lock': toAttr(args.lock),
          ':now': toAttr(args.now.toISOString()),
          ':execution': toAttr(args.lock.execution),
          ':epoch': toAttr(Math.floor(args.now.getTime() / 1000)),
        },
        ReturnValues: 'ALL_OLD',
      }),
    );
    const { pk: _pk, ...old } = result.Attributes ? fromItem(result.Attributes) : {};
    return { acquired: true, record: { fleet: args.fleet, ...(old as Partial<FleetRecord>) } };
  } catch (error) {
    if (errorName(error) === 'ConditionalCheckFailedException') {
      const record = await readFleetRecord(args.fleet);
      return {
        acquired: false,
        ...(record?.activeRollout ? { holder: record.activeRollout } : {}),
        ...(record?.paused ? { paused: record.paused } : {}),
        ...(record ? { record } : {}),
      };
    }
    return aws('UpdateItem', () => Promise.reject(error as Error));
  }
}

/**
 * Continue-as-new: the continuation `lock.execution` takes the fleet lock from its predecessor
 * `from` (or holds it already: a retried step). Returns false when neither holds it.
 */
export async function takeOverLock(args: {
  fleet: string;
  from: string;
  lock: ActiveRollout;
  now: Date;
}): Promise<boolean> {
  return conditionalUpdate({
    TableName: table(),
    Key: key(args.fleet),
    UpdateExpression: 'SET activeRollout = :lock, updatedAt = :now',
    ConditionExpression: 'activeRollout.execution = :from OR activeRollout.execution = :execution',
    ExpressionAttributeValues: {
      ':lock': toAttr(args.lock),
      ':now': toAttr(args.now.toISOString()),
      ':from': toAttr(args.from),
      ':execution': toAttr(args.lock.execution),
    },
  });
}

/**
 * Ask the rollout `holder` (while it holds the fleet lock) to stop at its next safe point for a
 * newer image's rollout. A request of an image at least as new stays. Returns whether it is set.
 */
export async function requestSupersede(args: {
  fleet: string;
  holder: string;
  request: SupersedeRequest;
  now: Date;
}): Promise<boolean> {
  return conditionalUpdate({
    TableName: table(),
    Key: key(args.fleet),
    UpdateExpression: 'SET supersedeRequested = :request, updatedAt = :now',
    ConditionExpression:
      'activeRollout.execution = :holder AND (attribute_not_exists(supersedeRequested) OR supersedeRequested.execution = :execution OR supersedeRequested.imageCreatedAt < :createdAt)',
    ExpressionAttributeValues: {
      ':request': toAttr(args.request),
      ':now': toAttr(args.now.toISOString()),
      ':holder': toAttr(args.holder),
      ':execution': toAttr(args.request.execution),
      ':createdAt': toAttr(args.request.imageCreatedAt),
    },
  });
}

/** Remove the supersede request of `execution` (it took the lock, or gave up); idempotent. */
export async function clearSupersede(fleet: string, execution: string): Promise<void> {
  await conditionalUpdate({
    TableName: table(),
    Key: key(fleet),
    UpdateExpression: 'REMOVE supersedeRequested',
    ConditionExpression: 'supersedeRequested.execution = :execution',
    ExpressionAttributeValues: { ':execution': toAttr(execution) },
  });
}

/**
 * Append a history entry; release the lock if `execution` holds it; with `desiredImage`, record
 * the fleet's new desired image (and the one it replaces). Keeps the history within its limit.
 */
export async function recordOutcome(args: {
  fleet: string;
  execution: string;
  entry: HistoryEntry;
  desiredImage?: string;
  previousImage?: string;
  /** With `desiredImage`: its CreationDate (older images are rejected later). */
  desiredImageCreatedAt?: string;
  /** A committed rollback: pin the fleet to its image. */
  pin?: PinnedImage;
  now: Date;
}): Promise<void> {
  const values: Item = {
    ':entry': toAttr([args.entry]),
    ':empty': { L: [] },
    ':now': toAttr(args.now.toISOString()),
    ':fleet': toAttr(args.fleet),
  };
  let set =
    'fleet = :fleet, imageHistory = list_append(if_not_exists(imageHistory, :empty), :entry), updatedAt = :now';
  if (args.desiredImage !== undefined) {
    set += ', desiredImage = :desired';
    values[':desired'] = toAttr(args.desiredImage);
    if (args.previousImage !== undefined) {
      set += ', previousImage = :previous';
      values[':previous'] = toAttr(args.previousImage);
    }
    if (args.desiredImageCreatedAt !== undefined) {
      set += ', desiredImageCreatedAt = :desiredCreatedAt';
      values[':desiredCreatedAt'] = toAttr(args.desiredImageCreatedAt);
    }
  }
  if (args.pin !== undefined) {
    set += ', pinnedImage = :pin';
    values[':pin'] = toAttr(args.pin);
  }
  const update = async (release: boolean) =>
    dynamo().send(
      new UpdateItemCommand({
        TableName: table(),
        Key: key(args.fleet),
        UpdateExpression: `SET ${set}${release ? ' REMOVE activeRollout, rolloutQueued' : ''}`,
        ...(release
          ? {
              ConditionExpression: 'attribute_exists(activeRollout) AND activeRollout.execution = :execution',
              ExpressionAttributeValues: { ...values, ':execution': toAttr(args.execution) },
            }
          : { ExpressionAttributeValues: values }),
        ReturnValues: 'UPDATED_NEW',
      }),
    );
  let result;
  try {
    result = await update(true);
  } catch (error) {
    if (!(errorName(error) === 'ConditionalCheckFailedException')) {
      return aws('UpdateItem', () => Promise.reject(error as Error));
    }
    // The lock is not ours (another rollout holds it, or none does): record without touching it.
    result = await aws('UpdateItem', () => update(false));
  }
  // Wherever the fleet lock is released, so is the execution's global rollout slot (idempotent).
  await releaseRolloutSlot(args.execution, args.now);
  const length = result.Attributes?.['imageHistory']?.L?.length ?? 0;
  const overflow = historyOverflow(length);
  if (overflow > 0) {
    const drop = Array.from({ length: overflow }, (_, i) => `imageHistory[${i}]`).join(', ');
    await aws('UpdateItem', () =>
      dynamo().send(
        new UpdateItemCommand({
          TableName: table(),
          Key: key(args.fleet),
          UpdateExpression: `REMOVE ${drop}`,
        }),
      ),
    );
  }
}

// --- pause and pin (phoenix pause / resume / rollback / unpin) -----------------------------------

/**
 * Pause the fleet: `paused = {at, reason}` on its record (created if absent). An existing pause is
 * kept as it was (`already: true`).
 */
export async function pauseFleet(
  fleet: string,
  pause: FleetPause,
  now: Date,
): Promise<{ paused: FleetPause; already: boolean }> {
  try {
    await dynamo().send(
      new UpdateItemCommand({
        TableName: table(),
        Key: key(fleet),
        UpdateExpression: 'SET fleet = :fleet, paused = :paused, updatedAt = :now',
        ConditionExpression: 'attribute_not_exists(paused)',
        ExpressionAttributeValues: {
          ':fleet': toAttr(fleet),
          ':paused': toAttr(pause),
          ':now': toAttr(now.toISOString()),
        },
      }),
    );
    return { paused: pause, already: false };
  } catch (error) {
    if (errorName(error) !== 'ConditionalCheckFailedException') {
      return aws('UpdateItem', () => Promise.reject(error as Error));
    }
  }
  const record = await readFleetRecord(fleet);
  return { paused: record?.paused ?? pause, already: true };
}

/** Remove the fleet's pause; returns it, or undefined when the fleet was not paused. */
export async function unpauseFleet(fleet: string, now: Date): Promise<FleetPause | undefined> {
  return removeAttribute(fleet, 'paused', now) as Promise<FleetPause | undefined>;
}

/** Release the fleet's pin (a rollback's); returns it, or undefined when it was not pinned. */
export async function unpinFleet(fleet: string, now: Date): Promise<PinnedImage | undefined> {
  return removeAttribute(fleet, 'pinnedImage', now) as Promise<PinnedImage | undefined>;
}

async function removeAttribute(fleet: string, name: 'paused' | 'pinnedImage', now: Date) {
  try {
    const result = await dynamo().send(
      new UpdateItemCommand({
        TableName: table(),
        Key: key(fleet),
        UpdateExpression: 'REMOVE #attr SET updatedAt = :now',
        ConditionExpression: 'attribute_exists(#attr)',
        ExpressionAttributeNames: { '#attr': name },
        ExpressionAttributeValues: { ':now': toAttr(now.toISOString()) },
        ReturnValues: 'ALL_OLD',
      }),
    );
    const old = result.Attributes?.[name];
    return old !== undefined ? fromAttr(old) : undefined;
  } catch (error) {
    if (errorName(error) === 'ConditionalCheckFailedException') return undefined;
    return aws('UpdateItem', () => Promise.reject(error as Error));
  }
}

// --- the global fan-out limit (maxConcurrentRollouts) -------------------------------------------

const slotsKey: Item = { pk: { S: ROLLOUT_SLOTS_KEY } };

export interface RolloutSlots {
  /** Execution name → epoch seconds after which the slot counts as abandoned. */
  readonly slots: Readonly<Record<string, number>>;
  readonly inFlight: number;
}

/** The global rollout slots as they are now. */
export async function readRolloutSlots(): Promise<RolloutSlots> {
  const result = await aws('GetItem', () =>
    dynamo().send(new GetItemCommand({ TableName: table(), Key: slotsKey, ConsistentRead: true })),
  );
  const item = result.Item ? fromItem(result.Item) : {};
  return {
    slots: (item['slots'] as Record<string, number> | undefined) ?? {},
    inFlight: Number(item['inFlight'] ?? 0),
  };
}

/**
 * Take a global rollout slot for `execution`: a conditional update adds `slots.<execution> =
 * expiresAt` and increments `inFlight` only while it is below `limit`. A retried step (the slot
 * already held by `execution`) succeeds again. When none is free, slots past their expiry (dead
 * executions') are reclaimed and the slot asked for once more.
 */
export async function acquireRolloutSlot(args: {
  execution: string;
  limit: number;
  expiresAt: number;
  now: Date;
}): Promise<{ acquired: boolean; inFlight: number; reclaimed: string[] }> {
  await aws('UpdateItem', () =>
    dynamo().send(
      new UpdateItemCommand({
        TableName: table(),
        Key: slotsKey,
        UpdateExpression:
          'SET slots = if_not_exists(slots, :empty), inFlight = if_not_exists(inFlight, :zero)',
        ExpressionAttributeValues: { ':empty': { M: {} }, ':zero': toAttr(0) },
      }),
    ),
  );
  const take = async (): Promise<number | undefined> => {
    try {
      const result = await dynamo().send(
        new UpdateItemCommand({
          TableName: table(),
          Key: slotsKey,
          UpdateExpression: 'SET slots.#e = :expires, inFlight = inFlight + :one',
          ConditionExpression: 'attribute_not_exists(slots.#e) AND inFlight < :limit',
          ExpressionAttributeNames: { '#e': args.execution },
          ExpressionAttributeValues: {
            ':expires': toAttr(args.expiresAt),
            ':one': toAttr(1),
            ':limit': toAttr(args.limit),
          },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      return Number(result.Attributes?.['inFlight']?.N ?? 0);
    } catch (error) {
      if (errorName(error) === 'ConditionalCheckFailedException') return undefined;
      return aws('UpdateItem', () => Promise.reject(error as Error));
    }
  };
  const first = await take();
  if (first !== undefined) return { acquired: true, inFlight: first, reclaimed: [] };
  const current = await readRolloutSlots();
  if (current.slots[args.execution] !== undefined) {
    return { acquired: true, inFlight: current.inFlight, reclaimed: [] }; // a retried step
  }
  const epoch = Math.floor(args.now.getTime() / 1000);
  const reclaimed: string[] = [];
  for (const [execution, expiresAt] of Object.entries(current.slots)) {
    if (expiresAt < epoch && (await releaseRolloutSlot(execution, args.now, expiresAt))) {
      reclaimed.push(execution);
    }
  }
  if (reclaimed.length > 0) {
    const second = await take();
    if (second !== undefined) return { acquired: true, inFlight: second, reclaimed };
  }
  return { acquired: false, inFlight: current.inFlight - reclaimed.length, reclaimed };
}

/**
 * Give back the global rollout slot `execution` holds (with `expiresAt`: only if it still expires
 * then). Idempotent: false when it holds none.
 */
export async function releaseRolloutSlot(
  execution: string,
  _now: Date,
  expiresAt?: number,
): Promise<boolean> {
  return conditionalUpdate({
    TableName: table(),
    Key: slotsKey,
    UpdateExpression: 'REMOVE slots.#e SET inFlight = inFlight - :one',
    ConditionExpression: expiresAt === undefined ? 'attribute_exists(slots.#e)' : 'slots.#e = :expires',
    ExpressionAttributeNames: { '#e': execution },
    ExpressionAttributeValues: {
      ':one': toAttr(1),
      ...(expiresAt !== undefined ? { ':expires': toAttr(expiresAt) } : {}),
    },
  });
}

/**
 * Continue-as-new: the continuation `to` takes over the global rollout slot of its predecessor
 * `from` (with its own expiry), without ever freeing it for a third. Idempotent: true when `to`
 * holds a slot afterwards, false when neither held one.
 */
export async function transferRolloutSlot(args: {
  from: string;
  to: string;
  expiresAt: number;
}): Promise<boolean> {
  if (args.from === args.to) return true;
  try {
    await dynamo().send(
      new UpdateItemCommand({
        TableName: table(),
        Key: slotsKey,
        UpdateExpression: 'REMOVE slots.#from SET slots.#to = :expires',
        ConditionExpression: 'attribute_exists(slots.#from) AND attribute_not_exists(slots.#to)',
        ExpressionAttributeNames: { '#from': args.from, '#to': args.to },
        ExpressionAttributeValues: { ':expires': toAttr(args.expiresAt) },
      }),
    );
    return true;
  } catch (error) {
    if (errorName(error) !== 'ConditionalCheckFailedException') {
      return aws('UpdateItem', () => Promise.reject(error as Error));
    }
  }
  return (await readRolloutSlots()).slots[args.to] !== undefined;
}

/**
 * Mark the fleet's active rollout (held by `execution`) as waiting for a rollout slot, or clear
 * the mark (`queue` undefined). Nothing when `execution` does not hold the lock.
 */
export async function markRolloutQueued(
  fleet: string,
  execution: string,
  queue: RolloutQueue | undefined,
): Promise<void> {
  await conditionalUpdate({
    TableName: table(),
    Key: key(fleet),
    UpdateExpression: queue !== undefined ? 'SET rolloutQueued = :queue' : 'REMOVE rolloutQueued',
    ConditionExpression: 'activeRollout.execution = :execution',
    ExpressionAttributeValues: {
      ':execution': toAttr(execution),
      ...(queue !== undefined ? { ':queue': toAttr(queue) } : {}),
    },
  });
}

/**
 * Take one of the fleet's replacement slots for `instanceId` (disruption budget): a conditional
 * update adds `replacements.<instanceId> = {execution, since}` and increments
 * `replacementsInFlight` only while it is below `budget`. A retried step (the slot already held by
 * `execution`) succeeds again. Returns the record after the update (`activeRollout` included), or
 * `{ acquired: false }` with the count in flight.
 */
export async function acquireSlot(args: {
  fleet: string;
  instanceId: string;
  execution: string;
  budget: number;
  now: Date;
}): Promise<
  { acquired: true; inFlight: number; record: FleetRecord } | { acquired: false; inFlight: number }
> {
  // A map must exist before a path into it can be set.
  await aws('UpdateItem', () =>
    dynamo().send(
      new UpdateItemCommand({
        TableName: table(),
        Key: key(args.fleet),
        UpdateExpression:
          'SET fleet = :fleet, replacements = if_not_exists(replacements, :empty), replacementsInFlight = if_not_exists(replacementsInFlight, :zero)',
        ExpressionAttributeValues: { ':fleet': toAttr(args.fleet), ':empty': { M: {} }, ':zero': toAttr(0) },
      }),
    ),
  );
  try {
    const result = await dynamo().send(
      new UpdateItemCommand({
        TableName: table(),
        Key: key(args.fleet),
        UpdateExpression:
          'SET replacements.#id = :slot, replacementsInFlight = replacementsInFlight + :one, updatedAt = :now',
        ConditionExpression: 'attribute_not_exists(replacements.#id) AND replacementsInFlight < :budget',
        ExpressionAttributeNames: { '#id': args.instanceId },
        ExpressionAttributeValues: {
          ':slot': toAttr({ execution: args.execution, since: args.now.toISOString() }),
          ':one': toAttr(1),
          ':budget': toAttr(args.budget),
          ':now': toAttr(args.now.toISOString()),
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    const { pk: _pk, ...record } = result.Attributes ? fromItem(result.Attributes) : {};
    return {
      acquired: true,
      inFlight: Number(record['replacementsInFlight'] ?? 0),
      record: { fleet: args.fleet, ...(record as Partial<FleetRecord>) },
    };
  } catch (error) {
    if (errorName(error) !== 'ConditionalCheckFailedException') {
      return aws('UpdateItem', () => Promise.reject(error as Error));
    }
  }
  const record = await readFleetRecord(args.fleet);
  const inFlight = record?.replacementsInFlight ?? 0;
  if (record?.replacements?.[args.instanceId]?.execution === args.execution) {
    return { acquired: true, inFlight, record }; // a retried step: the slot is ours already
  }
  return { acquired: false, inFlight };
}

/** Give back the slot `execution` holds for `instanceId`; nothing when it holds none (idempotent). */
export async function releaseSlot(args: { fleet: string; instanceId: string; execution: string; now: Date }) {
  try {
    await dynamo().send(
      new UpdateItemCommand({
        TableName: table(),
        Key: key(args.fleet),
        UpdateExpression:
          'REMOVE replacements.#id SET replacementsInFlight = replacementsInFlight - :one, updatedAt = :now',
        ConditionExpression: 'replacements.#id.execution = :execution',
        ExpressionAttributeNames: { '#id': args.instanceId },
        ExpressionAttributeValues: {
          ':execution': toAttr(args.execution),
          ':one': toAttr(1),
          ':now': toAttr(args.now.toISOString()),
        },
      }),
    );
    return { released: true };
  } catch (error) {
    if (errorName(error) === 'ConditionalCheckFailedException') return { released: false };
    return aws('UpdateItem', () => Promise.reject(error as Error));
  }
}

/**
 * Chaos mode: claim the fleet's kill of `period` (`lastChaosKill = {at, instanceId, period}`) by a
 * conditional update that holds only while no kill of this period is recorded, no rollout lock is
 * live, no replacement slot is held and the fleet is not paused: two runs of one period cannot both
 * kill, and a fleet that changed since it was read is left alone. Returns the record as it is
 * when the claim fails.
 */
export async function claimChaosKill(args: {
  fleet: string;
  period: string;
  instanceId: string;
  now: Date;
}): Promise<{ claimed: true } | { claimed: false; record?: FleetRecord }> {
  try {
    await dynamo().send(
      new UpdateItemCommand({
        TableName: table(),
        Key: key(args.fleet),
        UpdateExpression: 'SET fleet = :fleet, lastChaosKill = :kill, updatedAt = :now',
        ConditionExpression:
          '(attribute_not_exists(lastChaosKill) OR lastChaosKill.period <> :period)' +
          ' AND (attribute_not_exists(activeRollout) OR activeRollout.expiresAt < :epoch)' +
          ' AND (attribute_not_exists(replacementsInFlight) OR replacementsInFlight <= :zero)' +
          ' AND (attribute_not_exists(paused) OR attribute_type(paused, :nullType) OR paused = :false)',
        ExpressionAttributeValues: {
          ':fleet': toAttr(args.fleet),
          ':kill': toAttr({ at: args.now.toISOString(), instanceId: args.instanceId, period: args.period }),
          ':now': toAttr(args.now.toISOString()),
          ':period': toAttr(args.period),
          ':epoch': toAttr(Math.floor(args.now.getTime() / 1000)),
          ':zero': toAttr(0),
          ':nullType': { S: 'NULL' },
          ':false': { BOOL: false },
        },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    return { claimed: true };
  } catch (error) {
    if (errorName(error) !== 'ConditionalCheckFailedException') {
      return aws('UpdateItem', () => Promise.reject(error as Error));
    }
    const item = (error as { Item?: Item }).Item;
    if (item === undefined) return { claimed: false };
    const { pk: _pk, ...rest } = fromItem(item);
    return { claimed: false, record: rest as unknown as FleetRecord };
  }
}

/**
 * Idempotency of intake: an `EVENT#<id>` item per event, claimed before acting (conditional
 * update), marked done after, and marked failed on an error so that a retry may claim it again.
 * A claim that is still in progress past `lockSeconds` (the function died) may be taken over.
 * Items expire (DynamoDB TTL on `expiresAt`) after a day.
 */
export async function claimEvent(
  eventId: string,
  now: Date,
  lockSeconds = 120,
): Promise<'claimed' | 'done' | 'in-progress'> {
  const epoch = Math.floor(now.getTime() / 1000);
  try {
    await dynamo().send(
      new UpdateItemCommand({
        TableName: table(),
        Key: { pk: { S: `EVENT#${eventId}` } },
        UpdateExpression: 'SET #status = :inProgress, lockedUntil = :lockedUntil, expiresAt = :expiresAt',
        ConditionExpression:
          'attribute_not_exists(pk) OR #status = :failed OR (#status = :inProgress AND lockedUntil < :now)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':inProgress': { S: 'IN_PROGRESS' },
          ':failed': { S: 'FAILED' },
          ':lockedUntil': { N: String(epoch + lockSeconds) },
          ':expiresAt': { N: String(epoch + 24 * 60 * 60) },
          ':now': { N: String(epoch) },
        },
      }),
    );
    return 'claimed';
  } catch (error) {
    if (errorName(error) !== 'ConditionalCheckFailedException')
      return aws('UpdateItem', () => Promise.reject(error as Error));
  }
  const existing = await aws('GetItem', () =>
    dynamo().send(
      new GetItemCommand({
        TableName: table(),
        Key: { pk: { S: `EVENT#${eventId}` } },
        ConsistentRead: true,
      }),
    ),
  );
  return existing.Item?.['status']?.S === 'COMPLETED' ? 'done' : 'in-progress';
}

/** Mark a claimed event done (`COMPLETED`) or failed (`FAILED`, claimable again). */
export async function settleEvent(eventId: string, status: 'COMPLETED' | 'FAILED'): Promise<void> {
  await aws('UpdateItem', () =>
    dynamo().send(
      new UpdateItemCommand({
        TableName: table(),
        Key: { pk: { S: `EVENT#${eventId}` } },
        UpdateExpression: 'SET #status = :status',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':status': { S: status } },
      }),
    ),
  );
}

/** Put one outcome event on the Phoenix bus; a rejected entry is a transient failure (retried). */
export async function putOutcome(
  detailType: string,
  detail: Record<string, unknown>,
  resources: string[] = [],
) {
  const result = await aws('PutEvents', () =>
    eventBridge().send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: requireEnv(Env.eventBusName),
            Source: OUTCOME_SOURCE,
            DetailType: detailType,
            Detail: JSON.stringify(detail),
            Resources: resources,
          },
        ],
      }),
    ),
  );
  if ((result.FailedEntryCount ?? 0) > 0) {
    const entry = result.Entries?.[0];
    throw new TransientAwsError(
      `PutEvents rejected ${detailType}: ${entry?.ErrorCode ?? ''} ${entry?.ErrorMessage ?? ''}`,
    );
  }
}
