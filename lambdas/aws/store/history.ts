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
  const historySet =
    'fleet = :fleet, imageHistory = list_append(if_not_exists(imageHistory, :empty), :entry), updatedAt = :now';
  let desiredSet = '';
  const desiredValues: Item = {};
  if (args.desiredImage !== undefined) {
    desiredSet += ', desiredImage = :desired';
    desiredValues[':desired'] = toAttr(args.desiredImage);
    if (args.previousImage !== undefined) {
      desiredSet += ', previousImage = :previous';
      desiredValues[':previous'] = toAttr(args.previousImage);
    }
    if (args.desiredImageCreatedAt !== undefined) {
      desiredSet += ', desiredImageCreatedAt = :desiredCreatedAt';
      desiredValues[':desiredCreatedAt'] = toAttr(args.desiredImageCreatedAt);
    }
  }
  if (args.pin !== undefined) {
    desiredSet += ', pinnedImage = :pin';
    desiredValues[':pin'] = toAttr(args.pin);
  }
  const send = (input: { set: string; remove?: string; condition?: string; values: Item }) =>
    dynamo().send(
      new UpdateItemCommand({
        TableName: table(),
        Key: key(args.fleet),
        UpdateExpression: `SET ${input.set}${input.remove !== undefined ? ` REMOVE ${input.remove}` : ''}`,
        ...(input.condition !== undefined ? { ConditionExpression: input.condition } : {}),
        ExpressionAttributeValues: input.values,
        ReturnValues: 'UPDATED_NEW',
      }),
    );
  let result;
  try {
    // The lock is ours: record and release it in one update.
    result = await send({
      set: historySet + desiredSet,
      remove: 'activeRollout, rolloutQueued',
      condition: 'attribute_exists(activeRollout) AND activeRollout.execution = :execution',
      values: { ...values, ...desiredValues, ':execution': toAttr(args.execution) },
    });
  } catch (error) {
    if (!isConditionFailure(error)) {
      return updateFailed(error);
    }
    // The lock is not ours (another rollout holds it, or none does: a retried or late commit whose
    // first attempt released it). The desired image (and a pin) only while no rollout holds the
    // fleet and never back to an older image than the recorded one: found by the torture run (seed
    // 7, faults on), a commit that landed after a newer rollout had committed set the fleet's
    // desired image back, and the sweep then replaced every instance of the newer image with the
    // newer image again, forever. Otherwise the history alone.
    result = undefined;
    if (desiredSet !== '') {
      try {
        result = await send({
          set: historySet + desiredSet,
          condition:
            'attribute_not_exists(activeRollout)' +
            (args.desiredImageCreatedAt !== undefined
              ? ' AND (attribute_not_exists(desiredImageCreatedAt) OR desiredImageCreatedAt <= :desiredCreatedAt)'
              : ''),
          values: { ...values, ...desiredValues },
        });
      } catch (unlocked) {
        if (!isConditionFailure(unlocked)) return updateFailed(unlocked);
      }
    }
    result ??= await aws('UpdateItem', () => send({ set: historySet, values }));
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
