/**
 * The fleet record and its rollout lock (DynamoDB item `FLEET#<fleet>`): read one or many records
 * (parsed, see domain/fleet-record.ts), take and hand over the lock, ask the holder to stop for a
 * newer image (supersede), mark it queued for a global slot, remember the observed launch template.
 */
import { BatchGetItemCommand, GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { TransientAwsError } from '../../domain/errors';
import {
  type ActiveRollout,
  type FleetPause,
  type FleetRecord,
  fleetKey,
  type ObservedLaunchTemplate,
  parseFleetRecord,
  type RolloutQueue,
  type SupersedeRequest,
} from '../../domain/fleet-record';
import { aws } from '../errors';
import { dynamo } from '../clients';
import {
  conditionalUpdate,
  type Item,
  isConditionFailure,
  key,
  table,
  toAttr,
  updateFailed,
  withoutKey,
} from './items';

export async function readFleetRecord(fleet: string): Promise<FleetRecord | undefined> {
  const result = await aws('GetItem', () =>
    dynamo().send(new GetItemCommand({ TableName: table(), Key: key(fleet), ConsistentRead: true })),
  );
  if (!result.Item) return undefined;
  return parseFleetRecord(withoutKey(result.Item), fleet);
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
        const pk = item['pk']?.S;
        const fleet = pk !== undefined ? pk.slice(fleetKey('').length) : undefined;
        if (fleet !== undefined && out.has(fleet)) out.set(fleet, parseFleetRecord(withoutKey(item), fleet));
      }
      keys = result.UnprocessedKeys?.[table()]?.Keys ?? [];
    }
  }
  return out;
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
    return { acquired: true, record: parseFleetRecord(withoutKey(result.Attributes), args.fleet) };
  } catch (error) {
    if (isConditionFailure(error)) {
      const record = await readFleetRecord(args.fleet);
      return {
        acquired: false,
        ...(record?.activeRollout ? { holder: record.activeRollout } : {}),
        ...(record?.paused ? { paused: record.paused } : {}),
        ...(record ? { record } : {}),
      };
    }
    return updateFailed(error);
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
