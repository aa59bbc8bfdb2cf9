/** Rollout workflow, fleet steps (EC2 + Auto Scaling). */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logger, metrics, wrap } from './powertools';
import { type FleetStepRequest, runFleetStep } from './steps/fleet';

export const handler = wrap('rollout-fleet', async (request: FleetStepRequest) => {
  logger.appendKeys({ step: request.step, execution: request.execution, fleet: request.state?.fleet });
  const result = await runFleetStep(request);
  logger.info('step done', { result: result as Record<string, unknown> });
  metrics.addDimension('step', request.step);
  metrics.addMetric('StepsCompleted', MetricUnit.Count, 1);
  return result;
});
