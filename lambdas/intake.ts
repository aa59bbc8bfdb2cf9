/** Intake Lambda: EventBridge rules deliver image publications here. */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logger, metrics, wrap } from './powertools';
import { runIntake } from './steps/intake';

export const handler = wrap('intake', async (event: unknown) => {
  const result = await runIntake(event);
  if (result.intent === 'ignore') {
    logger.info('event ignored', { reason: result.reason });
    metrics.addMetric('EventsIgnored', MetricUnit.Count, 1);
  } else {
    logger.info('rollouts started', {
      imageId: result.imageId,
      channel: result.channel,
      started: result.started,
      replacements: result.replacements,
    });
    metrics.addMetric('RolloutsStarted', MetricUnit.Count, result.started.filter((s) => !s.duplicate).length);
    const replacements = (result.replacements ?? []).filter((r) => r.requested && r.duplicate === false);
    if (replacements.length > 0)
      metrics.addMetric('ReplacementsStarted', MetricUnit.Count, replacements.length);
  }
  return result;
});
