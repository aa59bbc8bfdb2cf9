/** The Lambda host's public vocabulary (options, errors, the host) and the state its parts share. */
import type { Context } from 'aws-lambda';
import type { LambdaFaultKind } from '../faults/config';
import type { LocalLogger } from '../log';
import type { LocalFunction, LocalModel } from '../template';

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
  /** Injected Lambda faults (local/faults): none by default. */
  readonly faults?: LambdaFaults;
  /**
   * The runtime's time scale: the context's `getRemainingTimeInMillis()` counts down the function's
   * timeout × this (the simulated deadline, as the async retries' waits are scaled). The host's own
   * kill stays at the real timeout. Default 1.
   */
  readonly timeScale?: number;
}

/** Decides, per invocation, whether the runtime dies or times out (local/faults/injector.ts). */
export interface LambdaFaults {
  /** The fault this invocation of `handler` (its `phoenix:handler` name) meets, if any. */
  decide(handler: string): LambdaFaultKind | undefined;
  /** An injected timeout is reported after the function's timeout × this. */
  readonly timeScale: number;
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

/** What the invocations of one host share. */
export interface HostState {
  readonly model: LocalModel;
  readonly log: LocalLogger;
  /** Each function's handler, by logical ID. */
  readonly handlers: ReadonlyMap<string, Handler>;
  /** Invocations running now. */
  inFlight: number;
  /** Woken when `inFlight` drops to 0. */
  readonly idleWaiters: Set<() => void>;
  readonly faults?: LambdaFaults;
  /** The runtime's time scale (the context's simulated deadline). */
  readonly timeScale: number;
}
