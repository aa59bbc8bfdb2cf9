/**
 * The HTTP endpoint of the local Step Functions service: the AWS JSON 1.0 protocol of Step
 * Functions (what `@aws-sdk/client-sfn` and the AWS CLI send), on 127.0.0.1. Handlers reach it
 * through `AWS_ENDPOINT_URL_SFN`.
 *
 * Operations: StartExecution, DescribeExecution, ListExecutions, StopExecution,
 * ListStateMachines, DescribeStateMachine, GetExecutionHistory (minimal), SendTaskSuccess,
 * SendTaskFailure, SendTaskHeartbeat (the callback pattern). API errors answer 400
 * with `__type: com.amazonaws.sfn#<code>`; anything else 500 `InternalFailure`. With a limiter
 * (the realism layer's API limits, ./throttling.ts), a call over its action's bucket answers 400
 * `ThrottlingException`.
 */
import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describeError, type LocalLogger } from '../log';
import { StepFunctionsApiError, type ExecutionStatus } from './api';
import type { ExecutionService } from './executions';
import type { ApiLimiter } from './throttling';

export interface StepFunctionsEndpoint {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Stop listening and close open connections. */
  close(): Promise<void>;
}

type RequestBody = Record<string, unknown>;
type Operation = (service: ExecutionService, body: RequestBody) => unknown;

/** Serve `service` on 127.0.0.1:`port` (0: a free port). */
export function startEndpoint(
  service: ExecutionService,
  options: { port: number; log: LocalLogger; limiter?: ApiLimiter },
): Promise<StepFunctionsEndpoint> {
  const server = http.createServer((request, response) => {
    void handleRequest(service, options.log, request, response, options.limiter);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: options.port }, () => {
      server.removeListener('error', reject);
      const address = server.address() as AddressInfo;
      resolve({ url: `http://127.0.0.1:${address.port}`, close: () => closeServer(server) });
    });
  });
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

async function handleRequest(
  service: ExecutionService,
  log: LocalLogger,
  request: http.IncomingMessage,
  response: http.ServerResponse,
  limiter?: ApiLimiter,
): Promise<void> {
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
    const { operation, body } = await readRequest(request);
    if (limiter !== undefined && !limiter.take(operation)) {
      throw new StepFunctionsApiError('ThrottlingException', 'Rate exceeded');
    }
    send(200, dispatch(service, operation, body));
  } catch (error) {
    if (error instanceof StepFunctionsApiError) {
      send(400, { __type: `com.amazonaws.sfn#${error.code}`, message: error.message });
    } else {
      log.error('local Step Functions request failed', { error: describeError(error) });
      send(500, { __type: 'com.amazonaws.sfn#InternalFailure', message: describeError(error) });
    }
  }
}

/** The operation (from `X-Amz-Target: AWSStepFunctions.<Operation>`) and the JSON body. */
async function readRequest(request: http.IncomingMessage): Promise<{ operation: string; body: RequestBody }> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const target = String(request.headers['x-amz-target'] ?? '');
  const operation = target.startsWith('AWSStepFunctions.') ? target.slice('AWSStepFunctions.'.length) : '';
  const raw = Buffer.concat(chunks).toString('utf8');
  try {
    return { operation, body: (raw === '' ? {} : JSON.parse(raw)) as RequestBody };
  } catch {
    throw new StepFunctionsApiError('SerializationException', 'The request body is not JSON');
  }
}

function dispatch(service: ExecutionService, operation: string, body: RequestBody): unknown {
  const run = OPERATIONS.get(operation);
  if (run === undefined) {
    throw new StepFunctionsApiError(
      'UnknownOperationException',
      `The local Step Functions service does not implement ${JSON.stringify(operation || '(no X-Amz-Target)')}`,
    );
  }
  return run(service, body);
}

// ---- operations --------------------------------------------------------------------------------

const OPERATIONS = new Map<string, Operation>([
  ['StartExecution', startExecution],
  ['DescribeExecution', describeExecution],
  ['ListExecutions', listExecutions],
  ['StopExecution', stopExecution],
  ['ListStateMachines', listStateMachines],
  ['DescribeStateMachine', describeStateMachine],
  ['GetExecutionHistory', getExecutionHistory],
  ['SendTaskSuccess', sendTaskSuccess],
  ['SendTaskFailure', sendTaskFailure],
  ['SendTaskHeartbeat', sendTaskHeartbeat],
]);

function sendTaskSuccess(service: ExecutionService, body: RequestBody): unknown {
  service.sendTaskSuccess(requiredString(body, 'taskToken'), requiredString(body, 'output'));
  return {};
}

function sendTaskFailure(service: ExecutionService, body: RequestBody): unknown {
  const error = optionalString(body, 'error');
  const cause = optionalString(body, 'cause');
  service.sendTaskFailure(requiredString(body, 'taskToken'), {
    ...(error !== undefined ? { error } : {}),
    ...(cause !== undefined ? { cause } : {}),
  });
  return {};
}

function sendTaskHeartbeat(service: ExecutionService, body: RequestBody): unknown {
  service.sendTaskHeartbeat(requiredString(body, 'taskToken'));
  return {};
}

function startExecution(service: ExecutionService, body: RequestBody): unknown {
  const name = optionalString(body, 'name');
  const input = optionalString(body, 'input');
  const result = service.startExecution({
    stateMachineArn: requiredString(body, 'stateMachineArn'),
    ...(name !== undefined ? { name } : {}),
    ...(input !== undefined ? { input } : {}),
  });
  return { executionArn: result.executionArn, startDate: epoch(result.startDate) };
}

function describeExecution(service: ExecutionService, body: RequestBody): unknown {
  const e = service.describeExecution(requiredString(body, 'executionArn'));
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

function listExecutions(service: ExecutionService, body: RequestBody): unknown {
  const stateMachineArn = optionalString(body, 'stateMachineArn');
  if (stateMachineArn === undefined) {
    throw new StepFunctionsApiError('ValidationException', 'stateMachineArn is required locally');
  }
  const status = optionalString(body, 'statusFilter') as ExecutionStatus | undefined;
  const { items, nextToken } = page(
    body,
    service.listExecutions({ stateMachineArn, ...(status !== undefined ? { status } : {}) }),
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

function stopExecution(service: ExecutionService, body: RequestBody): unknown {
  const error = optionalString(body, 'error');
  const cause = optionalString(body, 'cause');
  const result = service.stopExecution(requiredString(body, 'executionArn'), {
    ...(error !== undefined ? { error } : {}),
    ...(cause !== undefined ? { cause } : {}),
  });
  return { stopDate: epoch(result.stopDate) };
}

function listStateMachines(service: ExecutionService, body: RequestBody): unknown {
  const { items, nextToken } = page(body, service.listStateMachines());
  return {
    stateMachines: items.map((m) => ({ ...m, creationDate: epoch(m.creationDate) })),
    ...(nextToken !== undefined ? { nextToken } : {}),
  };
}

function describeStateMachine(service: ExecutionService, body: RequestBody): unknown {
  const m = service.describeStateMachine(requiredString(body, 'stateMachineArn'));
  return {
    stateMachineArn: m.stateMachineArn,
    name: m.name,
    status: 'ACTIVE',
    definition: m.definition,
    roleArn: m.roleArn,
    type: m.type,
    creationDate: epoch(m.creationDate),
  };
}

function getExecutionHistory(service: ExecutionService, body: RequestBody): unknown {
  const e = service.describeExecution(requiredString(body, 'executionArn'));
  const events = body.reverseOrder === true ? [...e.events].reverse() : e.events;
  const { items, nextToken } = page(body, events);
  return {
    events: items.map((event) => ({ ...event, timestamp: epoch(event.timestamp) })),
    ...(nextToken !== undefined ? { nextToken } : {}),
  };
}

// ---- request and response shapes ---------------------------------------------------------------

function requiredString(body: RequestBody, key: string): string {
  const value = body[key];
  if (typeof value !== 'string') {
    throw new StepFunctionsApiError('ValidationException', `${key} is required and must be a string`);
  }
  return value;
}

/** Absent: undefined; present but not a string: the same ValidationException as a missing required one. */
function optionalString(body: RequestBody, key: string): string | undefined {
  return body[key] === undefined ? undefined : requiredString(body, key);
}

/** Dates as the JSON protocol sends them: epoch seconds. */
function epoch(date: Date | undefined): number | undefined {
  return date === undefined ? undefined : date.getTime() / 1000;
}

/** `maxResults` (default 100) items from `nextToken` (an offset). */
function page<T>(body: RequestBody, items: T[]): { items: T[]; nextToken?: string } {
  const max = typeof body.maxResults === 'number' && body.maxResults > 0 ? body.maxResults : 100;
  const start = typeof body.nextToken === 'string' ? Number(body.nextToken) || 0 : 0;
  const slice = items.slice(start, start + max);
  return start + max < items.length ? { items: slice, nextToken: String(start + max) } : { items: slice };
}
