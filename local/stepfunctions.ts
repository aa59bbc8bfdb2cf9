/**
 * A small local Step Functions service: the state machines of the template, executed by
 * aws-local-stepfunctions, behind an HTTP endpoint speaking the AWS JSON 1.0 protocol of Step
 * Functions (what `@aws-sdk/client-sfn` and the AWS CLI send), plus an in-process API.
 *
 * Operations: StartExecution, DescribeExecution, ListExecutions, StopExecution,
 * ListStateMachines, DescribeStateMachine, GetExecutionHistory (minimal). Task states may invoke
 * the template's Lambda functions or start an execution of a registered state machine
 * (`arn:aws:states:::states:startExecution`, request-response: continue-as-new).
 *
 * As in AWS: an execution name is unique per state machine. StartExecution with the name and
 * input of a RUNNING execution returns that execution; any other reuse of a name is
 * `ExecutionAlreadyExists`.
 *
 * Time: `Wait` states with `Seconds` wait Seconds × timeScale (`waitTimeOverrides`); `Wait` states
 * with `SecondsPath`/`Timestamp`/`TimestampPath` are run by a local task that waits the scaled
 * time; Retry intervals (`IntervalSeconds`, `MaxDelaySeconds`) are scaled in the executed copy of
 * the definition, so backoff and jitter behave as in AWS, only faster. timeScale 1 = real time.
 * Task and execution timeouts are not scaled (task handlers run in real time).
 */
import './polyfills';
import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  StateMachine,
  type StateMachineDefinition,
} from 'aws-local-stepfunctions';
import { createLogger, describeError, type LocalLogger } from './log';

// ---- types -------------------------------------------------------------------------------------

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

/** What runs the Lambda tasks (the lambda host, or a test double). */
export interface LambdaInvoker {
  /** Whether this name or ARN is one of our functions. */
  resolveFunction(nameOrArn: string): unknown;
  /** Invoke; on failure reject with an Error whose name is the error type and message the Cause. */
  invoke(nameOrArn: string, payload: unknown): Promise<unknown>;
}

export interface LocalStepFunctionsOptions {
  readonly region?: string;
  readonly account?: string;
  readonly invoker: LambdaInvoker;
  /** Multiplies every wait and retry interval. Default 0.02 (a 15 s wait takes 0.3 s); 1 = real time. */
  readonly timeScale?: number;
  /** Port of the HTTP endpoint. Default: a free port on 127.0.0.1. */
  readonly port?: number;
  readonly log?: LocalLogger;
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

// ---- definition preparation -----------------------------------------------------------------

type StateDef = Record<string, unknown> & { Type?: string };
type MachineDef = { StartAt: string; States: Record<string, StateDef>; [key: string]: unknown };
type TaskHandler = (input: unknown, signal: AbortSignal) => Promise<unknown>;

const LAMBDA_INVOKE = /^arn:[^:]+:states:::lambda:invoke$/;
/** The Step Functions service integration that starts an execution (request-response, not `.sync`). */
const START_EXECUTION = /^arn:[^:]+:states:::states:startExecution$/;
const LOCAL_WAIT_RESOURCE = 'arn:aws:states:::phoenix-local:wait';
/** Under setTimeout's limit (2^31-1 ms). */
const LOCAL_WAIT_TASK_TIMEOUT_SECONDS = 2_000_000;

interface PreparedMachine {
  readonly registration: Required<Pick<StateMachineRegistration, 'name' | 'arn'>> & {
    roleArn: string;
    type: 'STANDARD' | 'EXPRESS';
  };
  /** The definition as registered (DescribeStateMachine). */
  readonly definitionString: string;
  /** The definition to execute: scaled retries, rewritten path-based waits. Cloned per execution. */
  readonly executable: MachineDef;
  readonly taskHandlers: Record<string, TaskHandler>;
  readonly waitTimeOverrides: Record<string, number>;
  readonly createdAt: Date;
}

function forEachState(machine: MachineDef, visit: (name: string, state: StateDef) => void): void {
  for (const [name, state] of Object.entries(machine.States ?? {})) {
    visit(name, state);
    if (state.Type === 'Map') {
      const inner = (state.ItemProcessor ?? state.Iterator) as MachineDef | undefined;
      if (inner !== undefined) forEachState(inner, visit);
    }
    if (state.Type === 'Parallel' && Array.isArray(state.Branches)) {
      for (const branch of state.Branches as MachineDef[]) forEachState(branch, visit);
    }
  }
}

/** Evaluate a simple reference path (`$`, `$.a.b`, `$['a'][0]`) against a value; undefined if unsupported. */
function simplePath(pathExpression: string, value: unknown): { ok: true; value: unknown } | { ok: false } {
  if (!pathExpression.startsWith('$') || pathExpression.startsWith('$$')) return { ok: false };
  const segments: (string | number)[] = [];
  const re = /\.([A-Za-z_][\w-]*)|\['([^']*)'\]|\[(\d+)\]/gy;
  re.lastIndex = 1;
  while (re.lastIndex < pathExpression.length) {
    const match = re.exec(pathExpression);
    if (match === null) return { ok: false };
    segments.push(match[1] ?? match[2] ?? Number(match[3]));
  }
  let current: unknown = value;
  for (const segment of segments) {
    if (current === null || typeof current !== 'object') return { ok: true, value: undefined };
    current = (current as Record<string | number, unknown>)[segment];
  }
  return { ok: true, value: current };
}

function isSimplePath(pathExpression: unknown): pathExpression is string {
  return typeof pathExpression === 'string' && simplePath(pathExpression, {}).ok;
}

// ---- the service -------------------------------------------------------------------------------

interface RunningExecution {
  readonly record: ExecutionRecord;
  abort(): void;
  readonly done: Promise<void>;
  /** Aborts the scaled waits of local wait tasks. */
  readonly waits: AbortController;
}

export class LocalStepFunctions {
  readonly region: string;
  readonly account: string;
  readonly timeScale: number;
  private readonly invoker: LambdaInvoker;
  private readonly log: LocalLogger;
  private readonly machines = new Map<string, PreparedMachine>();
  private readonly executions = new Map<string, ExecutionRecord>();
  private readonly running = new Map<string, RunningExecution>();
  private readonly endListeners = new Set<(record: ExecutionRecord) => void>();
  private server: http.Server | undefined;
  private endpointUrl: string | undefined;
  private closed = false;

  private constructor(options: LocalStepFunctionsOptions) {
    this.region = options.region ?? 'us-east-1';
    this.account = options.account ?? '123456789012';
    this.timeScale = options.timeScale ?? 0.02;
    if (!(this.timeScale > 0)) throw new RangeError(`timeScale must be > 0, got ${this.timeScale}`);
    this.invoker = options.invoker;
    this.log = options.log ?? createLogger();
  }

  /** Create the service and start its HTTP endpoint. */
  static async start(options: LocalStepFunctionsOptions): Promise<LocalStepFunctions> {
    const service = new LocalStepFunctions(options);
    await service.listen(options.port ?? 0);
    return service;
  }

  /** `http://127.0.0.1:<port>`: set as `AWS_ENDPOINT_URL_SFN` or `--endpoint-url` of `aws stepfunctions`. */
  get endpoint(): string {
    if (this.endpointUrl === undefined) throw new Error('The local Step Functions service is not listening');
    return this.endpointUrl;
  }

  // ---- registration ---------------------------------------------------------------------------

  /** Register a state machine. Validates the definition; binds every Lambda task; throws on what it cannot run. */
  registerStateMachine(registration: StateMachineRegistration): void {
    const definitionString =
      typeof registration.definition === 'string'
        ? registration.definition
        : JSON.stringify(registration.definition);
    let original: MachineDef;
    try {
      original = JSON.parse(definitionString) as MachineDef;
    } catch (error) {
      throw new InvalidDefinitionError(
        `State machine ${registration.name}: the definition is not JSON: ${describeError(error)}`,
      );
    }
    const ignored = ignoredFeatures(original);
    if (ignored.length > 0) {
      throw new InvalidDefinitionError(
        `State machine ${registration.name} uses what aws-local-stepfunctions silently ignores, so it would run differently locally: ${ignored.join('; ')}. Use JSONPath (InputPath, Parameters, ResultSelector, ResultPath, OutputPath).`,
      );
    }
    try {
      // The library mutates what it is given: always a clone.
      new StateMachine(structuredClone(original) as unknown as StateMachineDefinition, {
        validationOptions: { checkPaths: false, checkArn: false },
      });
    } catch (error) {
      throw new InvalidDefinitionError(`State machine ${registration.name}: ${describeError(error)}`);
    }

    const executable = structuredClone(original);
    const taskHandlers: Record<string, TaskHandler> = {};
    const waitTimeOverrides: Record<string, number> = {};
    const seen = new Set<string>();
    const problems: string[] = [];
    const scale = this.timeScale;
    forEachState(executable, (stateName, state) => {
      if (seen.has(stateName)) {
        problems.push(`state name ${JSON.stringify(stateName)} is used twice (overrides are by state name)`);
      }
      seen.add(stateName);
      if (Array.isArray(state.Retry)) {
        for (const retrier of state.Retry as Record<string, unknown>[]) {
          retrier.IntervalSeconds =
            (typeof retrier.IntervalSeconds === 'number' ? retrier.IntervalSeconds : 1) * scale;
          if (typeof retrier.MaxDelaySeconds === 'number') retrier.MaxDelaySeconds *= scale;
        }
      }
      if (state.Type === 'Wait') {
        if (typeof state.Seconds === 'number') {
          waitTimeOverrides[stateName] = state.Seconds * 1000 * scale;
        } else if (this.rewriteWait(stateName, state, taskHandlers) === false) {
          this.log.warn(
            `state machine ${registration.name}: Wait state ${stateName} uses a context or complex path; it waits in real time locally`,
          );
        }
      } else if (state.Type === 'Task') {
        const handler = this.taskHandler(state);
        if (handler === undefined) {
          problems.push(
            `Task state ${JSON.stringify(stateName)} has Resource ${JSON.stringify(state.Resource)}`,
          );
        } else {
          taskHandlers[stateName] = handler;
        }
      }
    });
    if (problems.length > 0) {
      throw new UnsupportedTaskResourceError(
        `State machine ${registration.name} cannot run locally: ${problems.join('; ')}. The local runtime runs Lambda tasks (a function ARN of the template, or arn:aws:states:::lambda:invoke with one of them as FunctionName) and arn:aws:states:::states:startExecution.`,
      );
    }
    this.machines.set(registration.arn, {
      registration: {
        name: registration.name,
        arn: registration.arn,
        roleArn: registration.roleArn ?? `arn:aws:iam::${this.account}:role/phoenix-local-states`,
        type: registration.type ?? 'STANDARD',
      },
      definitionString,
      executable,
      taskHandlers,
      waitTimeOverrides,
      createdAt: new Date(),
    });
  }

  private taskHandler(state: StateDef): TaskHandler | undefined {
    const resource = state.Resource;
    if (typeof resource !== 'string') return undefined;
    if (this.invoker.resolveFunction(resource) !== undefined) {
      return (input) => this.invoker.invoke(resource, input);
    }
    if (START_EXECUTION.test(resource)) {
      // Against this service's own registry, as AWS answers it: {ExecutionArn, StartDate}.
      return (input) => {
        const parameters = (input ?? {}) as { StateMachineArn?: unknown; Name?: unknown; Input?: unknown };
        try {
          if (typeof parameters.StateMachineArn !== 'string') {
            throw new StepFunctionsApiError('ValidationException', 'StateMachineArn is required');
          }
          const started = this.startExecution({
            stateMachineArn: parameters.StateMachineArn,
            ...(typeof parameters.Name === 'string' ? { name: parameters.Name } : {}),
            ...(parameters.Input !== undefined
              ? {
                  input:
                    typeof parameters.Input === 'string'
                      ? parameters.Input
                      : JSON.stringify(parameters.Input),
                }
              : {}),
          });
          return Promise.resolve({
            ExecutionArn: started.executionArn,
            StartDate: started.startDate.toISOString(),
          });
        } catch (error) {
          // Errors of a service integration are named `StepFunctions.<Exception>`.
          if (error instanceof StepFunctionsApiError) {
            const named = new Error(error.message);
            named.name = `StepFunctions.${error.code.endsWith('Exception') ? error.code : `${error.code}Exception`}`;
            return Promise.reject(named);
          }
          return Promise.reject(error instanceof Error ? error : new Error(String(error)));
        }
      };
    }
    if (LAMBDA_INVOKE.test(resource)) {
      return async (input) => {
        const parameters = (input ?? {}) as { FunctionName?: unknown; Payload?: unknown };
        if (
          typeof parameters.FunctionName !== 'string' ||
          this.invoker.resolveFunction(parameters.FunctionName) === undefined
        ) {
          const error = new Error(`Function not found: ${JSON.stringify(parameters.FunctionName)}`);
          error.name = 'Lambda.ResourceNotFoundException';
          throw error;
        }
        const payload = await this.invoker.invoke(parameters.FunctionName, parameters.Payload ?? null);
        return { Payload: payload, StatusCode: 200, ExecutedVersion: '$LATEST' };
      };
    }
    return undefined;
  }

  /**
   * Turn a path- or timestamp-based Wait into a Task run by a local handler that waits the scaled
   * time and passes its input through (same InputPath/OutputPath, Next/End). false if unsupported.
   */
  private rewriteWait(
    stateName: string,
    state: StateDef,
    taskHandlers: Record<string, TaskHandler>,
  ): boolean {
    const scale = this.timeScale;
    let delayMs: (input: unknown) => number;
    if (isSimplePath(state.SecondsPath)) {
      const p = state.SecondsPath;
      delayMs = (input) => {
        const result = simplePath(p, input);
        const seconds = result.ok ? result.value : undefined;
        if (typeof seconds !== 'number' || seconds < 0) {
          const error = new Error(
            `SecondsPath ${p} of Wait state ${stateName} does not point to a number >= 0`,
          );
          error.name = 'States.Runtime';
          throw error;
        }
        return seconds * 1000 * scale;
      };
    } else if (typeof state.Timestamp === 'string') {
      const at = Date.parse(state.Timestamp);
      delayMs = () => Math.max(0, at - Date.now()) * scale;
    } else if (isSimplePath(state.TimestampPath)) {
      const p = state.TimestampPath;
      delayMs = (input) => {
        const result = simplePath(p, input);
        const at = result.ok && typeof result.value === 'string' ? Date.parse(result.value) : NaN;
        if (Number.isNaN(at)) {
          const error = new Error(
            `TimestampPath ${p} of Wait state ${stateName} does not point to a timestamp`,
          );
          error.name = 'States.Runtime';
          throw error;
        }
        return Math.max(0, at - Date.now()) * scale;
      };
    } else {
      return false;
    }
    for (const key of ['Seconds', 'SecondsPath', 'Timestamp', 'TimestampPath']) delete state[key];
    state.Type = 'Task';
    state.Resource = LOCAL_WAIT_RESOURCE;
    state.TimeoutSeconds = LOCAL_WAIT_TASK_TIMEOUT_SECONDS;
    taskHandlers[stateName] = (input, signal) => {
      const ms = delayMs(input);
      return new Promise((resolve) => {
        // Wake early when the execution is stopped (the library ignores the result then).
        const onAbort = () => {
          clearTimeout(timer);
          resolve(input);
        };
        const timer = setTimeout(() => {
          signal.removeEventListener('abort', onAbort);
          resolve(input);
        }, ms);
        signal.addEventListener('abort', onAbort, { once: true });
      });
    };
    return true;
  }

  // ---- in-process API -------------------------------------------------------------------------

  /** The registered state machines. */
  listStateMachines(): { stateMachineArn: string; name: string; type: string; creationDate: Date }[] {
    return [...this.machines.values()].map((m) => ({
      stateMachineArn: m.registration.arn,
      name: m.registration.name,
      type: m.registration.type,
      creationDate: m.createdAt,
    }));
  }

  /** Start an execution (AWS semantics for names; see the file comment). */
  startExecution(request: { stateMachineArn: string; name?: string; input?: string }): {
    executionArn: string;
    startDate: Date;
  } {
    if (this.closed)
      throw new StepFunctionsApiError('ServiceUnavailable', 'The local Step Functions service is stopped');
    const machine = this.machine(request.stateMachineArn);
    const name = request.name ?? randomUUID();
    validateName(name);
    const input = request.input ?? '{}';
    let parsedInput: unknown;
    try {
      parsedInput = JSON.parse(input);
    } catch (error) {
      throw new StepFunctionsApiError(
        'InvalidExecutionInput',
        `Invalid State Machine Execution Input: ${describeError(error)}`,
      );
    }
    if (Buffer.byteLength(input) > 256 * 1024) {
      throw new StepFunctionsApiError(
        'InvalidExecutionInput',
        'The execution input exceeds the maximum of 262144 bytes',
      );
    }
    const executionArn = `arn:aws:states:${this.region}:${this.account}:execution:${machine.registration.name}:${name}`;
    const existing = this.executions.get(executionArn);
    if (existing !== undefined) {
      if (existing.status === 'RUNNING' && existing.input === input) {
        return { executionArn, startDate: existing.startDate };
      }
      throw new StepFunctionsApiError(
        'ExecutionAlreadyExists',
        `Execution Already Exists: '${executionArn}'${existing.status === 'RUNNING' ? ' (with a different input)' : ` (${existing.status})`}`,
      );
    }

    const startDate = new Date();
    const record: ExecutionRecord = {
      executionArn,
      stateMachineArn: machine.registration.arn,
      name,
      status: 'RUNNING',
      input,
      startDate,
      events: [],
    };
    this.executions.set(executionArn, record);
    this.addEvent(record, 'ExecutionStarted', {
      executionStartedEventDetails: {
        input,
        inputDetails: { truncated: false },
        roleArn: machine.registration.roleArn,
      },
    });

    const waits = new AbortController();
    const stateMachine = new StateMachine(
      structuredClone(machine.executable) as unknown as StateMachineDefinition,
      {
        validationOptions: { noValidate: true },
      },
    );
    const execution = stateMachine.run(parsedInput as never, {
      overrides: {
        taskResourceLocalHandlers: Object.fromEntries(
          Object.entries(machine.taskHandlers).map(([state, handler]) => [
            state,
            (taskInput: unknown) => handler(taskInput, waits.signal),
          ]),
        ) as never,
        waitTimeOverrides: machine.waitTimeOverrides,
      },
      context: {
        Execution: {
          Id: executionArn,
          Name: name,
          Input: parsedInput as never,
          StartTime: startDate.toISOString(),
          RoleArn: machine.registration.roleArn,
        },
        StateMachine: { Id: machine.registration.arn, Name: machine.registration.name },
      },
    });
    const collected = this.collectEvents(record, execution.eventLogs as AsyncGenerator<unknown>);
    // The state events come through an async log: record them before the execution's end.
    const historyComplete = () =>
      Promise.race([collected, new Promise<void>((resolve) => setTimeout(resolve, 1_000).unref())]);
    const done = execution.result.then(
      async (output) => {
        await historyComplete();
        this.finish(record, 'SUCCEEDED', { output: JSON.stringify(output ?? null) });
      },
      async (error: unknown) => {
        await historyComplete();
        this.finishWithError(record, error);
      },
    );
    this.running.set(executionArn, { record, abort: execution.abort, done, waits });
    this.log.debug('execution started', { executionArn });
    return { executionArn, startDate };
  }

  /** The execution's record (status, output or error and cause, history). */
  describeExecution(executionArn: string): ExecutionRecord {
    const record = this.executions.get(executionArn);
    if (record === undefined) {
      validateArn(executionArn, 'execution');
      throw new StepFunctionsApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    }
    return record;
  }

  /** Executions, newest first; optionally of one state machine and/or with one status. */
  listExecutions(filter: { stateMachineArn?: string; status?: ExecutionStatus } = {}): ExecutionRecord[] {
    if (filter.stateMachineArn !== undefined) this.machine(filter.stateMachineArn);
    return [...this.executions.values()]
      .filter((e) => filter.stateMachineArn === undefined || e.stateMachineArn === filter.stateMachineArn)
      .filter((e) => filter.status === undefined || e.status === filter.status)
      .sort((a, b) => b.startDate.getTime() - a.startDate.getTime());
  }

  /** Abort a running execution (no-op for a finished one, as in AWS it is an error: we report it). */
  stopExecution(executionArn: string, details: { error?: string; cause?: string } = {}): { stopDate: Date } {
    const record = this.describeExecution(executionArn);
    const running = this.running.get(executionArn);
    if (record.status !== 'RUNNING' || running === undefined) {
      throw new StepFunctionsApiError(
        'ValidationException',
        `Execution ${executionArn} is not running (status ${record.status})`,
      );
    }
    this.finish(record, 'ABORTED', {
      ...(details.error !== undefined ? { error: details.error } : {}),
      ...(details.cause !== undefined ? { cause: details.cause } : {}),
    });
    running.waits.abort();
    running.abort();
    return { stopDate: record.stopDate ?? new Date() };
  }

  /** Called with every execution that ends (any status). Returns an unsubscribe function. */
  onExecutionEnd(listener: (record: ExecutionRecord) => void): () => void {
    this.endListeners.add(listener);
    return () => this.endListeners.delete(listener);
  }

  /** Resolves with the execution's record once it is no longer RUNNING. */
  waitForExecution(executionArn: string, options: { timeoutMs?: number } = {}): Promise<ExecutionRecord> {
    const record = this.describeExecution(executionArn);
    if (record.status !== 'RUNNING') return Promise.resolve(record);
    const timeoutMs = options.timeoutMs ?? 120_000;
    return new Promise((resolve, reject) => {
      const unsubscribe = this.onExecutionEnd((ended) => {
        if (ended.executionArn !== executionArn) return;
        clearTimeout(timer);
        unsubscribe();
        resolve(ended);
      });
      const timer = setTimeout(() => {
        unsubscribe();
        reject(
          new ExecutionWaitTimeoutError(
            `Execution ${executionArn} still RUNNING after ${timeoutMs} ms; last events: ${record.events
              .slice(-3)
              .map((e) => e.type)
              .join(', ')}`,
          ),
        );
      }, timeoutMs);
    });
  }

  /** Executions still running. */
  get runningCount(): number {
    return this.running.size;
  }

  /** Abort every running execution and wait until each has settled. */
  async abortAll(cause = 'The local runtime is stopping'): Promise<void> {
    const running = [...this.running.values()];
    for (const execution of running) {
      if (execution.record.status === 'RUNNING') {
        this.stopExecution(execution.record.executionArn, { error: 'LocalRuntimeStopped', cause });
      }
    }
    await Promise.all(running.map((execution) => execution.done));
  }

  /** Abort running executions and close the HTTP endpoint. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.abortAll();
    const server = this.server;
    if (server !== undefined) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
  }

  // ---- execution bookkeeping ------------------------------------------------------------------

  private machine(stateMachineArn: string): PreparedMachine {
    const machine = this.machines.get(stateMachineArn);
    if (machine === undefined) {
      validateArn(stateMachineArn, 'stateMachine');
      throw new StepFunctionsApiError(
        'StateMachineDoesNotExist',
        `State Machine Does Not Exist: '${stateMachineArn}'`,
      );
    }
    return machine;
  }

  private finishWithError(record: ExecutionRecord, error: unknown): void {
    if (error instanceof ExecutionAbortedError || record.status === 'ABORTED') {
      this.finish(record, 'ABORTED', {});
    } else if (error instanceof ExecutionTimeoutError) {
      this.finish(record, 'TIMED_OUT', {
        error: 'States.Timeout',
        cause: 'The execution timed out (TimeoutSeconds)',
      });
    } else {
      const cause = error instanceof ExecutionError && error.cause instanceof Error ? error.cause : error;
      const name = cause instanceof Error ? cause.name : 'Error';
      const message = cause instanceof Error ? cause.message : String(cause);
      this.finish(record, 'FAILED', { error: name, cause: message });
    }
  }

  private finish(
    record: ExecutionRecord,
    status: Exclude<ExecutionStatus, 'RUNNING'>,
    result: { output?: string; error?: string; cause?: string },
  ): void {
    if (record.status !== 'RUNNING') {
      this.running.delete(record.executionArn);
      return;
    }
    record.status = status;
    record.stopDate = new Date();
    if (result.output !== undefined) record.output = result.output;
    if (result.error !== undefined) record.error = result.error;
    if (result.cause !== undefined) record.cause = result.cause;
    const errorDetails = {
      ...(result.error !== undefined ? { error: result.error } : {}),
      ...(result.cause !== undefined ? { cause: result.cause } : {}),
    };
    switch (status) {
      case 'SUCCEEDED':
        this.addEvent(record, 'ExecutionSucceeded', {
          executionSucceededEventDetails: { output: result.output, outputDetails: { truncated: false } },
        });
        break;
      case 'FAILED':
        this.addEvent(record, 'ExecutionFailed', { executionFailedEventDetails: errorDetails });
        break;
      case 'ABORTED':
        this.addEvent(record, 'ExecutionAborted', { executionAbortedEventDetails: errorDetails });
        break;
      case 'TIMED_OUT':
        this.addEvent(record, 'ExecutionTimedOut', { executionTimedOutEventDetails: errorDetails });
        break;
    }
    this.running.delete(record.executionArn);
    const level = status === 'SUCCEEDED' ? 'debug' : 'info';
    this.log[level](`execution ${status}`, { executionArn: record.executionArn, ...errorDetails });
    for (const listener of [...this.endListeners]) {
      try {
        listener(record);
      } catch (error) {
        this.log.error('an onExecutionEnd listener threw', { error: describeError(error) });
      }
    }
  }

  private addEvent(record: ExecutionRecord, type: string, details: Record<string, unknown>): void {
    const id = record.events.length + 1;
    record.events.push({ id, previousEventId: id - 1, timestamp: new Date(), type, ...details });
  }

  /** A state event that may arrive after the execution was stopped: keep the end event last. */
  private addStateEvent(record: ExecutionRecord, type: string, details: Record<string, unknown>): void {
    const last = record.events[record.events.length - 1];
    if (
      record.status === 'RUNNING' ||
      last === undefined ||
      !/^Execution[A-Z]/.test(last.type) ||
      last.id === 1
    ) {
      this.addEvent(record, type, details);
      return;
    }
    record.events.splice(record.events.length - 1, 0, {
      id: 0,
      previousEventId: 0,
      timestamp: new Date(),
      type,
      ...details,
    });
    record.events.forEach((event, index) => {
      (event as { id: number }).id = index + 1;
      (event as { previousEventId: number }).previousEventId = index;
    });
  }

  /** State-level history from the library's event log (execution-level events are ours). */
  private async collectEvents(record: ExecutionRecord, logs: AsyncGenerator<unknown>): Promise<void> {
    try {
      for await (const item of logs) {
        const event = item as Record<string, unknown>;
        const state = event.state as
          { name?: string; type?: string; input?: unknown; output?: unknown } | undefined;
        const nested = event.index !== undefined ? { mapIterationIndex: event.index } : {};
        switch (event.type) {
          case 'StateEntered':
            this.addStateEvent(record, `${state?.type ?? ''}StateEntered`, {
              stateEnteredEventDetails: { name: state?.name, input: JSON.stringify(state?.input ?? null) },
              ...nested,
            });
            break;
          case 'StateExited':
            this.addStateEvent(record, `${state?.type ?? ''}StateExited`, {
              stateExitedEventDetails: { name: state?.name, output: JSON.stringify(state?.output ?? null) },
              ...nested,
            });
            break;
          case 'StateFailed':
            this.addStateEvent(
              record,
              state?.type === 'Task' ? 'TaskFailed' : `${state?.type ?? ''}StateFailed`,
              {
                taskFailedEventDetails: {
                  name: state?.name,
                  error: event.Error,
                  cause: typeof event.Cause === 'string' ? event.Cause : JSON.stringify(event.Cause ?? null),
                },
                ...nested,
              },
            );
            break;
          case 'StateRetried':
          case 'StateCaught':
            this.addStateEvent(record, event.type, { name: state?.name, ...nested });
            break;
          default:
            break; // Execution* events are written by finish(); Map/Parallel bookkeeping is left out.
        }
      }
    } catch (error) {
      this.log.warn('could not read an execution event log', {
        executionArn: record.executionArn,
        error: describeError(error),
      });
    }
  }

  // ---- HTTP (AWS JSON 1.0) --------------------------------------------------------------------

  private listen(port: number): Promise<void> {
    const server = http.createServer((request, response) => {
      void this.handleHttp(request, response);
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port }, () => {
        server.removeListener('error', reject);
        const address = server.address() as AddressInfo;
        this.endpointUrl = `http://127.0.0.1:${address.port}`;
        resolve();
      });
    });
  }

  private async handleHttp(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const send = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      response.writeHead(status, {
        'content-type': 'application/x-amz-json-1.0',
        'content-length': Buffer.byteLength(text),
        'x-amzn-requestid': requestId,
      });
      response.end(text);
    };
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const target = String(request.headers['x-amz-target'] ?? '');
      const operation = target.startsWith('AWSStepFunctions.')
        ? target.slice('AWSStepFunctions.'.length)
        : '';
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: Record<string, unknown>;
      try {
        body = (raw === '' ? {} : JSON.parse(raw)) as Record<string, unknown>;
      } catch {
        throw new StepFunctionsApiError('SerializationException', 'The request body is not JSON');
      }
      send(200, this.dispatch(operation, body));
    } catch (error) {
      if (error instanceof StepFunctionsApiError) {
        send(400, { __type: `com.amazonaws.sfn#${error.code}`, message: error.message });
      } else {
        this.log.error('local Step Functions request failed', { error: describeError(error) });
        send(500, { __type: 'com.amazonaws.sfn#InternalFailure', message: describeError(error) });
      }
    }
  }

  private dispatch(operation: string, body: Record<string, unknown>): unknown {
    const str = (key: string, required = true): string | undefined => {
      const value = body[key];
      if (value === undefined && !required) return undefined;
      if (typeof value !== 'string') {
        throw new StepFunctionsApiError('ValidationException', `${key} is required and must be a string`);
      }
      return value;
    };
    const epoch = (date: Date | undefined) => (date === undefined ? undefined : date.getTime() / 1000);
    const page = <T>(items: T[]): { items: T[]; nextToken?: string } => {
      const max = typeof body.maxResults === 'number' && body.maxResults > 0 ? body.maxResults : 100;
      const start = typeof body.nextToken === 'string' ? Number(body.nextToken) || 0 : 0;
      const slice = items.slice(start, start + max);
      return start + max < items.length ? { items: slice, nextToken: String(start + max) } : { items: slice };
    };
    switch (operation) {
      case 'StartExecution': {
        const name = str('name', false);
        const input = str('input', false);
        const result = this.startExecution({
          stateMachineArn: str('stateMachineArn')!,
          ...(name !== undefined ? { name } : {}),
          ...(input !== undefined ? { input } : {}),
        });
        return { executionArn: result.executionArn, startDate: epoch(result.startDate) };
      }
      case 'DescribeExecution': {
        const e = this.describeExecution(str('executionArn')!);
        return {
          executionArn: e.executionArn,
          stateMachineArn: e.stateMachineArn,
          name: e.name,
          status: e.status,
          startDate: epoch(e.startDate),
          stopDate: epoch(e.stopDate),
          input: e.input,
          inputDetails: { included: true },
          ...(e.output !== undefined ? { output: e.output, outputDetails: { included: true } } : {}),
          ...(e.error !== undefined ? { error: e.error } : {}),
          ...(e.cause !== undefined ? { cause: e.cause } : {}),
          redriveCount: 0,
          redriveStatus: 'NOT_REDRIVABLE',
        };
      }
      case 'ListExecutions': {
        const stateMachineArn = str('stateMachineArn', false);
        if (stateMachineArn === undefined) {
          throw new StepFunctionsApiError('ValidationException', 'stateMachineArn is required locally');
        }
        const status = str('statusFilter', false) as ExecutionStatus | undefined;
        const { items, nextToken } = page(
          this.listExecutions({ stateMachineArn, ...(status !== undefined ? { status } : {}) }),
        );
        return {
          executions: items.map((e) => ({
            executionArn: e.executionArn,
            stateMachineArn: e.stateMachineArn,
            name: e.name,
            status: e.status,
            startDate: epoch(e.startDate),
            stopDate: epoch(e.stopDate),
          })),
          ...(nextToken !== undefined ? { nextToken } : {}),
        };
      }
      case 'StopExecution': {
        const error = str('error', false);
        const cause = str('cause', false);
        const result = this.stopExecution(str('executionArn')!, {
          ...(error !== undefined ? { error } : {}),
          ...(cause !== undefined ? { cause } : {}),
        });
        return { stopDate: epoch(result.stopDate) };
      }
      case 'ListStateMachines': {
        const { items, nextToken } = page(this.listStateMachines());
        return {
          stateMachines: items.map((m) => ({ ...m, creationDate: epoch(m.creationDate) })),
          ...(nextToken !== undefined ? { nextToken } : {}),
        };
      }
      case 'DescribeStateMachine': {
        const m = this.machine(str('stateMachineArn')!);
        return {
          stateMachineArn: m.registration.arn,
          name: m.registration.name,
          status: 'ACTIVE',
          definition: m.definitionString,
          roleArn: m.registration.roleArn,
          type: m.registration.type,
          creationDate: epoch(m.createdAt),
        };
      }
      case 'GetExecutionHistory': {
        const e = this.describeExecution(str('executionArn')!);
        const events = body.reverseOrder === true ? [...e.events].reverse() : e.events;
        const { items, nextToken } = page(events);
        return {
          events: items.map((event) => ({ ...event, timestamp: epoch(event.timestamp) })),
          ...(nextToken !== undefined ? { nextToken } : {}),
        };
      }
      default:
        throw new StepFunctionsApiError(
          'UnknownOperationException',
          `The local Step Functions service does not implement ${JSON.stringify(operation || '(no X-Amz-Target)')}`,
        );
    }
  }
}

/** JSONata and variables: the engine ignores them without a word (DESIGN §5). */
export function ignoredFeatures(definition: MachineDef): string[] {
  const found: string[] = [];
  if (definition.QueryLanguage === 'JSONata') found.push('QueryLanguage JSONata (top level)');
  forEachState(definition, (name, state) => {
    if (state.QueryLanguage === 'JSONata') found.push(`state ${name}: QueryLanguage JSONata`);
    for (const field of ['Assign', 'Arguments', 'Output']) {
      if (field in state) found.push(`state ${name}: ${field}`);
    }
    for (const list of ['Catch', 'Choices'] as const) {
      const items = state[list];
      if (
        Array.isArray(items) &&
        items.some(
          (item) => typeof item === 'object' && item !== null && ('Assign' in item || 'Condition' in item),
        )
      ) {
        found.push(`state ${name}: Assign/Condition in ${list}`);
      }
    }
  });
  return found;
}

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

function validateArn(arn: string, resource: 'execution' | 'stateMachine'): void {
  if (!new RegExp(`^arn:[^:]+:states:[^:]+:\\d{12}:${resource}:`).test(arn)) {
    throw new StepFunctionsApiError('InvalidArn', `Invalid Arn: '${arn}'`);
  }
}
