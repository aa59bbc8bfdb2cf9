/** Rollout workflow, record steps (DynamoDB + EventBridge). */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logger, metrics, wrap } from './powertools';
import { type RecordStepRequest, runRecordStep } from './steps/record';

export const handler = wrap('rollout-record', async (request: RecordStepRequest) => {
  logger.appendKeys({ step: request.step, execution: request.execution, fleet: request.state?.fleet });
  const result = await runRecordStep(request);
  logger.info('step done', { result: result as Record<string, unknown> });
  metrics.addDimension('step', request.step);
  metrics.addMetric('StepsCompleted', MetricUnit.Count, 1);
  return result;
});
