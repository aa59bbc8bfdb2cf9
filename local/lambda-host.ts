/**
 * Runs the template's Lambda functions in-process: each AWS::Lambda::Function is bound, through its
 * `phoenix:handler` metadata, to the module `lambdas/<handler>.ts` and invoked like Lambda would:
 * a JSON copy of the event, a realistic context, the function's timeout, and failures reported
 * the way Step Functions sees them (error name = errorType, message = the `Cause` JSON).
 *
 * The process environment carries what every function's environment says (resolved from the
 * template) plus what makes the SDK reach the emulator (`AWS_ENDPOINT_URL`) and the local Step
 * Functions service (`AWS_ENDPOINT_URL_SFN`). Its rooms:
 *
 * - `lambda-host/environment.ts`: the merged environment, set in process.env and restored;
 * - `lambda-host/load.ts`: importing every handler module at start;
 * - `lambda-host/invoke.ts`: one invocation (context, timeout, errors), the in-flight count;
 * - `lambda-host/types.ts`: options, errors, the host and the state its parts share.
 */
import * as path from 'node:path';
import { createLogger } from './log';
import { REPO_ROOT } from './python-env';
import {
  type EnvironmentChanges,
  hostEnvironment,
  mergeFunctionEnvironments,
  restoreEnvironment,
  setEnv,
} from './lambda-host/environment';
import { idle, invoke } from './lambda-host/invoke';
import { loadHandlers } from './lambda-host/load';
import type { HostState, LambdaHost, LambdaHostOptions } from './lambda-host/types';

export { mergeFunctionEnvironments } from './lambda-host/environment';
export { errorShape } from './lambda-host/invoke';
export {
  EnvironmentConflictError,
  FunctionNotFoundError,
  type Handler,
  HandlerModuleError,
  type InvokeOptions,
  LambdaFunctionError,
  type LambdaHost,
  type LambdaFaults,
  type LambdaHostOptions,
} from './lambda-host/types';

/** Create the host: set the environment, import every handler module. */
export async function createLambdaHost(options: LambdaHostOptions): Promise<LambdaHost> {
  const log = options.log ?? createLogger();
  const { model } = options;
  const handlersDir = options.handlersDir ?? path.join(REPO_ROOT, 'lambdas');
  const { shared, perFunction } = mergeFunctionEnvironments(model.functions);
  const environment = hostEnvironment(options, shared);
  const changes: EnvironmentChanges = new Map();
  for (const [key, value] of Object.entries(environment)) setEnv(changes, key, value);

  let handlers: HostState['handlers'];
  try {
    handlers = await loadHandlers(model.functions, handlersDir, perFunction, changes, log);
  } catch (error) {
    restoreEnvironment(changes);
    throw error;
  }

  const state: HostState = {
    model,
    log,
    handlers,
    inFlight: 0,
    idleWaiters: new Set(),
    timeScale: options.timeScale ?? 1,
    ...(options.faults !== undefined ? { faults: options.faults } : {}),
  };
  return {
    functions: model.functions,
    environment,
    resolveFunction: (nameOrArn) => model.findFunction(nameOrArn),
    invoke: (nameOrArn, payload, invokeOptions) => invoke(state, nameOrArn, payload, invokeOptions),
    get inFlight() {
      return state.inFlight;
    },
    idle: (timeoutMs = 30_000) => idle(state, timeoutMs),
    restoreEnvironment: () => restoreEnvironment(changes),
  };
}
