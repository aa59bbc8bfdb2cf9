/**
 * What a Task state's Resource runs locally:
 *
 * - a function ARN of the template: the Lambda invoker, with the state's input;
 * - `arn:aws:states:::lambda:invoke`: the invoker with `Payload`, answered as Lambda's Invoke API
 *   answers (`{Payload, StatusCode, ExecutedVersion}`);
 * - `arn:aws:states:::states:startExecution` (request-response, not `.sync`): StartExecution on
 *   the service's own registry, answered as AWS answers (`{ExecutionArn, StartDate}`); its errors
 *   are named `StepFunctions.<Exception>`, as a service integration's are.
 */
import { StepFunctionsApiError, type LambdaInvoker, type StartExecutionRequest } from './api';
import type { TaskBinder } from './definition';

const LAMBDA_INVOKE = /^arn:[^:]+:states:::lambda:invoke$/;
/** The Step Functions service integration that starts an execution (request-response, not `.sync`). */
const START_EXECUTION = /^arn:[^:]+:states:::states:startExecution$/;

export interface TaskTargets {
  readonly invoker: LambdaInvoker;
  /** StartExecution against the service's own registry. */
  startExecution(request: StartExecutionRequest): { executionArn: string; startDate: Date };
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
