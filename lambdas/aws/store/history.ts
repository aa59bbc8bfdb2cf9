/**
 * The fleet's image history: a rollout's outcome appended (kept within its limit), the lock and
 * the execution's global rollout slot released, the desired image (and a rollback's pin) recorded.
 */
import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { type HistoryEntry, historyOverflow, type PinnedImage } from '../../domain/fleet-record';
import { aws } from '../errors';
import { dynamo } from '../clients';
import { type Item, isConditionFailure, key, table, toAttr, updateFailed } from './items';
import { releaseRolloutSlot } from './rollout-slots';

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
    if (!isConditionFailure(error)) {
      return updateFailed(error);
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
