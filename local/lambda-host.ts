/**
 * Runs the template's Lambda functions in-process: each AWS::Lambda::Function is bound, through its
 * `phoenix:handler` metadata, to the module `lambdas/<handler>.ts` and invoked like Lambda would:
 * a JSON copy of the event, a realistic context, the function's timeout, and failures reported
 * the way Step Functions sees them (error name = errorType, message = the `Cause` JSON).
 *
 * The process environment carries what every function's environment says (resolved from the
 * template) plus what makes the SDK reach the emulator (`AWS_ENDPOINT_URL`) and the local Step
 * Functions service (`AWS_ENDPOINT_URL_SFN`).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import { inHandlerContext } from '../lambdas/aws/call-context';
import { createLogger, type LocalLogger } from './log';
import { REPO_ROOT } from './python-env';
import type { LocalFunction, LocalModel } from './template';

/** Two functions of the template set one environment variable to different values. */
export class EnvironmentConflictError extends Error {
  override readonly name = 'EnvironmentConflictError';
}
/** A function's module is missing or exports no `handler` function. */
export class HandlerModuleError extends Error {
  override readonly name = 'HandlerModuleError';
}
/** No function of the template has this name or ARN. */
export class FunctionNotFoundError extends Error {
  override readonly name = 'FunctionNotFoundError';
}

/**
 * A failed invocation, as Lambda reports it: `name` is the error type (the handler's error name),
 * `message` is `{"errorType": ..., "errorMessage": ...}`, exactly the `Cause` Step Functions
 * records, so Retry/Catch match on the names they would match in AWS.
 */
export class LambdaFunctionError extends Error {
  readonly errorType: string;
  readonly errorMessage: string;
  readonly functionName: string;
  readonly requestId: string;

  constructor(details: {
    errorType: string;
    errorMessage: string;
    functionName: string;
    requestId: string;
    cause?: unknown;
  }) {
    super(JSON.stringify({ errorType: details.errorType, errorMessage: details.errorMessage }), {
      cause: details.cause,
    });
    this.name = details.errorType;
    this.errorType = details.errorType;
    this.errorMessage = details.errorMessage;
    this.functionName = details.functionName;
    this.requestId = details.requestId;
  }
}

/** Variables that name the function itself: each function's own value is set while its module loads. */
const PER_FUNCTION_VARIABLES = new Set(['POWERTOOLS_SERVICE_NAME', 'POWERTOOLS_METRICS_FUNCTION_NAME']);

export type Handler = (
  event: unknown,
  context: Context,
  callback?: (error?: unknown, result?: unknown) => void,
) => unknown;

export interface LambdaHostOptions {
  readonly model: LocalModel;
  /** The emulator: `AWS_ENDPOINT_URL`. */
  readonly emulatorEndpoint: string;
  /** The local Step Functions service: `AWS_ENDPOINT_URL_SFN`. */
  readonly stepFunctionsEndpoint?: string;
  /** Where handler modules live: `<dir>/<handler>.ts`. Default `<root>/lambdas`. */
  readonly handlersDir?: string;
  readonly log?: LocalLogger;
}

export interface InvokeOptions {
  /** Called with the request id before the handler runs. */
  readonly onStart?: (requestId: string) => void;
}

export interface LambdaHost {
  readonly functions: readonly LocalFunction[];
  /** The variables this host set in process.env. */
  readonly environment: Readonly<Record<string, string>>;
  /** The function of this name or (qualified) ARN. */
  resolveFunction(nameOrArn: string): LocalFunction | undefined;
  /** Invoke synchronously (RequestResponse): the handler's result, or a LambdaFunctionError. */
  invoke(nameOrArn: string, payload: unknown, options?: InvokeOptions): Promise<unknown>;
  /** Invocations running now. */
  readonly inFlight: number;
  /** Resolves when no invocation is running (or after `timeoutMs`; then resolves false). */
  idle(timeoutMs?: number): Promise<boolean>;
  /** Put process.env back as it was before this host. */
  restoreEnvironment(): void;
}

/** The environment every function's variables merge into; throws EnvironmentConflictError. */
export function mergeFunctionEnvironments(functions: readonly LocalFunction[]): {
  shared: Record<string, string>;
  perFunction: Map<string, Record<string, string>>;
} {
  const shared: Record<string, string> = {};
  const owner: Record<string, string> = {};
  const perFunction = new Map<string, Record<string, string>>();
  const conflicts: string[] = [];
  for (const fn of functions) {
    const own: Record<string, string> = {};
    for (const [key, value] of Object.entries(fn.environment)) {
      if (PER_FUNCTION_VARIABLES.has(key)) {
        own[key] = value;
        continue;
      }
      if (key in shared && shared[key] !== value) {
        conflicts.push(
          `${key}: ${owner[key]} sets ${JSON.stringify(shared[key])}, ${fn.logicalId} sets ${JSON.stringify(value)}`,
        );
        continue;
      }
      shared[key] = value;
      owner[key] = fn.logicalId;
    }
    perFunction.set(fn.logicalId, own);
  }
  // A per-function variable that every function sets alike is simply shared.
  for (const key of PER_FUNCTION_VARIABLES) {
    const values = functions.map((fn) => perFunction.get(fn.logicalId)?.[key]);
    const first = values[0];
    if (first !== undefined && values.every((value) => value === first)) {
      shared[key] = first;
      for (const own of perFunction.values()) delete own[key];
    }
  }
  if (conflicts.length > 0) {
    throw new EnvironmentConflictError(
      `The local runtime runs every function in one process, with one environment, but the template's functions disagree: ${conflicts.join('; ')}`,
    );
  }
  return { shared, perFunction };
}

/** Create the host: set the environment, import every handler module. */
export async function createLambdaHost(options: LambdaHostOptions): Promise<LambdaHost> {
  const log = options.log ?? createLogger();
  const { model } = options;
  const handlersDir = options.handlersDir ?? path.join(REPO_ROOT, 'lambdas');
  const { shared, perFunction } = mergeFunctionEnvironments(model.functions);

  const environment: Record<string, string> = { ...shared };
  const setDefault = (key: string, value: string) => {
    if (environment[key] === undefined && process.env[key] === undefined) environment[key] = value;
  };
  environment.AWS_REGION = model.region;
  environment.AWS_DEFAULT_REGION = model.region;
  environment.AWS_ENDPOINT_URL = options.emulatorEndpoint;
  if (options.stepFunctionsEndpoint !== undefined)
    environment.AWS_ENDPOINT_URL_SFN = options.stepFunctionsEndpoint;
  if (process.env.AWS_ACCESS_KEY_ID === undefined) {
    environment.AWS_ACCESS_KEY_ID = 'testing';
    environment.AWS_SECRET_ACCESS_KEY = 'testing';
  }
  environment.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  environment.POWERTOOLS_TRACE_ENABLED = 'false'; // no X-Ray daemon locally
  setDefault('POWERTOOLS_METRICS_DISABLED', 'true'); // no EMF blobs on stdout
  setDefault('POWERTOOLS_LOG_LEVEL', 'WARN');

  const previous = new Map<string, string | undefined>();
  const setEnv = (key: string, value: string | undefined) => {
    if (!previous.has(key)) previous.set(key, process.env[key]);
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  };
  for (const [key, value] of Object.entries(environment)) setEnv(key, value);
  const restoreEnvironment = () => {
    for (const [key, value] of previous) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    previous.clear();
  };

  // Import every module now: a broken handler fails the start, not the first event.
  const handlers = new Map<string, Handler>();
  try {
    for (const fn of model.functions) {
      const file = path.join(handlersDir, `${fn.handler}.ts`);
      if (!existsSync(file)) {
        throw new HandlerModuleError(
          `Function ${fn.logicalId} names handler ${JSON.stringify(fn.handler)}, but ${file} does not exist`,
        );
      }
      const own = perFunction.get(fn.logicalId) ?? {};
      const saved = Object.fromEntries(Object.keys(own).map((key) => [key, process.env[key]]));
      for (const [key, value] of Object.entries(own)) setEnv(key, value);
      let loaded: unknown;
      const started = Date.now();
      try {
        loaded = await loadModule(file);
      } catch (error) {
        throw new HandlerModuleError(
          `Could not load ${file} (function ${fn.logicalId}): ${describe(error)}`,
          {
            cause: error,
          },
        );
      } finally {
        for (const [key, value] of Object.entries(saved)) setEnv(key, value);
      }
      const handler = findHandler(loaded);
      if (handler === undefined) {
        throw new HandlerModuleError(
          `${file} (function ${fn.logicalId}) exports no function named "handler"`,
        );
      }
      handlers.set(fn.logicalId, handler);
      log.debug('handler loaded', { function: fn.name, module: file, ms: Date.now() - started });
    }
  } catch (error) {
    restoreEnvironment();
    throw error;
  }

  let inFlight = 0;
  const idleWaiters = new Set<() => void>();
  const settle = () => {
    inFlight--;
    if (inFlight === 0) for (const wake of [...idleWaiters]) wake();
  };

  const invoke = async (
    nameOrArn: string,
    payload: unknown,
    invokeOptions: InvokeOptions = {},
  ): Promise<unknown> => {
    const fn = model.findFunction(nameOrArn);
    if (fn === undefined) {
      throw new FunctionNotFoundError(
        `No function ${JSON.stringify(nameOrArn)} in the template (functions: ${model.functions.map((f) => f.name).join(', ')})`,
      );
    }
    const handler = handlers.get(fn.logicalId)!;
    const requestId = randomUUID();
    const timeoutMs = fn.timeoutSeconds * 1000;
    const deadline = Date.now() + timeoutMs;
    const context = lambdaContext(fn, requestId, deadline);
    // Lambda hands the handler a deserialized copy: no shared references with the caller.
    const event = JSON.parse(JSON.stringify(payload ?? null)) as unknown;
    invokeOptions.onStart?.(requestId);
    inFlight++;
    let timer: NodeJS.Timeout | undefined;
    try {
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
      return result === undefined ? null : (JSON.parse(JSON.stringify(result)) as unknown);
    } catch (error) {
      if (error instanceof LambdaFunctionError) {
        if (error.errorType === 'Sandbox.Timedout') {
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
      settle();
    }
  };

  return {
    functions: model.functions,
    environment,
    resolveFunction: (nameOrArn) => model.findFunction(nameOrArn),
    invoke,
    get inFlight() {
      return inFlight;
    },
    idle(timeoutMs = 30_000) {
      if (inFlight === 0) return Promise.resolve(true);
      return new Promise<boolean>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          idleWaiters.delete(wake);
          resolve(true);
        };
        const timer = setTimeout(() => {
          idleWaiters.delete(wake);
          resolve(false);
        }, timeoutMs);
        idleWaiters.add(wake);
      });
    },
    restoreEnvironment,
  };
}

function findHandler(loaded: unknown): Handler | undefined {
  const mod = loaded as { handler?: unknown; default?: { handler?: unknown } } | undefined;
  if (typeof mod?.handler === 'function') return mod.handler as Handler;
  if (typeof mod?.default?.handler === 'function') return mod.default.handler as Handler;
  return undefined;
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

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * Load a handler module from its TypeScript source: through `require` where a TypeScript hook for
 * require is registered (the `phoenix` CLI registers tsx's), else through `import()` (vitest
 * transforms what it imports).
 */
async function loadModule(file: string): Promise<unknown> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  if (require.extensions['.ts'] !== undefined) return require(file) as unknown;
  return import(pathToFileURL(file).href);
}
