/**
 * The global fan-out limit (`maxConcurrentRollouts`): one item `ROLLOUTS` holds the rollout slots
 * by execution, each with its expiry; taken, given back, handed to a continuation, reclaimed.
 *
 * The queue (the callback pattern): a rollout that finds no slot free registers its Step Functions
 * task token as a waiter (`waiters.<execution>`, only while every slot is held; else it takes the
 * free one). Wherever a slot is given back (or reclaimed), the oldest waiters are granted the free
 * slots (`slots.<execution>` and `granted.<execution>` in one conditional update) and woken
 * (SendTaskSuccess); the woken AcquireFleetLock claims its slot. A waiter whose token is gone
 * (TaskTimedOut, TaskDoesNotExist, InvalidToken) gives its grant back, unless it claimed it
 * meanwhile, and the next one is woken. Waking never fails the step that released: the waiter's
 * task times out after one lock-wait interval and asks again.
 */
import { GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import {
  DEFAULT_MAX_CONCURRENT_ROLLOUTS,
  parseRolloutSlotQueue,
  parseRolloutSlots,
  ROLLOUT_SLOTS_KEY,
  type RolloutSlotQueue,
  type RolloutSlots,
  type SlotWaiter,
} from '../../domain/fleet-record';
import { logger } from '../../powertools';
import { TransientAwsError } from '../../domain/errors';
import { aws, errorName } from '../errors';
import { dynamo, stepFunctions } from '../clients';
import {
  conditionalUpdate,
  type Item,
  isConditionFailure,
  table,
  toAttr,
  updateFailed,
  withoutKey,
} from './items';

export type { RolloutSlotQueue, RolloutSlots, SlotWaiter } from '../../domain/fleet-record';

export const slotsKey: Item = { pk: { S: ROLLOUT_SLOTS_KEY } };

/** The global rollout slots as they are now. */
export async function readRolloutSlots(): Promise<RolloutSlots> {
  const result = await aws('GetItem', () =>
    dynamo().send(new GetItemCommand({ TableName: table(), Key: slotsKey, ConsistentRead: true })),
  );
  return parseRolloutSlots(result.Item ? withoutKey(result.Item) : undefined);
}

/** The slots and their queue (waiters, unclaimed grants, the limit) as they are now. */
export async function readSlotQueue(): Promise<RolloutSlots & RolloutSlotQueue> {
  const result = await aws('GetItem', () =>
    dynamo().send(new GetItemCommand({ TableName: table(), Key: slotsKey, ConsistentRead: true })),
  );
  const item = result.Item ? withoutKey(result.Item) : undefined;
  return { ...parseRolloutSlots(item), ...parseRolloutSlotQueue(item) };
}

/** The item's maps exist (a nested SET or REMOVE needs its map), and the limit asked with. */
async function initSlots(limit: number): Promise<void> {
  await aws('UpdateItem', () =>
    dynamo().send(
      new UpdateItemCommand({
        TableName: table(),
        Key: slotsKey,
        UpdateExpression:
          'SET slots = if_not_exists(slots, :empty), inFlight = if_not_exists(inFlight, :zero), waiters = if_not_exists(waiters, :empty), granted = if_not_exists(granted, :empty), slotLimit = :limit',
        ExpressionAttributeValues: { ':empty': { M: {} }, ':zero': toAttr(0), ':limit': toAttr(limit) },
      }),
    ),
  );
}

/**
 * One attempt at a free slot: `slots.<execution>` and `inFlight + 1` while `inFlight < limit` and
 * the execution holds none (its waiter entry, if any, removed). The new inFlight, or undefined.
 */
async function takeSlot(execution: string, limit: number, expiresAt: number): Promise<number | undefined> {
  try {
    const result = await dynamo().send(
      new UpdateItemCommand({
        TableName: table(),
        Key: slotsKey,
        UpdateExpression: 'SET slots.#e = :expires, inFlight = inFlight + :one REMOVE waiters.#e',
        ConditionExpression: 'attribute_not_exists(slots.#e) AND inFlight < :limit',
        ExpressionAttributeNames: { '#e': execution },
        ExpressionAttributeValues: {
          ':expires': toAttr(expiresAt),
          ':one': toAttr(1),
          ':limit': toAttr(limit),
        },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    return Number(result.Attributes?.['inFlight']?.N ?? 0);
  } catch (error) {
    if (isConditionFailure(error)) return undefined;
    return updateFailed(error);
  }
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
  await initSlots(args.limit);
  const take = () => takeSlot(args.execution, args.limit, args.expiresAt);
  const first = await take();
  if (first !== undefined) return { acquired: true, inFlight: first, reclaimed: [] };
  const current = await readRolloutSlots();
  // A retried step, or a slot granted to this execution when it was woken: claimed (a grant given
  // back at the same moment, because the wake-up found the token gone, is not).
  if (current.slots[args.execution] !== undefined && (await claimSlot(args.execution))) {
    return { acquired: true, inFlight: current.inFlight, reclaimed: [] };
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
    // The other reclaimed slots go to the rollouts waiting for one.
    if (reclaimed.length > 1 || second === undefined) await wakeSlotWaiters();
    if (second !== undefined) return { acquired: true, inFlight: second, reclaimed };
  }
  return { acquired: false, inFlight: current.inFlight - reclaimed.length, reclaimed };
}

/** The slot `execution` holds is claimed: no longer a grant that a failed wake-up may give back. */
async function claimSlot(execution: string): Promise<boolean> {
  return conditionalUpdate({
    TableName: table(),
    Key: slotsKey,
    UpdateExpression: 'REMOVE granted.#e',
    ConditionExpression: 'attribute_exists(slots.#e)',
    ExpressionAttributeNames: { '#e': execution },
  });
}

/**
 * The callback pattern: `execution` waits for a slot with the task token `token`. While every slot
 * is held, its waiter is registered (`waiters.<execution> = { token, since, expiresAt }`, on the
 * condition `inFlight >= limit`, so that no release can slip between the check and the
 * registration); when one is free (a release came after AcquireFleetLock asked), it takes it at
 * once. `acquired` true: the execution holds a slot (its caller wakes its own token).
 */
export async function registerSlotWaiter(args: {
  execution: string;
  token: string;
  limit: number;
  expiresAt: number;
  now: Date;
}): Promise<{ acquired: boolean; registered: boolean; inFlight?: number }> {
  await initSlots(args.limit);
  for (let attempt = 0; attempt < 3; attempt++) {
    const taken = await takeSlot(args.execution, args.limit, args.expiresAt);
    if (taken !== undefined) return { acquired: true, registered: false, inFlight: taken };
    const waiter: SlotWaiter = {
      token: args.token,
      since: args.now.toISOString(),
      expiresAt: args.expiresAt,
    };
    const registered = await conditionalUpdate({
      TableName: table(),
      Key: slotsKey,
      UpdateExpression: 'SET waiters.#e = :waiter',
      ConditionExpression: 'attribute_not_exists(slots.#e) AND inFlight >= :limit',
      ExpressionAttributeNames: { '#e': args.execution },
      ExpressionAttributeValues: { ':waiter': toAttr(waiter), ':limit': toAttr(args.limit) },
    });
    if (registered) return { acquired: false, registered: true };
    // Neither: it holds a slot already (granted, or a retried step), or one was freed meanwhile.
    if ((await readRolloutSlots()).slots[args.execution] !== undefined) {
      return { acquired: true, registered: false };
    }
  }
  // Slots come and go faster than it can register: the step's transient retry tries again (a
  // wake-up without a slot would cost the lock loop an iteration its history budget has no room for).
  throw new TransientAwsError(
    `execution ${args.execution}: the rollout slots changed under 3 registrations as a waiter`,
  );
}

/** `execution` waits no more (it ended): its waiter and any unclaimed grant go. Idempotent. */
export async function withdrawSlotWaiter(execution: string): Promise<void> {
  await conditionalUpdate({
    TableName: table(),
    Key: slotsKey,
    UpdateExpression: 'REMOVE waiters.#e, granted.#e',
    ConditionExpression: 'attribute_exists(waiters) AND attribute_exists(granted)',
    ExpressionAttributeNames: { '#e': execution },
  });
}

/** What SendTaskSuccess answers when the waiting task is no longer there. */
const GONE = new Set(['TaskTimedOut', 'TaskDoesNotExist', 'InvalidToken']);

/** Did SendTaskSuccess fail because the waiting task is no longer there (timed out, ended)? */
export const isTaskGone = (error: unknown): boolean => GONE.has(errorName(error) ?? '');

/** What a woken WaitForRolloutSlot task outputs. */
export interface SlotWakeUp {
  readonly granted: boolean;
  readonly at: string;
}

/** Wake one waiting WaitForRolloutSlot task (its own, when it took a slot at registration). */
export async function sendSlotWakeUp(token: string, wakeUp: SlotWakeUp): Promise<void> {
  await aws('SendTaskSuccess', () =>
    stepFunctions().send(new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify(wakeUp) })),
  );
}

/**
 * After a slot was given back or reclaimed: grant the free slots to the oldest waiters and wake
 * them (SendTaskSuccess), as many as slots are free. A waiter whose token is gone gives its grant
 * back (unless it claimed it meanwhile) and the next is woken. Never throws: a failure is logged
 * (WARN) and the waiters' own timeouts (one lock-wait interval) cover it. The executions woken.
 */
export async function wakeSlotWaiters(now: Date = new Date()): Promise<string[]> {
  const woken: string[] = [];
  const tried: string[] = [];
  try {
    // Bounded: every pass grants, skips or drops a waiter, or ends.
    for (let pass = 0; pass < 100; pass++) {
      const queue = await readSlotQueue();
      const limit = queue.limit ?? DEFAULT_MAX_CONCURRENT_ROLLOUTS;
      const next = oldestWaiter(queue, tried);
      if (next === undefined || queue.inFlight >= limit) return woken;
      const [execution, waiter] = next;
      if (!(await grantSlot(execution, waiter, limit))) continue; // the queue changed: read again
      tried.push(execution);
      const wakeUp: SlotWakeUp = { granted: true, at: now.toISOString() };
      try {
        await stepFunctions().send(
          new SendTaskSuccessCommand({ taskToken: waiter.token, output: JSON.stringify(wakeUp) }),
        );
        woken.push(execution);
      } catch (error) {
        if (!isTaskGone(error)) throw error;
        const name = errorName(error) ?? 'Error';
        // Gone (its task timed out, its execution ended): the grant back, unless it claimed it.
        logger.info('a rollout waiting for a slot is gone; the next one is woken', {
          execution,
          error: name,
        });
        await giveBackGrant(execution, waiter.token);
      }
    }
  } catch (error) {
    logger.warn(
      'could not wake the rollouts waiting for a slot; they ask again after one lock-wait interval',
      {
        error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
        woken,
      },
    );
  }
  return woken;
}

/** The oldest waiter (by `since`, then name) not tried by this call. */
function oldestWaiter(queue: RolloutSlotQueue, tried: string[]): [string, SlotWaiter] | undefined {
  return Object.entries(queue.waiters)
    .filter(([execution]) => !tried.includes(execution))
    .sort(([a, x], [b, y]) => x.since.localeCompare(y.since) || a.localeCompare(b))[0];
}

/**
 * Grant `execution` a free slot, in one conditional update: its waiter (with this token) goes,
 * `slots.<execution>` and `granted.<execution>` come, `inFlight + 1`, while one is free. A waiter
 * that holds a slot already (it took one itself) is dropped. False: not granted.
 */
async function grantSlot(execution: string, waiter: SlotWaiter, limit: number): Promise<boolean> {
  const names = { '#e': execution };
  const granted = await conditionalUpdate({
    TableName: table(),
    Key: slotsKey,
    UpdateExpression:
      'SET slots.#e = :expires, granted.#e = :token, inFlight = inFlight + :one REMOVE waiters.#e',
    ConditionExpression:
      'waiters.#e.#token = :token AND attribute_not_exists(slots.#e) AND inFlight < :limit',
    ExpressionAttributeNames: { ...names, '#token': 'token' },
    ExpressionAttributeValues: {
      ':expires': toAttr(waiter.expiresAt),
      ':token': toAttr(waiter.token),
      ':one': toAttr(1),
      ':limit': toAttr(limit),
    },
  });
  if (granted) return true;
  await conditionalUpdate({
    TableName: table(),
    Key: slotsKey,
    UpdateExpression: 'REMOVE waiters.#e',
    ConditionExpression: 'waiters.#e.#token = :token AND attribute_exists(slots.#e)',
    ExpressionAttributeNames: { ...names, '#token': 'token' },
    ExpressionAttributeValues: { ':token': toAttr(waiter.token) },
  });
  return false;
}

/** A grant whose wake-up found the token gone: the slot back, unless the execution claimed it. */
async function giveBackGrant(execution: string, token: string): Promise<boolean> {
  return conditionalUpdate({
    TableName: table(),
    Key: slotsKey,
    UpdateExpression: 'REMOVE slots.#e, granted.#e SET inFlight = inFlight - :one',
    ConditionExpression: 'granted.#e = :token AND attribute_exists(slots.#e)',
    ExpressionAttributeNames: { '#e': execution },
    ExpressionAttributeValues: { ':token': toAttr(token), ':one': toAttr(1) },
  });
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
