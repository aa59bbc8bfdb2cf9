/**
 * What a Task state's Resource runs locally:
 *
 * - a function ARN of the template: the Lambda invoker, with the state's input;
 * - `arn:aws:states:::lambda:invoke`: the invoker with `Payload`, answered as Lambda's Invoke API
 *   answers (`{Payload, StatusCode, ExecutedVersion}`);
 * - `arn:aws:states:::lambda:invoke.waitForTaskToken` (the callback pattern): a task token is
 *   opened (`callbacks.ts`; `$$.Task.Token` in Parameters is that token), the invoker runs with
 *   `Payload` (its answer is not the task's result: `TaskSubmitted` in the history), and the task
 *   ends with the output of SendTaskSuccess, the error of SendTaskFailure, `States.Timeout`
 *   (TimeoutSeconds, HeartbeatSeconds: scaled by timeScale, like Wait states) or its execution;
 * - `arn:aws:states:::states:startExecution` (request-response, not `.sync`): StartExecution on
 *   the service's own registry, answered as AWS answers (`{ExecutionArn, StartDate}`); its errors
 *   are named `StepFunctions.<Exception>`, as a service integration's are.
 */
import { StepFunctionsApiError, type LambdaInvoker, type StartExecutionRequest } from './api';
import type { CallbackRegistry } from './callbacks';
import {
  LOCAL_WAIT_TASK_TIMEOUT_SECONDS,
  type StateDef,
  type TaskBinder,
  type TaskHandler,
} from './definition';

const LAMBDA_INVOKE = /^arn:[^:]+:states:::lambda:invoke$/;
const LAMBDA_INVOKE_CALLBACK = /^arn:[^:]+:states:::lambda:invoke\.waitForTaskToken$/;
/** What `$$.Task.Token` becomes in a callback task's Parameters, replaced by its token when it runs. */
const TASK_TOKEN_PLACEHOLDER = '__phoenix_local_task_token__';
/** The Step Functions service integration that starts an execution (request-response, not `.sync`). */
const START_EXECUTION = /^arn:[^:]+:states:::states:startExecution$/;

export interface TaskTargets {
  readonly invoker: LambdaInvoker;
  /** StartExecution against the service's own registry. */
  startExecution(request: StartExecutionRequest): { executionArn: string; startDate: Date };
  /** The task tokens of callback tasks. */
  readonly callbacks: CallbackRegistry;
  /** Multiplies a callback task's TimeoutSeconds and HeartbeatSeconds. */
  readonly timeScale: number;
}

/** Binds each Task state to what runs its Resource (undefined: the local runtime cannot). */
export function taskBinder(targets: TaskTargets): TaskBinder {
  return (state) => {
    const resource = state.Resource;
    if (typeof resource !== 'string') return undefined;
    if (targets.invoker.resolveFunction(resource) !== undefined) {
      return (input) => targets.invoker.invoke(resource, input);
    }
    if (START_EXECUTION.test(resource)) return (input) => startExecutionTask(targets, input);
    if (LAMBDA_INVOKE_CALLBACK.test(resource)) return callbackTask(targets, state);
    if (LAMBDA_INVOKE.test(resource)) return (input) => lambdaInvokeTask(targets.invoker, input);
    return undefined;
  };
}

function startExecutionTask(targets: TaskTargets, input: unknown): Promise<unknown> {
  const parameters = (input ?? {}) as { StateMachineArn?: unknown; Name?: unknown; Input?: unknown };
  try {
    if (typeof parameters.StateMachineArn !== 'string') {
      throw new StepFunctionsApiError('ValidationException', 'StateMachineArn is required');
    }
    const started = targets.startExecution({
      stateMachineArn: parameters.StateMachineArn,
      ...(typeof parameters.Name === 'string' ? { name: parameters.Name } : {}),
      ...(parameters.Input !== undefined
        ? {
            input: typeof parameters.Input === 'string' ? parameters.Input : JSON.stringify(parameters.Input),
          }
        : {}),
    });
    return Promise.resolve({
      ExecutionArn: started.executionArn,
      StartDate: started.startDate.toISOString(),
    });
  } catch (error) {
    return Promise.reject(integrationError(error));
  }
}

/** Errors of a service integration are named `StepFunctions.<Exception>`. */
function integrationError(error: unknown): Error {
  if (error instanceof StepFunctionsApiError) {
    const named = new Error(error.message);
    named.name = `StepFunctions.${error.code.endsWith('Exception') ? error.code : `${error.code}Exception`}`;
    return named;
  }
  return error instanceof Error ? error : new Error(String(error));
}

async function lambdaInvokeTask(invoker: LambdaInvoker, input: unknown): Promise<unknown> {
  const parameters = (input ?? {}) as { FunctionName?: unknown; Payload?: unknown };
  if (
    typeof parameters.FunctionName !== 'string' ||
    invoker.resolveFunction(parameters.FunctionName) === undefined
  ) {
    const error = new Error(`Function not found: ${JSON.stringify(parameters.FunctionName)}`);
    error.name = 'Lambda.ResourceNotFoundException';
    throw error;
  }
  const payload = await invoker.invoke(parameters.FunctionName, parameters.Payload ?? null);
  return { Payload: payload, StatusCode: 200, ExecutedVersion: '$LATEST' };
}

/**
 * A `lambda:invoke.waitForTaskToken` task. Rewrites the executed copy of its state: `$$.Task.Token`
 * in Parameters becomes a placeholder (the engine has no Task context object), TimeoutSeconds is
 * scaled (the engine's own timer fails it with `States.Timeout`), HeartbeatSeconds is handled
 * here. Undefined (cannot run locally) for path-based timeouts or a token used other than as a
 * value of Parameters.
 */
function callbackTask(targets: TaskTargets, state: StateDef): TaskHandler | undefined {
  if ('TimeoutSecondsPath' in state || 'HeartbeatSecondsPath' in state) return undefined;
  const parameters = state.Parameters;
  if (parameters === undefined || !replaceTokenPaths(parameters)) return undefined;
  const scale = targets.timeScale;
  const timeoutMs =
    typeof state.TimeoutSeconds === 'number' ? state.TimeoutSeconds * 1000 * scale : undefined;
  const heartbeatMs =
    typeof state.HeartbeatSeconds === 'number' ? state.HeartbeatSeconds * 1000 * scale : undefined;
  // Without TimeoutSeconds, a callback task waits as long as its execution may (AWS: a year).
  state.TimeoutSeconds = timeoutMs !== undefined ? timeoutMs / 1000 : LOCAL_WAIT_TASK_TIMEOUT_SECONDS;
  delete state.HeartbeatSeconds;
  return async (input, signal, run) => {
    // Opened before the invocation: the function may answer its token before it returns.
    const task = targets.callbacks.open({
      executionArn: run.executionArn,
      stateName: run.stateName,
      signal,
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      ...(heartbeatMs !== undefined ? { heartbeatMs } : {}),
    });
    let submitted: unknown;
    try {
      submitted = await lambdaInvokeTask(targets.invoker, withToken(input, task.token));
    } catch (error) {
      task.close();
      throw error;
    }
    // After the engine's own events of this state (TaskStateEntered), which reach the history
    // through an async log.
    await new Promise((resolve) => setImmediate(resolve));
    run.addEvent('TaskSubmitted', {
      taskSubmittedEventDetails: {
        resource: 'invoke.waitForTaskToken',
        resourceType: 'lambda',
        output: JSON.stringify(submitted),
      },
    });
    return task.result;
  };
}

/** `"x.$": "$$.Task.Token"` → `"x": <placeholder>`, anywhere in Parameters; false if the token is used otherwise. */
function replaceTokenPaths(value: unknown): boolean {
  if (Array.isArray(value)) return value.every(replaceTokenPaths);
  if (value === null || typeof value !== 'object') return true;
  const object = value as Record<string, unknown>;
  for (const [key, field] of Object.entries(object)) {
    if (key.endsWith('.$') && typeof field === 'string' && field.includes('$$.Task.Token')) {
      if (field !== '$$.Task.Token') return false;
      delete object[key];
      object[key.slice(0, -2)] = TASK_TOKEN_PLACEHOLDER;
    } else if (!replaceTokenPaths(field)) return false;
  }
  return true;
}

function withToken(value: unknown, token: string): unknown {
  if (value === TASK_TOKEN_PLACEHOLDER) return token;
  if (Array.isArray(value)) return value.map((item) => withToken(item, token));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, withToken(field, token)]));
}
