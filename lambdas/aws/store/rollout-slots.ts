/**
 * The global fan-out limit (`maxConcurrentRollouts`): one item `ROLLOUTS` holds the rollout slots
 * by execution, each with its expiry; taken, given back, handed to a continuation, reclaimed.
 */
import { GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { parseRolloutSlots, ROLLOUT_SLOTS_KEY, type RolloutSlots } from '../../domain/fleet-record';
import { aws } from '../errors';
import { dynamo } from '../clients';
import {
  conditionalUpdate,
  type Item,
  isConditionFailure,
  table,
  toAttr,
  updateFailed,
  withoutKey,
} from './items';

export type { RolloutSlots } from '../../domain/fleet-record';

export const slotsKey: Item = { pk: { S: ROLLOUT_SLOTS_KEY } };

/** The global rollout slots as they are now. */
export async function readRolloutSlots(): Promise<RolloutSlots> {
  const result = await aws('GetItem', () =>
    dynamo().send(new GetItemCommand({ TableName: table(), Key: slotsKey, ConsistentRead: true })),
  );
  return parseRolloutSlots(result.Item ? withoutKey(result.Item) : undefined);
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
      if (isConditionFailure(error)) return undefined;
      return updateFailed(error);
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
    if (!isConditionFailure(error)) {
      return updateFailed(error);
    }
  }
  return (await readRolloutSlots()).slots[args.to] !== undefined;
}
