/**
 * Fleet records in DynamoDB (see domain/fleet-record.ts) and outcome events on the Phoenix bus.
 */
import { type AttributeValue, GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { Env, OUTCOME_SOURCE } from '../domain/contract';
import { TransientAwsError } from '../domain/errors';
import {
  type ActiveRollout,
  type FleetRecord,
  fleetKey,
  type HistoryEntry,
  historyOverflow,
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

export async function readFleetRecord(fleet: string): Promise<FleetRecord | undefined> {
  const result = await aws('GetItem', () =>
    dynamo().send(new GetItemCommand({ TableName: table(), Key: key(fleet), ConsistentRead: true })),
  );
  if (!result.Item) return undefined;
  const { pk: _pk, ...rest } = fromItem(result.Item);
  return rest as unknown as FleetRecord;
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
}): Promise<{ acquired: true; record: FleetRecord } | { acquired: false; holder?: ActiveRollout }> {
  try {
    const result = await dynamo().send(
      new UpdateItemCommand({
        TableName: table(),
        Key: key(args.fleet),
        UpdateExpression: 'SET fleet = :fleet, channel = :channel, activeRollout = :lock, updatedAt = :now',
        ConditionExpression:
          'attribute_not_exists(activeRollout) OR activeRollout.execution = :execution OR activeRollout.expiresAt < :epoch',
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
      return { acquired: false, ...(record?.activeRollout ? { holder: record.activeRollout } : {}) };
    }
    return aws('UpdateItem', () => Promise.reject(error as Error));
  }
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
  }
  const update = async (release: boolean) =>
    dynamo().send(
      new UpdateItemCommand({
        TableName: table(),
        Key: key(args.fleet),
        UpdateExpression: `SET ${set}${release ? ' REMOVE activeRollout' : ''}`,
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
