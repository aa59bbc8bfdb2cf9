/**
 * The fleet's histories on its record: a rollout's outcome appended to `imageHistory` (kept within
 * its limit), the lock and the execution's global rollout slot released (the rollouts waiting for
 * a slot woken), the desired image (and a
 * rollback's pin) recorded; a replacement's end appended to `replacementHistory` as its slot of the
 * disruption budget is given back, in the same conditional update.
 */
import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import {
  type HistoryEntry,
  historyOverflow,
  type PinnedImage,
  REPLACEMENT_HISTORY_LIMIT,
  type ReplacementEntry,
} from '../../domain/fleet-record';
import { aws } from '../errors';
import { dynamo } from '../clients';
import { type Item, isConditionFailure, key, table, toAttr, updateFailed } from './items';
import { releaseRolloutSlot, wakeSlotWaiters, withdrawSlotWaiter } from './rollout-slots';

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
  // A committed rollback (it pins the fleet) is marked as one in the history.
  const entry: HistoryEntry = args.pin !== undefined ? { ...args.entry, mode: 'rollback' } : args.entry;
  const values: Item = {
    ':entry': toAttr([entry]),
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
  // Wherever the fleet lock is released, so is the execution's global rollout slot (idempotent),
  // or its place in the queue for one; a slot given back wakes the oldest rollouts waiting for one
  // (never fails this step: their own timeouts cover a wake-up that did not happen).
  await withdrawSlotWaiter(args.execution);
  if (await releaseRolloutSlot(args.execution, args.now)) await wakeSlotWaiters(args.now);
  await trimList(args.fleet, 'imageHistory', result.Attributes?.['imageHistory']?.L?.length ?? 0);
}

/** Drop the oldest entries of a history list so that it fits its limit again. */
async function trimList(fleet: string, list: string, length: number, limit?: number): Promise<void> {
  const overflow = historyOverflow(length, limit);
  if (overflow === 0) return;
  const drop = Array.from({ length: overflow }, (_, i) => `${list}[${i}]`).join(', ');
  await aws('UpdateItem', () =>
    dynamo().send(
      new UpdateItemCommand({
        TableName: table(),
        Key: key(fleet),
        UpdateExpression: `REMOVE ${drop}`,
      }),
    ),
  );
}

/**
 * A replacement ended: give back the slot `execution` holds for the instance (if it holds it) and
 * append `entry` to the fleet's replacement history, in one conditional update, so that the entry
 * is written once per slot. When the execution holds no slot: with `slotAcquired` false (it never
 * had one: skipped, or failed before) the entry is appended to an existing fleet record (a fleet
 * Phoenix has no record of gets none); with `slotAcquired` true the slot was given back already
 * (a retried step) and nothing is written again. Kept within REPLACEMENT_HISTORY_LIMIT.
 */
export async function releaseSlotAndRecord(args: {
  fleet: string;
  execution: string;
  entry: ReplacementEntry;
  /** Did the workflow take a slot (its state says so)? */
  slotAcquired: boolean;
  now: Date;
}): Promise<{ released: boolean; recorded: boolean }> {
  const append =
    'replacementHistory = list_append(if_not_exists(replacementHistory, :empty), :entry), updatedAt = :now';
  const values: Item = {
    ':entry': toAttr([args.entry]),
    ':empty': { L: [] },
    ':now': toAttr(args.now.toISOString()),
  };
  let result;
  let released = false;
  try {
    result = await dynamo().send(
      new UpdateItemCommand({
        TableName: table(),
        Key: key(args.fleet),
        UpdateExpression: `REMOVE replacements.#id SET replacementsInFlight = replacementsInFlight - :one, ${append}`,
        ConditionExpression: 'replacements.#id.execution = :execution',
        ExpressionAttributeNames: { '#id': args.entry.instanceId },
        ExpressionAttributeValues: { ...values, ':execution': toAttr(args.execution), ':one': toAttr(1) },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    released = true;
  } catch (error) {
    if (!isConditionFailure(error)) return updateFailed(error);
  }
  if (!released) {
    if (args.slotAcquired) return { released: false, recorded: false };
    try {
      result = await dynamo().send(
        new UpdateItemCommand({
          TableName: table(),
          Key: key(args.fleet),
          UpdateExpression: `SET ${append}`,
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: values,
          ReturnValues: 'UPDATED_NEW',
        }),
      );
    } catch (error) {
      if (isConditionFailure(error)) return { released: false, recorded: false };
      return updateFailed(error);
    }
  }
  await trimList(
    args.fleet,
    'replacementHistory',
    result?.Attributes?.['replacementHistory']?.L?.length ?? 0,
    REPLACEMENT_HISTORY_LIMIT,
  );
  return { released, recorded: true };
}
