/**
 * The fleet's disruption budget: replacement slots by instance id on its record, taken and given
 * back by conditional updates that keep `replacementsInFlight` in step.
 */
import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { type FleetRecord, parseFleetRecord } from '../../domain/fleet-record';
import { aws } from '../errors';
import { dynamo } from '../clients';
import { readFleetRecord } from './fleet-records';
import { isConditionFailure, key, table, toAttr, updateFailed, withoutKey } from './items';

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
    const record = parseFleetRecord(withoutKey(result.Attributes), args.fleet);
    return { acquired: true, inFlight: record.replacementsInFlight ?? 0, record };
  } catch (error) {
    if (!isConditionFailure(error)) {
      return updateFailed(error);
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
    if (isConditionFailure(error)) return { released: false };
    return updateFailed(error);
  }
}
