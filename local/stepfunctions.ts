/**
 * A small local Step Functions service: the state machines of the template, executed by
 * aws-local-stepfunctions, behind an HTTP endpoint speaking the AWS JSON 1.0 protocol of Step
 * Functions, plus an in-process API. Its rooms:
 *
 * - `stepfunctions/definition.ts`: what changes in a definition before the engine runs it (scaled
 *   waits and retries, path-based waits as local tasks) and what is refused;
 * - `stepfunctions/tasks.ts`: what a Task state runs (the template's Lambda functions, with or
 *   without `.waitForTaskToken`, `arn:aws:states:::states:startExecution` against the registry:
 *   continue-as-new);
 * - `stepfunctions/callbacks.ts`: the task tokens of the callback pattern (SendTaskSuccess…);
 * - `stepfunctions/executions.ts`: the registry of state machines and executions (the in-process API);
 * - `stepfunctions/history.ts`: the execution history;
 * - `stepfunctions/endpoint.ts`: the HTTP endpoint (`AWS_ENDPOINT_URL_SFN`).
 *
 * Time: waits and retry intervals are multiplied by timeScale; timeScale 1 = real time. Task and
 * execution timeouts are not scaled (task handlers run in real time), except those of callback
 * tasks (TimeoutSeconds, HeartbeatSeconds of a `.waitForTaskToken` task, which waits).
 */
import './polyfills';
import { createLogger } from './log';
import { startEndpoint, type StepFunctionsEndpoint } from './stepfunctions/endpoint';
import { type ApiBucket, ApiLimiter } from './stepfunctions/throttling';
import {
  createExecutionService,
  type ExecutionService,
  type ExecutionServiceOptions,
} from './stepfunctions/executions';

export {
  ExecutionWaitTimeoutError,
  InvalidDefinitionError,
  StepFunctionsApiError,
  UnsupportedTaskResourceError,
  validateName,
  type ExecutionRecord,
  type ExecutionStatus,
  type HistoryEvent,
  type LambdaInvoker,
  type StartExecutionRequest,
  type StateMachineRegistration,
} from './stepfunctions/api';
export { ignoredFeatures } from './stepfunctions/definition';
export type {
  ExecutionService,
  StateMachineDescription,
  StateMachineSummary,
} from './stepfunctions/executions';

export interface LocalStepFunctionsOptions extends ExecutionServiceOptions {
  /** Port of the HTTP endpoint. Default: a free port on 127.0.0.1. */
  readonly port?: number;
  /** API limits of the HTTP endpoint by action (stepFunctionsBuckets); none by default. */
  readonly buckets?: Readonly<Record<string, ApiBucket>>;
}

/** The execution service, served over HTTP. */
export interface LocalStepFunctions extends ExecutionService {
  /** `http://127.0.0.1:<port>`: set as `AWS_ENDPOINT_URL_SFN` or `--endpoint-url` of `aws stepfunctions`. */
  readonly endpoint: string;
  /** Abort running executions and close the HTTP endpoint. */
  close(): Promise<void>;
}

/** Create the service and start its HTTP endpoint. */
export async function startLocalStepFunctions(
  options: LocalStepFunctionsOptions,
): Promise<LocalStepFunctions> {
  const log = options.log ?? createLogger();
  const service = createExecutionService({ ...options, log });
  const endpoint = await startEndpoint(service, {
    port: options.port ?? 0,
    log,
    ...(options.buckets !== undefined ? { limiter: new ApiLimiter(options.buckets) } : {}),
  });
  return served(service, endpoint);
}

/** `LocalStepFunctions.start(options)`: the same as `startLocalStepFunctions(options)`. */
export const LocalStepFunctions = { start: startLocalStepFunctions } as const;

function served(service: ExecutionService, endpoint: StepFunctionsEndpoint): LocalStepFunctions {
  let closed = false;
  return {
    region: service.region,
    account: service.account,
    timeScale: service.timeScale,
    endpoint: endpoint.url,
    registerStateMachine: (registration) => service.registerStateMachine(registration),
    listStateMachines: () => service.listStateMachines(),
    describeStateMachine: (arn) => service.describeStateMachine(arn),
    startExecution: (request) => service.startExecution(request),
    describeExecution: (arn) => service.describeExecution(arn),
    listExecutions: (filter) => service.listExecutions(filter),
    stopExecution: (arn, details) => service.stopExecution(arn, details),
    sendTaskSuccess: (token, output) => service.sendTaskSuccess(token, output),
    sendTaskFailure: (token, failure) => service.sendTaskFailure(token, failure),
    sendTaskHeartbeat: (token) => service.sendTaskHeartbeat(token),
    onExecutionEnd: (listener) => service.onExecutionEnd(listener),
    waitForExecution: (arn, waitOptions) => service.waitForExecution(arn, waitOptions),
    get runningCount() {
      return service.runningCount;
    },
    abortAll: (cause) => service.abortAll(cause),
    async close() {
      if (closed) return;
      closed = true;
      await service.close();
      await endpoint.close();
    },
  };
}
