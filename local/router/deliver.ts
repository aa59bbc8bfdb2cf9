/**
 * Delivering one event to one rule target:
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
 * RULE_ARN, TARGET_ARN, ERROR_CODE, ERROR_MESSAGE attributes. What cannot be dead-lettered is
 * logged whole, at error level.
 */
import { randomUUID } from 'node:crypto';
import type { RuleQueue } from '../provision';
import type { LocalFunction } from '../template';
import type { DeliveryResult, FailureDetails, RouterContext } from './types';

/** Lambda's waits before the 1st and 2nd retry of an asynchronous invocation, in seconds. */
const LAMBDA_RETRY_DELAYS_S = [60, 120];

type FailureCondition = 'RetriesExhausted' | 'EventAgeExceeded';

/** What the invocations of a function came to: a result, or the last failure and why it stopped. */
type InvocationOutcome =
  | { readonly succeeded: true; readonly attempts: number; readonly result: unknown }
  | {
      readonly succeeded: false;
      readonly attempts: number;
      readonly failure: FailureDetails;
      readonly condition: FailureCondition;
      readonly requestId: string;
    };

/** Like an asynchronous Lambda invocation: retries, then DLQ / on-failure destination. */
export async function deliverToFunction(
  ctx: RouterContext,
  route: RuleQueue,
  payload: unknown,
  receivedAt: number,
): Promise<DeliveryResult> {
  const fn = ctx.options.invoker.resolveFunction(route.target.arn);
  if (fn === undefined) {
    return deliveryFailure(ctx, route, payload, {
      errorType: 'ResourceNotFoundException',
      errorMessage: `Function not found: ${route.target.arn}`,
    });
  }
  const invoked = await invokeWithRetries(ctx, route, fn, payload, receivedAt);
  if (invoked.succeeded) {
    return { payload, outcome: 'succeeded', attempts: invoked.attempts, result: invoked.result };
  }
  return deadLetterInvocation(ctx, route, fn, payload, invoked);
}

async function invokeWithRetries(
  ctx: RouterContext,
  route: RuleQueue,
  fn: LocalFunction,
  payload: unknown,
  receivedAt: number,
): Promise<InvocationOutcome> {
  const maxAttempts = 1 + fn.asyncInvoke.maximumRetryAttempts;
  const maxAgeMs = fn.asyncInvoke.maximumEventAgeInSeconds * 1000 * ctx.timeScale;
  let attempts = 0;
  let lastError: FailureDetails | undefined;
  let requestId = '';
  let condition: FailureCondition = 'RetriesExhausted';
  while (attempts < maxAttempts) {
    if (attempts > 0) {
      const delayMs = (LAMBDA_RETRY_DELAYS_S[attempts - 1] ?? 120) * 1000 * ctx.timeScale;
      if (Date.now() + delayMs - receivedAt > maxAgeMs) {
        condition = 'EventAgeExceeded';
        break;
      }
      await ctx.sleep(delayMs);
    }
    attempts++;
    try {
      const result = await ctx.options.invoker.invoke(fn.arn, payload, {
        onStart: (id) => {
          requestId = id;
        },
      });
      return { succeeded: true, attempts, result };
    } catch (error) {
      lastError = invocationError(error);
      ctx.log.warn(`function ${fn.name} failed (attempt ${attempts} of ${maxAttempts})`, {
        rule: route.rule.logicalId,
        ...lastError,
      });
    }
  }
  const failure = lastError ?? { errorType: 'Unknown', errorMessage: 'no attempt was made' };
  return { succeeded: false, attempts, failure, condition, requestId };
}

/** A function that failed every attempt: its dead-letter queue and/or on-failure destination. */
async function deadLetterInvocation(
  ctx: RouterContext,
  route: RuleQueue,
  fn: LocalFunction,
  payload: unknown,
  invoked: Extract<InvocationOutcome, { succeeded: false }>,
): Promise<DeliveryResult> {
  const { attempts, failure, condition, requestId } = invoked;
  const deadLetteredTo: string[] = [];
  if (fn.deadLetterArn !== undefined) {
    await ctx.sendToQueue(fn.deadLetterArn, JSON.stringify(payload), {
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
    await ctx.sendToQueue(fn.asyncInvoke.onFailureDestination, JSON.stringify(record), {});
    deadLetteredTo.push(fn.asyncInvoke.onFailureDestination);
  }
  if (deadLetteredTo.length === 0) {
    ctx.log.error(
      `function ${fn.name} failed ${attempts} time(s) and has no dead-letter queue or on-failure destination: the event is dropped, here it is`,
      { rule: route.rule.logicalId, event: payload, ...failure },
    );
    return { payload, outcome: 'dropped', attempts, error: failure };
  }
  ctx.log.error(`function ${fn.name} failed ${attempts} time(s); the event went to its dead-letter queue`, {
    rule: route.rule.logicalId,
    deadLetteredTo,
    ...failure,
  });
  return { payload, outcome: 'dead-lettered', attempts, error: failure, deadLetteredTo };
}

export async function deliverToStateMachine(
  ctx: RouterContext,
  route: RuleQueue,
  payload: unknown,
): Promise<DeliveryResult> {
  const stepFunctions = ctx.options.stepFunctions;
  if (stepFunctions === undefined) {
    return deliveryFailure(ctx, route, payload, {
      errorType: 'StateMachineDoesNotExist',
      errorMessage: 'No local Step Functions service is attached to the router',
    });
  }
  try {
    const { executionArn } = stepFunctions.startExecution({
      stateMachineArn: route.target.arn,
      input: JSON.stringify(payload),
    });
    return { payload, outcome: 'succeeded', attempts: 1, executionArn };
  } catch (error) {
    return deliveryFailure(ctx, route, payload, invocationError(error));
  }
}

/** EventBridge could not deliver: the rule target's DLQ, or a loud log line. */
async function deliveryFailure(
  ctx: RouterContext,
  route: RuleQueue,
  payload: unknown,
  failure: FailureDetails,
  attempts = 1,
): Promise<DeliveryResult> {
  const dlq = route.target.deadLetterArn;
  if (dlq === undefined) {
    ctx.log.error(
      `rule ${route.rule.name} could not deliver to ${route.target.arn} and has no dead-letter queue: the event is dropped, here it is`,
      {
        event: payload,
        ...failure,
      },
    );
    return { payload, outcome: 'dropped', attempts, error: failure };
  }
  await ctx.sendToQueue(dlq, JSON.stringify(payload), {
    RULE_ARN: { DataType: 'String', StringValue: route.rule.arn },
    TARGET_ARN: { DataType: 'String', StringValue: route.target.arn },
    ERROR_CODE: { DataType: 'String', StringValue: failure.errorType },
    ERROR_MESSAGE: {
      DataType: 'String',
      StringValue: truncate(failure.errorMessage, 1024) || failure.errorType,
    },
  });
  ctx.log.error(
    `rule ${route.rule.name} could not deliver to ${route.target.arn}; the event went to the rule's dead-letter queue`,
    {
      ...failure,
    },
  );
  return { payload, outcome: 'dead-lettered', attempts, error: failure, deadLetteredTo: [dlq] };
}

function invocationError(error: unknown): FailureDetails {
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
