/**
 * The rule router: consumes the emulator's router queues (`phoenix-rule-*`, one per rule target,
 * filled by the emulator's own EventBridge pattern matching) and delivers each event to the rule's
 * real target:
 *
 * - a function: like an asynchronous Lambda invocation. A failing handler is retried
 *   (EventInvokeConfig MaximumRetryAttempts, default 2; waits of 1 and 2 minutes × timeScale;
 *   MaximumEventAgeInSeconds × timeScale), then the event goes to the function's dead-letter
 *   queue (message attributes RequestID, ErrorCode, ErrorMessage, as Lambda sends them) and/or its
 *   on-failure destination (an invocation record).
 * - a state machine: StartExecution on the local Step Functions service.
 *
 * A target that cannot be reached at all (unknown function, rejected StartExecution) is
 * EventBridge's delivery failure: the event goes to the rule target's dead-letter queue with
 * RULE_ARN, TARGET_ARN, ERROR_CODE, ERROR_MESSAGE attributes.
 *
 * No event is lost silently: a router message is deleted only once its event was delivered or
 * dead-lettered; what cannot be dead-lettered is logged whole, at error level.
 *
 * Scheduled rules (`rate(...)`) fire every rate × timeScale: the router puts EventBridge's
 * "Scheduled Event" into the rule's router queue (the emulator never fires schedules).
 */
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import {
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
  type Message,
  type MessageAttributeValue,
} from '@aws-sdk/client-sqs';
import { createLogger, describeError, type LocalLogger } from './log';
import { emulatorClientConfig, type AwsClientOptions, type RuleQueue } from './provision';
import type { LocalFunction, LocalModel, LocalRule, LocalRuleTarget } from './template';

export interface RouterInvoker {
  resolveFunction(nameOrArn: string): LocalFunction | undefined;
  invoke(
    nameOrArn: string,
    payload: unknown,
    options?: { onStart?: (requestId: string) => void },
  ): Promise<unknown>;
}

export interface RouterStepFunctions {
  startExecution(request: { stateMachineArn: string; name?: string; input?: string }): {
    executionArn: string;
  };
}

export interface RouterOptions extends AwsClientOptions {
  readonly model: LocalModel;
  readonly ruleQueues: readonly RuleQueue[];
  readonly invoker: RouterInvoker;
  readonly stepFunctions?: RouterStepFunctions;
  /** Scales retry waits, event ages and schedule rates. Default 0.02; 1 = real time. */
  readonly timeScale?: number;
  /** Fire `rate(...)` schedules. Default true. */
  readonly fireSchedules?: boolean;
  /** Deliveries running at once per queue. Default 10. */
  readonly concurrencyPerQueue?: number;
  readonly log?: LocalLogger;
}

export type DeliveryOutcome = 'succeeded' | 'dead-lettered' | 'dropped';

/** What happened to one event for one rule target. */
export interface Delivery {
  readonly ruleLogicalId: string;
  readonly ruleName: string;
  readonly targetId: string;
  readonly targetArn: string;
  readonly targetKind: LocalRuleTarget['kind'];
  /** What the target received (after Input/InputPath/InputTransformer). */
  readonly payload: unknown;
  readonly outcome: DeliveryOutcome;
  /** Handler invocations (1 + retries) or StartExecution calls. */
  readonly attempts: number;
  readonly result?: unknown;
  readonly error?: { errorType: string; errorMessage: string };
  /** ARNs of the queues the event was sent to on failure. */
  readonly deadLetteredTo?: readonly string[];
  readonly executionArn?: string;
}

export interface Router {
  /** Called after each delivery settles. Returns an unsubscribe function. */
  onDelivery(listener: (delivery: Delivery) => void): () => void;
  /** The next delivery that matches `predicate` (default: any). Rejects after `timeoutMs` (default 30 s). */
  waitForDelivery(predicate?: (delivery: Delivery) => boolean, timeoutMs?: number): Promise<Delivery>;
  /** Deliveries in progress. */
  readonly inFlight: number;
  /** Stop polling, cancel retry waits, and wait for running handler invocations. */
  stop(): Promise<void>;
}

/** waitForDelivery gave up. */
export class DeliveryWaitTimeoutError extends Error {
  override readonly name = 'DeliveryWaitTimeoutError';
}
/** The router was stopped while it waited to retry; the message stays in its queue. */
class RouterStoppedError extends Error {
  override readonly name = 'RouterStoppedError';
}

/** Lambda's waits before the 1st and 2nd retry of an asynchronous invocation, in seconds. */
const LAMBDA_RETRY_DELAYS_S = [60, 120];

export function startRouter(options: RouterOptions): Router {
  const log = options.log ?? createLogger();
  const timeScale = options.timeScale ?? 0.02;
  const concurrency = options.concurrencyPerQueue ?? 10;
  const sqs = new SQSClient(emulatorClientConfig(options));
  const stopController = new AbortController();
  const stopSignal = stopController.signal;
  // Every queue's poller waits on it (one listener per pending receive): not a leak.
  setMaxListeners(Math.max(10, options.ruleQueues.length * 2 + 10), stopSignal);
  const listeners = new Set<(delivery: Delivery) => void>();
  const inFlight = new Set<Promise<void>>();
  const queueByArn = new Map(options.model.queues.map((q) => [q.arn, q]));

  const emit = (delivery: Delivery) => {
    for (const listener of [...listeners]) {
      try {
        listener(delivery);
      } catch (error) {
        log.error('a delivery listener threw', { error: describeError(error) });
      }
    }
  };

  const sleep = (ms: number) =>
    new Promise<void>((resolve, reject) => {
      if (stopSignal.aborted) return reject(new RouterStoppedError('stopped'));
      const onAbort = () => {
        clearTimeout(timer);
        reject(new RouterStoppedError('stopped'));
      };
      const timer = setTimeout(() => {
        stopSignal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      stopSignal.addEventListener('abort', onAbort, { once: true });
    });

  const sendToQueue = async (
    queueArn: string,
    body: string,
    attributes: Record<string, MessageAttributeValue>,
  ): Promise<void> => {
    const queue = queueByArn.get(queueArn);
    const url = queue?.url ?? queueUrlFromArn(queueArn, options.endpoint);
    await sqs.send(
      new SendMessageCommand({ QueueUrl: url, MessageBody: body, MessageAttributes: attributes }),
    );
  };

  /** Like an asynchronous Lambda invocation: retries, then DLQ / on-failure destination. */
  const deliverToFunction = async (
    route: RuleQueue,
    payload: unknown,
    receivedAt: number,
  ): Promise<Omit<Delivery, keyof RouteInfo>> => {
    const fn = options.invoker.resolveFunction(route.target.arn);
    if (fn === undefined) {
      return deliveryFailure(route, payload, {
        errorType: 'ResourceNotFoundException',
        errorMessage: `Function not found: ${route.target.arn}`,
      });
    }
    const maxAttempts = 1 + fn.asyncInvoke.maximumRetryAttempts;
    const maxAgeMs = fn.asyncInvoke.maximumEventAgeInSeconds * 1000 * timeScale;
    let attempts = 0;
    let lastError: { errorType: string; errorMessage: string } | undefined;
    let requestId = '';
    let condition: 'RetriesExhausted' | 'EventAgeExceeded' = 'RetriesExhausted';
    while (attempts < maxAttempts) {
      if (attempts > 0) {
        const delayMs = (LAMBDA_RETRY_DELAYS_S[attempts - 1] ?? 120) * 1000 * timeScale;
        if (Date.now() + delayMs - receivedAt > maxAgeMs) {
          condition = 'EventAgeExceeded';
          break;
        }
        await sleep(delayMs);
      }
      attempts++;
      try {
        const result = await options.invoker.invoke(fn.arn, payload, {
          onStart: (id) => {
            requestId = id;
          },
        });
        return { payload, outcome: 'succeeded', attempts, result };
      } catch (error) {
        lastError = invocationError(error);
        log.warn(`function ${fn.name} failed (attempt ${attempts} of ${maxAttempts})`, {
          rule: route.rule.logicalId,
          ...lastError,
        });
      }
    }
    const failure = lastError ?? { errorType: 'Unknown', errorMessage: 'no attempt was made' };
    const deadLetteredTo: string[] = [];
    if (fn.deadLetterArn !== undefined) {
      await sendToQueue(fn.deadLetterArn, JSON.stringify(payload), {
        RequestID: { DataType: 'String', StringValue: requestId || randomUUID() },
        ErrorCode: { DataType: 'Number', StringValue: '200' },
        ErrorMessage: {
          DataType: 'String',
          StringValue: truncate(failure.errorMessage, 1024) || failure.errorType,
        },
      });
      deadLetteredTo.push(fn.deadLetterArn);
    }
    if (fn.asyncInvoke.onFailureDestination !== undefined) {
      const record = {
        version: '1.0',
        timestamp: new Date().toISOString(),
        requestContext: {
          requestId,
          functionArn: `${fn.arn}:$LATEST`,
          condition,
          approximateInvokeCount: attempts,
        },
        requestPayload: payload,
        responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
        responsePayload: failure,
      };
      await sendToQueue(fn.asyncInvoke.onFailureDestination, JSON.stringify(record), {});
      deadLetteredTo.push(fn.asyncInvoke.onFailureDestination);
    }
    if (deadLetteredTo.length === 0) {
      log.error(
        `function ${fn.name} failed ${attempts} time(s) and has no dead-letter queue or on-failure destination: the event is dropped, here it is`,
        { rule: route.rule.logicalId, event: payload, ...failure },
      );
      return { payload, outcome: 'dropped', attempts, error: failure };
    }
    log.error(`function ${fn.name} failed ${attempts} time(s); the event went to its dead-letter queue`, {
      rule: route.rule.logicalId,
      deadLetteredTo,
      ...failure,
    });
    return { payload, outcome: 'dead-lettered', attempts, error: failure, deadLetteredTo };
  };

  /** EventBridge could not deliver: the rule target's DLQ, or a loud log line. */
  const deliveryFailure = async (
    route: RuleQueue,
    payload: unknown,
    failure: { errorType: string; errorMessage: string },
    attempts = 1,
  ): Promise<Omit<Delivery, keyof RouteInfo>> => {
    const dlq = route.target.deadLetterArn;
    if (dlq === undefined) {
      log.error(
        `rule ${route.rule.name} could not deliver to ${route.target.arn} and has no dead-letter queue: the event is dropped, here it is`,
        {
          event: payload,
          ...failure,
        },
      );
      return { payload, outcome: 'dropped', attempts, error: failure };
    }
    await sendToQueue(dlq, JSON.stringify(payload), {
      RULE_ARN: { DataType: 'String', StringValue: route.rule.arn },
      TARGET_ARN: { DataType: 'String', StringValue: route.target.arn },
      ERROR_CODE: { DataType: 'String', StringValue: failure.errorType },
      ERROR_MESSAGE: {
        DataType: 'String',
        StringValue: truncate(failure.errorMessage, 1024) || failure.errorType,
      },
    });
    log.error(
      `rule ${route.rule.name} could not deliver to ${route.target.arn}; the event went to the rule's dead-letter queue`,
      {
        ...failure,
      },
    );
    return { payload, outcome: 'dead-lettered', attempts, error: failure, deadLetteredTo: [dlq] };
  };

  const deliverToStateMachine = async (
    route: RuleQueue,
    payload: unknown,
  ): Promise<Omit<Delivery, keyof RouteInfo>> => {
    if (options.stepFunctions === undefined) {
      return deliveryFailure(route, payload, {
        errorType: 'StateMachineDoesNotExist',
        errorMessage: 'No local Step Functions service is attached to the router',
      });
    }
    try {
      const { executionArn } = options.stepFunctions.startExecution({
        stateMachineArn: route.target.arn,
        input: JSON.stringify(payload),
      });
      return { payload, outcome: 'succeeded', attempts: 1, executionArn };
    } catch (error) {
      return deliveryFailure(route, payload, invocationError(error));
    }
  };

  const handleMessage = async (route: RuleQueue, message: Message): Promise<void> => {
    const receivedAt = Date.now();
    const info: RouteInfo = {
      ruleLogicalId: route.rule.logicalId,
      ruleName: route.rule.name,
      targetId: route.target.id,
      targetArn: route.target.arn,
      targetKind: route.target.kind,
    };
    let delivery: Delivery;
    try {
      const payload = targetInput(route.target, message.Body ?? '');
      const outcome =
        route.target.kind === 'lambda'
          ? await deliverToFunction(route, payload, receivedAt)
          : await deliverToStateMachine(route, payload);
      delivery = { ...info, ...outcome };
    } catch (error) {
      if (error instanceof RouterStoppedError) {
        log.info(
          `router stopped while ${route.rule.name} waited to retry; the event stays in ${route.queueName}`,
        );
        return;
      }
      log.error(`could not handle an event of rule ${route.rule.name}; it stays in ${route.queueName}`, {
        error: describeError(error),
        body: message.Body,
      });
      return;
    }
    try {
      await sqs.send(
        new DeleteMessageCommand({ QueueUrl: route.queueUrl, ReceiptHandle: message.ReceiptHandle }),
      );
    } catch (error) {
      log.warn(`could not delete a handled message from ${route.queueName}; it may be delivered again`, {
        error: describeError(error),
      });
    }
    emit(delivery);
  };

  const poll = async (route: RuleQueue): Promise<void> => {
    const mine = new Set<Promise<void>>();
    while (!stopSignal.aborted) {
      if (mine.size >= concurrency) {
        await Promise.race(mine);
        continue;
      }
      let messages: Message[];
      try {
        const result = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: route.queueUrl,
            WaitTimeSeconds: 1,
            MaxNumberOfMessages: Math.min(10, concurrency - mine.size),
          }),
          { abortSignal: stopSignal },
        );
        messages = result.Messages ?? [];
      } catch (error) {
        if (stopSignal.aborted) break;
        log.warn(`could not receive from ${route.queueName}; retrying in 1 s`, {
          error: describeError(error),
        });
        await sleep(1000).catch(() => undefined);
        continue;
      }
      for (const message of messages) {
        const task: Promise<void> = handleMessage(route, message).finally(() => {
          mine.delete(task);
          inFlight.delete(task);
        });
        mine.add(task);
        inFlight.add(task);
      }
    }
  };

  const fireSchedule = async (rule: LocalRule, route: RuleQueue): Promise<void> => {
    const event = {
      version: '0',
      id: randomUUID(),
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: options.model.account,
      time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region: options.model.region,
      resources: [rule.arn],
      detail: {},
    };
    try {
      await sqs.send(
        new SendMessageCommand({ QueueUrl: route.queueUrl, MessageBody: JSON.stringify(event) }),
      );
    } catch (error) {
      if (!stopSignal.aborted)
        log.warn(`could not fire schedule of rule ${rule.name}`, { error: describeError(error) });
    }
  };

  // Schedules: put EventBridge's scheduled event into the rule's router queue(s).
  const timers: NodeJS.Timeout[] = [];
  if (options.fireSchedules ?? true) {
    for (const rule of options.model.rules) {
      if (rule.scheduleExpression === undefined || rule.state !== 'ENABLED') continue;
      const periodMs = ratePeriodMs(rule.scheduleExpression);
      if (periodMs === undefined) {
        log.warn(
          `rule ${rule.name}: schedule ${rule.scheduleExpression} is not fired locally (only rate(...) is)`,
        );
        continue;
      }
      const routes = options.ruleQueues.filter((q) => q.rule.logicalId === rule.logicalId);
      const interval = Math.max(50, periodMs * timeScale);
      const timer = setInterval(() => {
        for (const route of routes) void fireSchedule(rule, route);
      }, interval);
      timers.push(timer);
    }
  }
  const pollers = options.ruleQueues.map((route) =>
    poll(route).catch((error: unknown) => {
      log.error(`the poller of ${route.queueName} died`, { error: describeError(error) });
    }),
  );
  log.debug('router started', { queues: options.ruleQueues.map((q) => q.queueName) });

  let stopping: Promise<void> | undefined;
  const onDelivery = (listener: (delivery: Delivery) => void): (() => void) => {
    listeners.add(listener);
    return () => listeners.delete(listener);
  };
  return {
    onDelivery,
    waitForDelivery(predicate = () => true, timeoutMs = 30_000) {
      return new Promise<Delivery>((resolve, reject) => {
        const unsubscribe = onDelivery((delivery) => {
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
    },
    get inFlight() {
      return inFlight.size;
    },
    stop() {
      stopping ??= (async () => {
        for (const timer of timers) clearInterval(timer);
        stopController.abort();
        await Promise.all(pollers);
        await Promise.all([...inFlight]);
        sqs.destroy();
      })();
      return stopping;
    },
  };
}

type RouteInfo = Pick<Delivery, 'ruleLogicalId' | 'ruleName' | 'targetId' | 'targetArn' | 'targetKind'>;

/** What the target receives: the event, or what the target's Input / InputPath / InputTransformer make of it. */
export function targetInput(target: LocalRuleTarget, body: string): unknown {
  if (target.input !== undefined) return JSON.parse(target.input) as unknown;
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    value = body; // an input transformer may produce plain text
  }
  if (target.inputPath !== undefined) return evaluatePath(target.inputPath, value);
  return value;
}

/** A simple JSONPath (`$`, `$.a.b`, `$.a[0]`, `$['a-b']`). */
export function evaluatePath(path: string, value: unknown): unknown {
  if (!path.startsWith('$')) throw new Error(`Unsupported InputPath ${JSON.stringify(path)}`);
  const re = /\.([A-Za-z_$][\w$-]*)|\['([^']*)'\]|\[(\d+)\]/gy;
  re.lastIndex = 1;
  let current = value;
  while (re.lastIndex < path.length) {
    const match = re.exec(path);
    if (match === null) throw new Error(`Unsupported InputPath ${JSON.stringify(path)}`);
    const key = match[1] ?? match[2] ?? Number(match[3]);
    current =
      current !== null && typeof current === 'object' ? (current as Record<string, unknown>)[key] : undefined;
  }
  return current;
}

/** `rate(5 minutes)` → 300000; undefined for anything else. */
export function ratePeriodMs(expression: string): number | undefined {
  const match = /^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$/.exec(expression.trim());
  if (match === null) return undefined;
  const unit = match[2]!.startsWith('minute')
    ? 60_000
    : match[2]!.startsWith('hour')
      ? 3_600_000
      : 86_400_000;
  return Number(match[1]) * unit;
}

function invocationError(error: unknown): { errorType: string; errorMessage: string } {
  const e = error as { errorType?: unknown; errorMessage?: unknown; name?: unknown; message?: unknown };
  if (typeof e?.errorType === 'string' && typeof e.errorMessage === 'string') {
    return { errorType: e.errorType, errorMessage: e.errorMessage };
  }
  return {
    errorType: typeof e?.name === 'string' ? e.name : 'Error',
    errorMessage: typeof e?.message === 'string' ? e.message : String(error),
  };
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function queueUrlFromArn(arn: string, endpoint: string): string {
  const parts = arn.split(':');
  return `${endpoint.replace(/\/+$/, '')}/${parts[4] ?? ''}/${parts[5] ?? ''}`;
}
