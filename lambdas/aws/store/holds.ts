/**
 * Operator holds on a fleet (phoenix pause / resume / rollback / unpin): the pause and the pin
 * of its record.
 */
import { type AttributeValue, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import {
  type FleetPause,
  parseFleetPause,
  parsePinnedImage,
  type PinnedImage,
} from '../../domain/fleet-record';
import { dynamo } from '../clients';
import { readFleetRecord } from './fleet-records';
import { fromAttr, isConditionFailure, key, table, toAttr, updateFailed } from './items';

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
    if (!isConditionFailure(error)) {
      return updateFailed(error);
    }
  }
  const record = await readFleetRecord(fleet);
  return { paused: record?.paused ?? pause, already: true };
}

/** Remove the fleet's pause; returns it, or undefined when the fleet was not paused. */
export async function unpauseFleet(fleet: string, now: Date): Promise<FleetPause | undefined> {
  const old = await removeAttribute(fleet, 'paused', now);
  return old !== undefined ? parseFleetPause(`fleet record ${fleet}.paused`, fromAttr(old)) : undefined;
}

/** Release the fleet's pin (a rollback's); returns it, or undefined when it was not pinned. */
export async function unpinFleet(fleet: string, now: Date): Promise<PinnedImage | undefined> {
  const old = await removeAttribute(fleet, 'pinnedImage', now);
  return old !== undefined ? parsePinnedImage(`fleet record ${fleet}.pinnedImage`, fromAttr(old)) : undefined;
}

/** Remove `name` from the fleet's record; its old value, or undefined when it had none. */
async function removeAttribute(
  fleet: string,
  name: 'paused' | 'pinnedImage',
  now: Date,
): Promise<AttributeValue | undefined> {
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
    return result.Attributes?.[name];
  } catch (error) {
    if (isConditionFailure(error)) return undefined;
    return updateFailed(error);
  }
}
