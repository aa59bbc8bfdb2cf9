/**
 * Polling one router queue (`phoenix-rule-*`, one per rule target, filled by the emulator's own
 * EventBridge pattern matching): up to `concurrency` deliveries at once. A message is deleted only
 * once its event was delivered or dead-lettered; otherwise it stays in its queue.
 */
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  type Message,
} from '@aws-sdk/client-sqs';
import { describeError } from '../log';
import type { RuleQueue } from '../provision';
import { emit } from './context';
import { deliverToFunction, deliverToStateMachine } from './deliver';
import { targetInput } from './input';
import { RouterStoppedError, type Delivery, type RouteInfo, type RouterContext } from './types';

/** Receive and deliver until the router stops. */
export async function poll(ctx: RouterContext, route: RuleQueue): Promise<void> {
  const mine = new Set<Promise<void>>();
  while (!ctx.stopSignal.aborted) {
    if (mine.size >= ctx.concurrency) {
      await Promise.race(mine);
      continue;
    }
    const messages = await receive(ctx, route, ctx.concurrency - mine.size);
    if (messages === 'stopped') break;
    for (const message of messages) {
      const task: Promise<void> = handleMessage(ctx, route, message).finally(() => {
        mine.delete(task);
        ctx.inFlight.delete(task);
      });
      mine.add(task);
      ctx.inFlight.add(task);
    }
  }
}

/**
 * Up to `room` (at most 10) messages; none after a failed receive (retried after 1 s). The receive
 * is not aborted when the router stops: the emulator would go on with its long poll and take
 * messages nobody reads (invisible for the queue's visibility timeout, so a runtime started next
 * on the same queues would miss them). It ends within its 1 s wait; what it brings after the stop
 * is made visible again at once.
 */
async function receive(ctx: RouterContext, route: RuleQueue, room: number): Promise<Message[] | 'stopped'> {
  try {
    const result = await ctx.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: route.queueUrl,
        WaitTimeSeconds: 1,
        MaxNumberOfMessages: Math.min(10, room),
      }),
    );
    const messages = result.Messages ?? [];
    if (!ctx.stopSignal.aborted) return messages;
    await giveBack(ctx, route, messages);
    return 'stopped';
  } catch (error) {
    if (ctx.stopSignal.aborted) return 'stopped';
    ctx.log.warn(`could not receive from ${route.queueName}; retrying in 1 s`, {
      error: describeError(error),
    });
    await ctx.sleep(1000).catch(() => undefined);
    return [];
  }
}

/** Messages received but not handled (the router stopped): visible in their queue again now. */
async function giveBack(ctx: RouterContext, route: RuleQueue, messages: readonly Message[]): Promise<void> {
  if (messages.length === 0) return;
  try {
    await ctx.sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: route.queueUrl,
        Entries: messages.map((m, i) => ({
          Id: String(i),
          ReceiptHandle: m.ReceiptHandle,
          VisibilityTimeout: 0,
        })),
      }),
    );
  } catch (error) {
    ctx.log.warn(
      `could not give back ${messages.length} message(s) received as ${route.queueName} stopped; they return after its visibility timeout`,
      { error: describeError(error) },
    );
  }
}

async function handleMessage(ctx: RouterContext, route: RuleQueue, message: Message): Promise<void> {
  const fault = ctx.options.faults?.eventFault(route.rule.logicalId);
  if (fault?.lose === true) {
    // Injected loss: the event is consumed and never delivered (recorded for the checkers).
    ctx.options.faults!.recordLost({ rule: route.rule.logicalId, ...eventIdentity(message.Body) });
    ctx.log.debug(`fault injected: an event of rule ${route.rule.name} is lost`);
    await deleteMessage(ctx, route, message);
    return;
  }
  if (fault !== undefined && fault.delayMs > 0) {
    // Injected delay: later events overtake this one. Stopped meanwhile: back in its queue.
    if (!(await pause(ctx, fault.delayMs))) return giveBack(ctx, route, [message]);
  }
  // Injected duplicate: the same event delivered a second time, a little later, concurrently.
  const duplicate =
    fault?.duplicate === true
      ? pause(ctx, fault.duplicateAfterMs).then((go) => (go ? deliver(ctx, route, message) : undefined))
      : Promise.resolve(undefined);
  const delivery = await deliver(ctx, route, message);
  const second = await duplicate;
  if (second !== undefined) emit(ctx, second);
  if (delivery === undefined) return;
  await deleteMessage(ctx, route, message);
  emit(ctx, delivery);
}

/** Wait `ms`; false when the router stopped meanwhile. */
async function pause(ctx: RouterContext, ms: number): Promise<boolean> {
  try {
    await ctx.sleep(ms);
    return true;
  } catch {
    return false;
  }
}

/** The event's id, detail-type and source, when the body is an EventBridge event. */
function eventIdentity(body: string | undefined): {
  id: string | undefined;
  detailType: string | undefined;
  source: string | undefined;
} {
  try {
    const event = JSON.parse(body ?? '') as Record<string, unknown>;
    const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
    return { id: text(event.id), detailType: text(event['detail-type']), source: text(event.source) };
  } catch {
    return { id: undefined, detailType: undefined, source: undefined };
  }
}

async function deleteMessage(ctx: RouterContext, route: RuleQueue, message: Message): Promise<void> {
  try {
    await ctx.sqs.send(
      new DeleteMessageCommand({ QueueUrl: route.queueUrl, ReceiptHandle: message.ReceiptHandle }),
    );
  } catch (error) {
    ctx.log.warn(`could not delete a handled message from ${route.queueName}; it may be delivered again`, {
      error: describeError(error),
    });
  }
}

/** The delivery of one message; undefined when it could not be handled (it stays in its queue). */
async function deliver(
  ctx: RouterContext,
  route: RuleQueue,
  message: Message,
): Promise<Delivery | undefined> {
  const receivedAt = Date.now();
  const info: RouteInfo = {
    ruleLogicalId: route.rule.logicalId,
    ruleName: route.rule.name,
    targetId: route.target.id,
    targetArn: route.target.arn,
    targetKind: route.target.kind,
  };
  try {
    const payload = targetInput(route.target, message.Body ?? '');
    const outcome =
      route.target.kind === 'lambda'
        ? await deliverToFunction(ctx, route, payload, receivedAt)
        : await deliverToStateMachine(ctx, route, payload);
    return { ...info, ...outcome };
  } catch (error) {
    if (error instanceof RouterStoppedError) {
      ctx.log.info(
        `router stopped while ${route.rule.name} waited to retry; the event stays in ${route.queueName}`,
      );
      return undefined;
    }
    ctx.log.error(`could not handle an event of rule ${route.rule.name}; it stays in ${route.queueName}`, {
      error: describeError(error),
      body: message.Body,
    });
    return undefined;
  }
}
