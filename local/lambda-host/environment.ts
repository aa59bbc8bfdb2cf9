/**
 * The one process environment every function runs in: the template's function variables merged
 * (a conflict is an error), what makes the SDK reach the emulator and the local Step Functions
 * service, and the changes to process.env kept so that they can be undone.
 */
import { EnvironmentConflictError, type LambdaHostOptions } from './types';
import type { LocalFunction } from '../template';

/** Variables that name the function itself: each function's own value is set while its module loads. */
const PER_FUNCTION_VARIABLES = new Set(['POWERTOOLS_SERVICE_NAME', 'POWERTOOLS_METRICS_FUNCTION_NAME']);

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

/** The variables the host sets: the functions' shared ones, the region, the endpoints, quiet Powertools. */
export function hostEnvironment(
  options: LambdaHostOptions,
  shared: Readonly<Record<string, string>>,
): Record<string, string> {
  const { model } = options;
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
  return environment;
}

/** The host's changes to process.env: each changed key's value before the first change. */
export type EnvironmentChanges = Map<string, string | undefined>;

/** Set (or, with undefined, delete) a variable of process.env, remembering its first value. */
export function setEnv(changes: EnvironmentChanges, key: string, value: string | undefined): void {
  if (!changes.has(key)) changes.set(key, process.env[key]);
  if (value === undefined) delete process.env[key];
  else process.env[key] = value;
}

/** Put process.env back as it was before the first change. */
export function restoreEnvironment(changes: EnvironmentChanges): void {
  for (const [key, value] of changes) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  changes.clear();
}
