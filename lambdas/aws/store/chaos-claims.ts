/** Chaos mode's claim of a fleet's kill for one period (`lastChaosKill` on its record). */
import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { type FleetRecord, parseFleetRecord } from '../../domain/fleet-record';
import { dynamo } from '../clients';
import { type Item, isConditionFailure, key, table, toAttr, updateFailed, withoutKey } from './items';

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
    if (!isConditionFailure(error)) {
      return updateFailed(error);
    }
    const item = (error as { Item?: Item }).Item;
    if (item === undefined) return { claimed: false };
    return { claimed: false, record: parseFleetRecord(withoutKey(item), args.fleet) };
  }
}
