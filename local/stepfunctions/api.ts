/**
 * The vocabulary of the local Step Functions service: execution records and their history, state
 * machine registrations, the API errors (named as Step Functions names them) and the name and ARN
 * rules the API enforces.
 */

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

export interface HistoryEvent {
  readonly id: number;
  readonly previousEventId: number;
  readonly timestamp: Date;
  readonly type: string;
  readonly [details: string]: unknown;
}

export interface ExecutionRecord {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  status: ExecutionStatus;
  /** The input as given (a JSON string). */
  readonly input: string;
  output?: string;
  error?: string;
  cause?: string;
  readonly startDate: Date;
  stopDate?: Date;
  readonly events: HistoryEvent[];
}

export interface StateMachineRegistration {
  readonly name: string;
  readonly arn: string;
  /** The definition, as a JSON string (tokens resolved) or an object. */
  readonly definition: string | object;
  readonly roleArn?: string;
  readonly type?: 'STANDARD' | 'EXPRESS';
}

export interface StartExecutionRequest {
  readonly stateMachineArn: string;
  readonly name?: string;
  readonly input?: string;
}

/** What runs the Lambda tasks (the lambda host, or a test double). */
export interface LambdaInvoker {
  /** Whether this name or ARN is one of our functions. */
  resolveFunction(nameOrArn: string): unknown;
  /** Invoke; on failure reject with an Error whose name is the error type and message the Cause. */
  invoke(nameOrArn: string, payload: unknown): Promise<unknown>;
}

// ---- errors ------------------------------------------------------------------------------------

/** An API error, named as Step Functions names it (`ExecutionAlreadyExists`, `InvalidName`...). */
export class StepFunctionsApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = code;
  }
}
/** A Task state's Resource is not something the local runtime can run. */
export class UnsupportedTaskResourceError extends Error {
  override readonly name = 'UnsupportedTaskResourceError';
}
/** A definition that aws-local-stepfunctions rejects. */
export class InvalidDefinitionError extends Error {
  override readonly name = 'InvalidDefinitionError';
}
/** `waitForExecution` gave up. */
export class ExecutionWaitTimeoutError extends Error {
  override readonly name = 'ExecutionWaitTimeoutError';
}

// ---- validation --------------------------------------------------------------------------------

/** Execution names as Step Functions accepts them: 1-80 characters, none of the forbidden ones. */
export function validateName(name: string): void {
  // eslint-disable-next-line no-control-regex
  const forbidden = /[\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]/u;
  if (name.length < 1 || name.length > 80 || forbidden.test(name)) {
    throw new StepFunctionsApiError(
      'InvalidName',
      `Invalid Name: '${name}' (1-80 characters, no whitespace, brackets, wildcards, control characters or any of " # % \\ ^ | ~ \` $ & , ; : /)`,
    );
  }
}

export function validateArn(arn: string, resource: 'execution' | 'stateMachine'): void {
  if (!new RegExp(`^arn:[^:]+:states:[^:]+:\\d{12}:${resource}:`).test(arn)) {
    throw new StepFunctionsApiError('InvalidArn', `Invalid Arn: '${arn}'`);
  }
}
