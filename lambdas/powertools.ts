/**
 * Powertools singletons and the middy wrapper every entry uses: structured logs with the Lambda
 * context, EMF metrics flushed per invocation, X-Ray tracing of the handler.
 */
import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import type { Context } from 'aws-lambda';

export const logger = new Logger({ serviceName: 'phoenix' });
export const metrics = new Metrics({ namespace: 'Phoenix', serviceName: 'phoenix' });
export const tracer = new Tracer({ serviceName: 'phoenix' });

/** Wrap a domain handler with the Powertools middlewares. Errors are logged with their name, then rethrown. */
export function wrap<E, R>(name: string, handler: (event: E, context: Context) => Promise<R>) {
  return middy(async (event: E, context: Context): Promise<R> => {
    try {
      return await handler(event, context);
    } catch (error) {
      logger.error(`${name} failed`, error as Error);
      throw error;
    }
  })
    .use(captureLambdaHandler(tracer))
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics));
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
