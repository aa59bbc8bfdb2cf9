/**
 * The rule router: consumes the emulator's router queues (`phoenix-rule-*`, one per rule target,
 * filled by the emulator's own EventBridge pattern matching) and delivers each event to the rule's
 * real target (a function, like an asynchronous Lambda invocation; a state machine, through the
 * local Step Functions service). No event is lost silently: a router message is deleted only once
 * its event was delivered or dead-lettered; what cannot be dead-lettered is logged whole. Its rooms:
 *
 * - `router/poller.ts`: receiving from one router queue, deleting what was handled;
 * - `router/deliver.ts`: delivering to a function (retries, dead-letter queue, on-failure
 *   destination) or a state machine, and EventBridge's delivery failure;
 * - `router/input.ts`: what the target receives (Input, InputPath);
 * - `router/schedules.ts`: `rate(...)` rules, fired every rate × timeScale;
 * - `router/context.ts`: what they share (SQS client, stop signal, listeners).
 */
import { describeError } from './log';
import { createRouterContext } from './router/context';
import { poll } from './router/poller';
import { startSchedules } from './router/schedules';
import {
  DeliveryWaitTimeoutError,
  type Delivery,
  type Router,
  type RouterContext,
  type RouterOptions,
} from './router/types';

export { evaluatePath, targetInput } from './router/input';
export { ratePeriodMs } from './router/schedules';
export {
  DeliveryWaitTimeoutError,
  type Delivery,
  type DeliveryOutcome,
  type Router,
  type RouterInvoker,
  type RouterOptions,
  type RouterStepFunctions,
} from './router/types';

export function startRouter(options: RouterOptions): Router {
  const stopController = new AbortController();
  const ctx = createRouterContext(options, stopController.signal);
  // Schedules: put EventBridge's scheduled event into the rule's router queue(s).
  const timers = (options.fireSchedules ?? true) ? startSchedules(ctx) : [];
  const pollers = options.ruleQueues.map((route) =>
    poll(ctx, route).catch((error: unknown) => {
      ctx.log.error(`the poller of ${route.queueName} died`, { error: describeError(error) });
    }),
  );
  ctx.log.debug('router started', { queues: options.ruleQueues.map((q) => q.queueName) });

  let stopping: Promise<void> | undefined;
  return {
    onDelivery: (listener) => onDelivery(ctx, listener),
    waitForDelivery: (predicate = () => true, timeoutMs = 30_000) =>
      waitForDelivery(ctx, predicate, timeoutMs),
    get inFlight() {
      return ctx.inFlight.size;
    },
    stop() {
      stopping ??= (async () => {
        for (const timer of timers) clearInterval(timer);
        stopController.abort();
        await Promise.all(pollers);
        await Promise.all([...ctx.inFlight]);
        ctx.sqs.destroy();
      })();
      return stopping;
    },
  };
}

function onDelivery(ctx: RouterContext, listener: (delivery: Delivery) => void): () => void {
  ctx.listeners.add(listener);
  return () => ctx.listeners.delete(listener);
}

function waitForDelivery(
  ctx: RouterContext,
  predicate: (delivery: Delivery) => boolean,
  timeoutMs: number,
): Promise<Delivery> {
  return new Promise<Delivery>((resolve, reject) => {
    const unsubscribe = onDelivery(ctx, (delivery) => {
      if (!predicate(delivery)) return;
      clearTimeout(timer);
      unsubscribe();
      resolve(delivery);
    });
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new DeliveryWaitTimeoutError(`No matching delivery within ${timeoutMs} ms`));
    }, timeoutMs);
  });
}
