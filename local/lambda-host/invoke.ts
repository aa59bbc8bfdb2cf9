/**
 * One synchronous invocation (RequestResponse), as Lambda runs it: a JSON copy of the event, a
 * realistic context, the function's timeout, failures as LambdaFunctionError; and the count of
 * invocations running, with waiters for it to drop to 0.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { inHandlerContext } from '../../lambdas/aws/call-context';
import type { LocalFunction } from '../template';
import {
  FunctionNotFoundError,
  type Handler,
  type HostState,
  type InvokeOptions,
  LambdaFunctionError,
} from './types';

export async function invoke(
  state: HostState,
  nameOrArn: string,
  payload: unknown,
  invokeOptions: InvokeOptions = {},
): Promise<unknown> {
  const { model, log } = state;
  const fn = model.findFunction(nameOrArn);
  if (fn === undefined) {
    throw new FunctionNotFoundError(
      `No function ${JSON.stringify(nameOrArn)} in the template (functions: ${model.functions.map((f) => f.name).join(', ')})`,
    );
  }
  const handler = state.handlers.get(fn.logicalId)!;
  const requestId = randomUUID();
  const timeoutMs = fn.timeoutSeconds * 1000;
  // What the handler is told: the simulated deadline (the timeout × the time scale).
  const context = lambdaContext(fn, requestId, Date.now() + timeoutMs * state.timeScale);
  // Lambda hands the handler a deserialized copy: no shared references with the caller.
  const event = JSON.parse(JSON.stringify(payload ?? null)) as unknown;
  invokeOptions.onStart?.(requestId);
  state.inFlight++;
  let timer: NodeJS.Timeout | undefined;
  const fault = state.faults?.decide(fn.handler);
  const died = () =>
    new LambdaFunctionError({
      errorType: 'Runtime.ExitError',
      errorMessage: `RequestId: ${requestId} Error: Runtime exited with error: exit status 1`,
      functionName: fn.name,
      requestId,
    });
  try {
    // An injected fault (local/faults): the runtime dies before the handler runs.
    if (fault === 'crash-before') throw died();
    // Names the invocation for the test suite's AWS call recording (off unless enabled: a plain call).
    const run = inHandlerContext(fn.handler, () => callHandler(handler, event, context));
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(
          new LambdaFunctionError({
            errorType: 'Sandbox.Timedout',
            errorMessage: `RequestId: ${requestId} Error: Task timed out after ${fn.timeoutSeconds.toFixed(2)} seconds`,
            functionName: fn.name,
            requestId,
          }),
        );
      }, timeoutMs);
    });
    const result = await Promise.race([run, timeout]);
    // Injected faults after the handler's side effects: the runtime dies before answering, or the
    // function is reported timed out (after its timeout, scaled); the result is lost either way.
    if (fault === 'crash-after') throw died();
    if (fault === 'timeout') {
      clearTimeout(timer);
      await new Promise((resolve) => setTimeout(resolve, timeoutMs * (state.faults?.timeScale ?? 1)));
      throw new LambdaFunctionError({
        errorType: 'Sandbox.Timedout',
        errorMessage: `RequestId: ${requestId} Error: Task timed out after ${fn.timeoutSeconds.toFixed(2)} seconds`,
        functionName: fn.name,
        requestId,
      });
    }
    return result === undefined ? null : (JSON.parse(JSON.stringify(result)) as unknown);
  } catch (error) {
    if (error instanceof LambdaFunctionError) {
      if (error.errorType === 'Sandbox.Timedout' && fault !== 'timeout') {
        log.warn(
          `function ${fn.name} timed out after ${fn.timeoutSeconds} s (its handler keeps running in-process)`,
        );
      }
      throw error;
    }
    const { errorType, errorMessage } = errorShape(error);
    throw new LambdaFunctionError({
      errorType,
      errorMessage,
      functionName: fn.name,
      requestId,
      cause: error,
    });
  } finally {
    clearTimeout(timer);
    settle(state);
  }
}

function settle(state: HostState): void {
  state.inFlight--;
  if (state.inFlight === 0) for (const wake of [...state.idleWaiters]) wake();
}

/** Resolves true when no invocation is running, false after `timeoutMs`. */
export function idle(state: HostState, timeoutMs: number): Promise<boolean> {
  if (state.inFlight === 0) return Promise.resolve(true);
  return new Promise<boolean>((resolve) => {
    const wake = () => {
      clearTimeout(timer);
      state.idleWaiters.delete(wake);
      resolve(true);
    };
    const timer = setTimeout(() => {
      state.idleWaiters.delete(wake);
      resolve(false);
    }, timeoutMs);
    state.idleWaiters.add(wake);
  });
}

/** Call a handler: promise style, or callback style when it takes three parameters and returns nothing. */
function callHandler(handler: Handler, event: unknown, context: Context): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const callback = (error?: unknown, result?: unknown) => {
      if (settled) return;
      settled = true;
      // A handler may fail with anything (a string, an object): errorShape() reports it as Lambda would.
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      if (error !== undefined && error !== null) reject(error);
      else resolve(result);
    };
    try {
      const returned = handler(event, context, callback);
      if (returned !== undefined || handler.length < 3) {
        settled = true;
        Promise.resolve(returned).then(resolve, reject);
      }
    } catch (error) {
      settled = true;
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      reject(error);
    }
  });
}

/** errorType and errorMessage as the Node.js Lambda runtime reports them. */
export function errorShape(error: unknown): { errorType: string; errorMessage: string } {
  if (error instanceof Error) {
    return { errorType: error.name || 'Error', errorMessage: error.message };
  }
  if (typeof error === 'object' && error !== null) {
    const e = error as { name?: unknown; message?: unknown };
    return {
      errorType: typeof e.name === 'string' ? e.name : 'Error',
      errorMessage: typeof e.message === 'string' ? e.message : JSON.stringify(error),
    };
  }
  return { errorType: typeof error === 'string' ? 'string' : 'Error', errorMessage: String(error) };
}

function lambdaContext(fn: LocalFunction, requestId: string, deadline: number): Context {
  const date = new Date().toISOString().slice(0, 10).replace(/-/g, '/');
  const unsupported = (what: string) => () => {
    throw new Error(`context.${what}() is not supported: return a value or a promise from the handler`);
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: fn.name,
    functionVersion: '$LATEST',
    invokedFunctionArn: fn.arn,
    memoryLimitInMB: String(fn.memorySize),
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${fn.name}`,
    logStreamName: `${date}/[$LATEST]${randomBytes(16).toString('hex')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: unsupported('done'),
    fail: unsupported('fail'),
    succeed: unsupported('succeed'),
  };
}
