/**
 * The execution service: a registry of state machines and their executions, run by
 * aws-local-stepfunctions. This is the in-process API; `endpoint.ts` serves it over HTTP.
 *
 * As in AWS: an execution name is unique per state machine. StartExecution with the name and
 * input of a RUNNING execution returns that execution; any other reuse of a name is
 * `ExecutionAlreadyExists`. Task and execution timeouts are not scaled (task handlers run in real
 * time), except a callback task's (`.waitForTaskToken`: it waits, like a Wait state); waits and
 * retries are (see `definition.ts`). SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat end or
 * keep alive the callback tasks (`callbacks.ts`).
 */
import { randomUUID } from 'node:crypto';
import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  StateMachine,
  type StateMachineDefinition,
} from 'aws-local-stepfunctions';
import { createLogger, describeError, type LocalLogger } from '../log';
import {
  ExecutionWaitTimeoutError,
  StepFunctionsApiError,
  validateArn,
  validateName,
  type ExecutionRecord,
  type ExecutionStatus,
  type LambdaInvoker,
  type StartExecutionRequest,
  type StateMachineRegistration,
} from './api';
import { createCallbackRegistry, type CallbackRegistry } from './callbacks';
import { parseDefinition, prepareExecutable, type ExecutableDefinition } from './definition';
import {
  addEndEvent,
  addEvent,
  collectEvents,
  errorDetailsOf,
  type EndResult,
  type EndStatus,
} from './history';
import { taskBinder } from './tasks';

export interface ExecutionServiceOptions {
  readonly region?: string;
  readonly account?: string;
  readonly invoker: LambdaInvoker;
  /** Multiplies every wait and retry interval. Default 0.02 (a 15 s wait takes 0.3 s); 1 = real time. */
  readonly timeScale?: number;
  readonly log?: LocalLogger;
}

export interface StateMachineSummary {
  readonly stateMachineArn: string;
  readonly name: string;
  readonly type: string;
  readonly creationDate: Date;
}

export interface StateMachineDescription extends StateMachineSummary {
  /** The definition as registered. */
  readonly definition: string;
  readonly roleArn: string;
}

export interface ExecutionService {
  readonly region: string;
  readonly account: string;
  readonly timeScale: number;
  /** Register a state machine. Validates the definition; binds every Lambda task; throws on what it cannot run. */
  registerStateMachine(registration: StateMachineRegistration): void;
  /** The registered state machines. */
  listStateMachines(): StateMachineSummary[];
  /** One registered state machine (`StateMachineDoesNotExist` if none). */
  describeStateMachine(stateMachineArn: string): StateMachineDescription;
  /** Start an execution (AWS semantics for names; see the file comment). */
  startExecution(request: StartExecutionRequest): { executionArn: string; startDate: Date };
  /** The execution's record (status, output or error and cause, history). */
  describeExecution(executionArn: string): ExecutionRecord;
  /** Executions, newest first; optionally of one state machine and/or with one status. */
  listExecutions(filter?: { stateMachineArn?: string; status?: ExecutionStatus }): ExecutionRecord[];
  /** Abort a running execution (no-op for a finished one, as in AWS it is an error: we report it). */
  stopExecution(executionArn: string, details?: { error?: string; cause?: string }): { stopDate: Date };
  /** The callback pattern: end the task waiting for `taskToken` with `output` (a JSON string). */
  sendTaskSuccess(taskToken: string, output: string): void;
  /** The callback pattern: fail the task waiting for `taskToken` (error name, cause). */
  sendTaskFailure(taskToken: string, failure?: { error?: string; cause?: string }): void;
  /** The callback pattern: the task waiting for `taskToken` is still being worked on (HeartbeatSeconds). */
  sendTaskHeartbeat(taskToken: string): void;
  /** Called with every execution that ends (any status). Returns an unsubscribe function. */
  onExecutionEnd(listener: (record: ExecutionRecord) => void): () => void;
  /** Resolves with the execution's record once it is no longer RUNNING. */
  waitForExecution(executionArn: string, options?: { timeoutMs?: number }): Promise<ExecutionRecord>;
  /** Executions still running. */
  readonly runningCount: number;
  /** Abort every running execution and wait until each has settled. */
  abortAll(cause?: string): Promise<void>;
  /** Refuse new executions (`ServiceUnavailable`) and abort the running ones. */
  close(): Promise<void>;
}

interface PreparedMachine extends ExecutableDefinition {
  readonly name: string;
  readonly arn: string;
  readonly roleArn: string;
  readonly type: 'STANDARD' | 'EXPRESS';
  /** The definition as registered (DescribeStateMachine). */
  readonly definitionString: string;
  readonly createdAt: Date;
}

interface RunningExecution {
  readonly record: ExecutionRecord;
  abort(): void;
  readonly done: Promise<void>;
  /** Aborts the scaled waits of local wait tasks. */
  readonly waits: AbortController;
}

/** The service's state; every operation below reads and changes it. */
interface Registry {
  readonly region: string;
  readonly account: string;
  readonly timeScale: number;
  readonly invoker: LambdaInvoker;
  readonly log: LocalLogger;
  readonly machines: Map<string, PreparedMachine>;
  readonly executions: Map<string, ExecutionRecord>;
  readonly running: Map<string, RunningExecution>;
  readonly endListeners: Set<(record: ExecutionRecord) => void>;
  readonly callbacks: CallbackRegistry;
  closed: boolean;
}

export function createExecutionService(options: ExecutionServiceOptions): ExecutionService {
  const timeScale = options.timeScale ?? 0.02;
  if (!(timeScale > 0)) throw new RangeError(`timeScale must be > 0, got ${timeScale}`);
  const registry: Registry = {
    region: options.region ?? 'us-east-1',
    account: options.account ?? '123456789012',
    timeScale,
    invoker: options.invoker,
    log: options.log ?? createLogger(),
    machines: new Map(),
    executions: new Map(),
    running: new Map(),
    endListeners: new Set(),
    callbacks: createCallbackRegistry(),
    closed: false,
  };
  return {
    region: registry.region,
    account: registry.account,
    timeScale: registry.timeScale,
    registerStateMachine: (registration) => registerStateMachine(registry, registration),
    listStateMachines: () => [...registry.machines.values()].map(summaryOf),
    describeStateMachine: (arn) => descriptionOf(machineOf(registry, arn)),
    startExecution: (request) => startExecution(registry, request),
    describeExecution: (arn) => describeExecution(registry, arn),
    listExecutions: (filter = {}) => listExecutions(registry, filter),
    stopExecution: (arn, details = {}) => stopExecution(registry, arn, details),
    sendTaskSuccess: (token, output) => registry.callbacks.sendTaskSuccess(token, output),
    sendTaskFailure: (token, failure = {}) => registry.callbacks.sendTaskFailure(token, failure),
    sendTaskHeartbeat: (token) => registry.callbacks.sendTaskHeartbeat(token),
    onExecutionEnd: (listener) => onExecutionEnd(registry, listener),
    waitForExecution: (arn, waitOptions = {}) => waitForExecution(registry, arn, waitOptions),
    get runningCount() {
      return registry.running.size;
    },
    abortAll: (cause) => abortAll(registry, cause),
    close: async () => {
      registry.closed = true;
      await abortAll(registry);
    },
  };
}

// ---- state machines ----------------------------------------------------------------------------

function registerStateMachine(registry: Registry, registration: StateMachineRegistration): void {
  const { definitionString, original } = parseDefinition(registration.name, registration.definition);
  const executable = prepareExecutable(registration.name, original, {
    timeScale: registry.timeScale,
    log: registry.log,
    bindTask: taskBinder({
      invoker: registry.invoker,
      startExecution: (request) => startExecution(registry, request),
      callbacks: registry.callbacks,
      timeScale: registry.timeScale,
    }),
  });
  registry.machines.set(registration.arn, {
    name: registration.name,
    arn: registration.arn,
    roleArn: registration.roleArn ?? `arn:aws:iam::${registry.account}:role/phoenix-local-states`,
    type: registration.type ?? 'STANDARD',
    definitionString,
    ...executable,
    createdAt: new Date(),
  });
}

function machineOf(registry: Registry, stateMachineArn: string): PreparedMachine {
  const machine = registry.machines.get(stateMachineArn);
  if (machine === undefined) {
    validateArn(stateMachineArn, 'stateMachine');
    throw new StepFunctionsApiError(
      'StateMachineDoesNotExist',
      `State Machine Does Not Exist: '${stateMachineArn}'`,
    );
  }
  return machine;
}

function summaryOf(machine: PreparedMachine): StateMachineSummary {
  return {
    stateMachineArn: machine.arn,
    name: machine.name,
    type: machine.type,
    creationDate: machine.createdAt,
  };
}

function descriptionOf(machine: PreparedMachine): StateMachineDescription {
  return { ...summaryOf(machine), definition: machine.definitionString, roleArn: machine.roleArn };
}

// ---- starting an execution ---------------------------------------------------------------------

function startExecution(
  registry: Registry,
  request: StartExecutionRequest,
): { executionArn: string; startDate: Date } {
  if (registry.closed) {
    throw new StepFunctionsApiError('ServiceUnavailable', 'The local Step Functions service is stopped');
  }
  const machine = machineOf(registry, request.stateMachineArn);
  const name = request.name ?? randomUUID();
  validateName(name);
  const input = request.input ?? '{}';
  const parsedInput = parseInput(input);
  const executionArn = `arn:aws:states:${registry.region}:${registry.account}:execution:${machine.name}:${name}`;
  const existing = registry.executions.get(executionArn);
  if (existing !== undefined) {
    if (existing.status === 'RUNNING' && existing.input === input) {
      return { executionArn, startDate: existing.startDate };
    }
    throw new StepFunctionsApiError(
      'ExecutionAlreadyExists',
      `Execution Already Exists: '${executionArn}'${existing.status === 'RUNNING' ? ' (with a different input)' : ` (${existing.status})`}`,
    );
  }
  const record: ExecutionRecord = {
    executionArn,
    stateMachineArn: machine.arn,
    name,
    status: 'RUNNING',
    input,
    startDate: new Date(),
    events: [],
  };
  registry.executions.set(executionArn, record);
  addEvent(record, 'ExecutionStarted', {
    executionStartedEventDetails: { input, inputDetails: { truncated: false }, roleArn: machine.roleArn },
  });
  registry.running.set(executionArn, run(registry, machine, record, parsedInput));
  registry.log.debug('execution started', { executionArn });
  return { executionArn, startDate: record.startDate };
}

function parseInput(input: string): unknown {
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
  return parsedInput;
}

/** Run the executable copy on the engine; the record ends when the engine's result settles. */
function run(
  registry: Registry,
  machine: PreparedMachine,
  record: ExecutionRecord,
  parsedInput: unknown,
): RunningExecution {
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
          (taskInput: unknown) =>
            handler(taskInput, waits.signal, {
              executionArn: record.executionArn,
              stateName: state,
              addEvent: (type, details) => {
                if (record.status === 'RUNNING') addEvent(record, type, details);
              },
            }),
        ]),
      ) as never,
      waitTimeOverrides: machine.waitTimeOverrides,
    },
    context: {
      Execution: {
        Id: record.executionArn,
        Name: record.name,
        Input: parsedInput as never,
        StartTime: record.startDate.toISOString(),
        RoleArn: machine.roleArn,
      },
      StateMachine: { Id: machine.arn, Name: machine.name },
    },
  });
  const collected = collectEvents(record, execution.eventLogs as AsyncGenerator<unknown>, registry.log);
  // The state events come through an async log: record them before the execution's end.
  const historyComplete = () =>
    Promise.race([collected, new Promise<void>((resolve) => setTimeout(resolve, 1_000).unref())]);
  const done = execution.result.then(
    async (output) => {
      await historyComplete();
      finish(registry, record, 'SUCCEEDED', { output: JSON.stringify(output ?? null) });
    },
    async (error: unknown) => {
      await historyComplete();
      finishWithError(registry, record, error);
    },
  );
  return { record, abort: execution.abort, done, waits };
}

// ---- ending an execution -----------------------------------------------------------------------

function finishWithError(registry: Registry, record: ExecutionRecord, error: unknown): void {
  if (error instanceof ExecutionAbortedError || record.status === 'ABORTED') {
    finish(registry, record, 'ABORTED', {});
  } else if (error instanceof ExecutionTimeoutError) {
    finish(registry, record, 'TIMED_OUT', {
      error: 'States.Timeout',
      cause: 'The execution timed out (TimeoutSeconds)',
    });
  } else {
    const cause = error instanceof ExecutionError && error.cause instanceof Error ? error.cause : error;
    const name = cause instanceof Error ? cause.name : 'Error';
    const message = cause instanceof Error ? cause.message : String(cause);
    finish(registry, record, 'FAILED', { error: name, cause: message });
  }
}

/** End a RUNNING record once: its status, result and end event; then tell the listeners. */
function finish(registry: Registry, record: ExecutionRecord, status: EndStatus, result: EndResult): void {
  if (record.status !== 'RUNNING') {
    registry.running.delete(record.executionArn);
    return;
  }
  record.status = status;
  record.stopDate = new Date();
  if (result.output !== undefined) record.output = result.output;
  if (result.error !== undefined) record.error = result.error;
  if (result.cause !== undefined) record.cause = result.cause;
  addEndEvent(record, status, result);
  registry.running.delete(record.executionArn);
  const level = status === 'SUCCEEDED' ? 'debug' : 'info';
  registry.log[level](`execution ${status}`, {
    executionArn: record.executionArn,
    ...errorDetailsOf(result),
  });
  for (const listener of [...registry.endListeners]) {
    try {
      listener(record);
    } catch (error) {
      registry.log.error('an onExecutionEnd listener threw', { error: describeError(error) });
    }
  }
}

function stopExecution(
  registry: Registry,
  executionArn: string,
  details: { error?: string; cause?: string },
): { stopDate: Date } {
  const record = describeExecution(registry, executionArn);
  const running = registry.running.get(executionArn);
  if (record.status !== 'RUNNING' || running === undefined) {
    throw new StepFunctionsApiError(
      'ValidationException',
      `Execution ${executionArn} is not running (status ${record.status})`,
    );
  }
  finish(registry, record, 'ABORTED', errorDetailsOf(details));
  running.waits.abort();
  running.abort();
  return { stopDate: record.stopDate ?? new Date() };
}

async function abortAll(registry: Registry, cause = 'The local runtime is stopping'): Promise<void> {
  const running = [...registry.running.values()];
  for (const execution of running) {
    if (execution.record.status === 'RUNNING') {
      stopExecution(registry, execution.record.executionArn, { error: 'LocalRuntimeStopped', cause });
    }
  }
  await Promise.all(running.map((execution) => execution.done));
}

// ---- reading executions ------------------------------------------------------------------------

function describeExecution(registry: Registry, executionArn: string): ExecutionRecord {
  const record = registry.executions.get(executionArn);
  if (record === undefined) {
    validateArn(executionArn, 'execution');
    throw new StepFunctionsApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
  }
  return record;
}

function listExecutions(
  registry: Registry,
  filter: { stateMachineArn?: string; status?: ExecutionStatus },
): ExecutionRecord[] {
  if (filter.stateMachineArn !== undefined) machineOf(registry, filter.stateMachineArn);
  return [...registry.executions.values()]
    .filter((e) => filter.stateMachineArn === undefined || e.stateMachineArn === filter.stateMachineArn)
    .filter((e) => filter.status === undefined || e.status === filter.status)
    .sort((a, b) => b.startDate.getTime() - a.startDate.getTime());
}

function onExecutionEnd(registry: Registry, listener: (record: ExecutionRecord) => void): () => void {
  registry.endListeners.add(listener);
  return () => registry.endListeners.delete(listener);
}

function waitForExecution(
  registry: Registry,
  executionArn: string,
  options: { timeoutMs?: number },
): Promise<ExecutionRecord> {
  const record = describeExecution(registry, executionArn);
  if (record.status !== 'RUNNING') return Promise.resolve(record);
  const timeoutMs = options.timeoutMs ?? 120_000;
  return new Promise((resolve, reject) => {
    const unsubscribe = onExecutionEnd(registry, (ended) => {
      if (ended.executionArn !== executionArn) return;
      clearTimeout(timer);
      unsubscribe();
      resolve(ended);
    });
    const timer = setTimeout(() => {
      unsubscribe();
      const lastEvents = record.events
        .slice(-3)
        .map((e) => e.type)
        .join(', ');
      reject(
        new ExecutionWaitTimeoutError(
          `Execution ${executionArn} still RUNNING after ${timeoutMs} ms; last events: ${lastEvents}`,
        ),
      );
    }, timeoutMs);
  });
}
