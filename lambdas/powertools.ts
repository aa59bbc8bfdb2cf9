/**
 * Powertools singletons and the middy wrapper every entry uses: structured logs with the Lambda
 * context, EMF metrics flushed per invocation (only when some were added), X-Ray tracing of the
 * handler. Log levels mean what they say: a handled outcome thrown as an error (the workflow
 * catches it and reports Rejected, RolledBack…) is INFO with its reason, a transient error (a
 * retry may cure it) WARN, and only what needs a human is ERROR with its stack.
 */
import middy, { type MiddlewareObj } from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import type { Context } from 'aws-lambda';
import { type ErrorName, ErrorNames } from './domain/errors';

export const logger = new Logger({ serviceName: 'phoenix' });
export const metrics = new Metrics({ namespace: 'Phoenix', serviceName: 'phoenix' });
export const tracer = new Tracer({ serviceName: 'phoenix' });

/**
 * Errors that are handled outcomes, not failures: the workflows catch them and end in a handled
 * outcome (`RolloutRejected`, `RolloutRolledBack`; a wait in line for `RolloutQueuedError` and
 * `RolloutSlotQueuedError`).
 * Everything else that is not transient (`RollbackStalledError` → RolloutFailed,
 * `ReplacementNotHealthyError` → ReplacementFailed, `ConfigurationError`, a malformed event or
 * record, any unexpected error) needs a human.
 */
export const HANDLED_OUTCOME_ERRORS: ReadonlySet<string> = new Set<ErrorName>([
  ErrorNames.ImageRejectedError,
  ErrorNames.FleetNotFoundError,
  ErrorNames.UnsupportedFleetError,
  ErrorNames.InvalidFleetSettingError,
  ErrorNames.FleetBusyError,
  ErrorNames.FleetPausedError,
  ErrorNames.RolloutQueuedError,
  ErrorNames.RolloutSlotQueuedError,
  ErrorNames.BatchNotHealthyError,
  ErrorNames.AlarmBreachedError,
  ErrorNames.RolloutTimedOutError,
  ErrorNames.OlderImageError,
  ErrorNames.ValidationTimedOutError,
]);

/** How a thrown error is logged: `info` (a handled outcome), `warn` (transient), `error` (a human is needed). */
export function logLevelOf(error: unknown): 'info' | 'warn' | 'error' {
  const name = error instanceof Error ? error.name : undefined;
  if (name === undefined) return 'error';
  if (HANDLED_OUTCOME_ERRORS.has(name)) return 'info';
  if (name === ErrorNames.TransientAwsError) return 'warn';
  return 'error';
}

/** Log what `name` threw at the level it deserves: a reason without a stack, or the error with its stack. */
export function logThrown(log: Logger, name: string, error: unknown): void {
  const level = logLevelOf(error);
  if (level === 'error') {
    log.error(`${name} failed`, error as Error);
    return;
  }
  const { name: errorName, message } = error as Error;
  const what = level === 'info' ? 'ended in a handled outcome' : 'hit a transient error (retried)';
  log[level](`${name} ${what}: ${errorName}`, { error: errorName, reason: message });
}

/**
 * Publish the metrics of one invocation, when some were added: Powertools' own `logMetrics`
 * publishes on every invocation and warns "No application metrics to publish" when there are none
 * (a failed step, an ignored event). Dimensions and metadata are cleared either way.
 */
export function publishMetrics(target: Metrics): MiddlewareObj {
  const flush = () => {
    if (target.hasStoredMetrics()) target.publishStoredMetrics();
    else {
      target.clearDimensions();
      target.clearMetadata();
    }
  };
  return { after: flush, onError: flush };
}

/** Wrap a domain handler with the Powertools middlewares. Errors are logged (see `logThrown`), then rethrown. */
export function wrap<E, R>(name: string, handler: (event: E, context: Context) => Promise<R>) {
  // No early timeout of middy's own: Lambda ends a function at its timeout (Sandbox.Timedout, which
  // the workflows retry); the remaining time only bounds what a handler claims (the intake's event).
  return middy(
    async (event: E, context: Context): Promise<R> => {
      try {
        return await handler(event, context);
      } catch (error) {
        logThrown(logger, name, error);
        throw error;
      }
    },
    { timeoutEarlyInMillis: 0 },
  )
    .use(captureLambdaHandler(tracer))
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(publishMetrics(metrics));
}

/** A workflow step request: which step, for which execution, with the workflow state. */
interface StepRequest {
  readonly step: string;
  readonly execution: string;
  readonly state?: { readonly fleet?: string };
}

/** The entry of a workflow-step function: logs each step with its keys and counts it by name. */
export function stepHandler<R extends StepRequest>(name: string, run: (request: R) => Promise<unknown>) {
  return wrap(name, async (request: R) => {
    logger.appendKeys({ step: request.step, execution: request.execution, fleet: request.state?.fleet });
    const result = await run(request);
    logger.info('step done', { result: result as Record<string, unknown> });
    metrics.addDimension('step', request.step);
    metrics.addMetric('StepsCompleted', MetricUnit.Count, 1);
    return result;
  });
}
